"""Trader sizing and target positions."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.sizing import (
    Intent,
    Sizing,
    governing_intent,
    stated_change,
    target_position,
)

ONE = Sizing()


@pytest.mark.parametrize(
    ("intent", "current", "sizing", "qty", "target", "expected"),
    [
        (Intent.BUY, 0, ONE, 2, None, 2),
        (Intent.BUY, 1, Sizing(Decimal(2)), 2, None, 5),
        (Intent.SELL, 2, ONE, 2, None, 0),
        (Intent.SELL, 1, ONE, 3, None, -2),
        (Intent.SELL, 0, Sizing(fixed_quantity=3), 1, None, -3),
        (Intent.EXIT, 3, ONE, None, None, 0),
        (Intent.EXIT, -2, Sizing(Decimal(5)), 9, None, 0),
        (Intent.REVERSE, 2, ONE, None, None, -2),
        (Intent.REVERSE, -3, ONE, 1, None, 1),
        (Intent.REVERSE, 2, Sizing(Decimal(2)), 1, None, -2),
        (Intent.REVERSE, 0, ONE, 1, None, 0),
        (Intent.SYNC, 1, ONE, None, -2, -2),
        (Intent.SYNC, 1, Sizing(Decimal(3)), None, 2, 6),
        (Intent.SYNC, -1, Sizing(fixed_quantity=1), None, 5, 1),
        (Intent.SYNC, 4, ONE, None, 0, 0),
    ],
)
def test_target_position(intent, current, sizing, qty, target, expected):
    assert target_position(intent, current, sizing, qty, target) == expected


@pytest.mark.parametrize(
    ("action", "position_sync", "target", "expected"),
    [
        (Intent.BUY, True, 2, Intent.SYNC),  # TradingView's message: action and target
        (Intent.SELL, True, -2, Intent.SYNC),
        (Intent.SELL, True, 0, Intent.SYNC),
        (Intent.EXIT, True, 1, Intent.SYNC),
        (Intent.EXIT, True, None, Intent.EXIT),  # no target stated: the action's own
        (Intent.SYNC, True, 3, Intent.SYNC),
        (Intent.BUY, False, 2, Intent.BUY),  # orders mode: the action governs
        (Intent.REVERSE, False, -1, Intent.REVERSE),
        (Intent.SYNC, False, 3, Intent.SYNC),  # no action at all: a target in either mode
    ],
)
def test_governing_intent(action, position_sync, target, expected):
    assert governing_intent(action, position_sync, target) is expected


def test_a_position_sync_buy_from_flat_ends_at_the_target_not_the_quantity():
    intent = governing_intent(Intent.BUY, True, 2)
    assert target_position(intent, 0, ONE, 1, 2) == 2
    assert target_position(intent, 2, ONE, 1, 2) == 2  # the same alert again: nothing
    assert target_position(governing_intent(Intent.SELL, True, 2), 3, ONE, 3, 2) == 2


@pytest.mark.parametrize(
    ("intent", "sizing", "qty", "expected"),
    [
        (Intent.BUY, ONE, 2, 2),
        (Intent.SELL, ONE, 2, -2),
        (Intent.SELL, Sizing(Decimal(3)), 1, -3),
        (Intent.BUY, Sizing(fixed_quantity=4), 1, 4),
        (Intent.BUY, Sizing(Decimal("0.5")), 1, 0),
        (Intent.EXIT, ONE, 2, None),  # how much to close depends on the position
        (Intent.REVERSE, ONE, 2, None),
        (Intent.SYNC, ONE, None, None),
    ],
)
def test_stated_change_is_known_only_for_buy_and_sell(intent, sizing, qty, expected):
    assert stated_change(intent, sizing, qty) == expected


def test_fractional_multiplier_rounds_down():
    assert Sizing(Decimal("0.5")).scale(1) == 0
    assert Sizing(Decimal("0.5")).scale(3) == 1
    assert Sizing(Decimal("1.5")).scale(3) == 4


@given(
    st.sampled_from(list(Intent)),
    st.integers(-50, 50),
    st.integers(1, 20),
    st.integers(-20, 20),
    st.decimals(min_value=Decimal("0.1"), max_value=Decimal(10), places=2),
)
def test_exit_reverse_and_sync_never_depend_on_order_of_previous_alerts(
    intent, current, qty, target, multiplier
):
    """Idempotence: a second identical exit/reverse-from-result/sync alert orders nothing."""
    sizing = Sizing(multiplier)
    after = target_position(intent, current, sizing, qty, target)
    if intent in (Intent.EXIT, Intent.SYNC):
        assert target_position(intent, after, sizing, qty, target) == after
