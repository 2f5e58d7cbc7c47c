"""Settling an alert a crash left `received`, from its orders' reconciled states."""

import pytest

from app.domain.settlement import settled_status
from app.domain.vocabulary import EventStatus, OrderStatus

PENDING, WORKING, FILLED = OrderStatus.PENDING, OrderStatus.WORKING, OrderStatus.FILLED
CANCELLED, REJECTED, FAILED = OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([], EventStatus.EXPIRED),  # stopped before ordering: not acted on now
        ([FILLED], EventStatus.EXECUTED),
        ([WORKING], EventStatus.EXECUTED),
        ([FILLED, PENDING, WORKING], EventStatus.EXECUTED),  # entry, held exit, live exit
        ([FILLED, CANCELLED, FILLED], EventStatus.EXECUTED),  # a bracket already closed
        ([FAILED], EventStatus.FAILED),  # never reached the broker
        ([REJECTED], EventStatus.FAILED),
        ([None], EventStatus.FAILED),  # could not be checked: not claimed as executed
        ([REJECTED, None], EventStatus.FAILED),
        ([FILLED, FAILED], EventStatus.PARTIALLY_EXECUTED),  # two traders, one through
        ([WORKING, None], EventStatus.PARTIALLY_EXECUTED),
    ],
)
def test_settled_status(orders, expected):
    assert settled_status(orders) is expected


def test_the_order_of_the_orders_does_not_matter():
    assert settled_status([FAILED, FILLED]) is settled_status([FILLED, FAILED])
