"""Shares of a total that add up to it exactly, whatever the rounding."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.numbers import rounded_to_total, shares_by_weight

CENT = Decimal("0.01")


def test_fees_split_by_contracts_add_up_to_the_fees():
    assert shares_by_weight([1, 1, 1], Decimal("1.00"), CENT) == [
        Decimal("0.33"),
        Decimal("0.33"),
        Decimal("0.34"),
    ]
    assert shares_by_weight([], Decimal("1"), CENT) == []


def test_the_last_part_takes_what_rounding_left():
    parts = rounded_to_total([Decimal("10.005"), Decimal("9.995")], Decimal("20.00"), CENT)
    assert parts == [Decimal("10.00"), Decimal("10.00")]


@given(
    st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5),
    st.decimals(min_value=-10_000, max_value=10_000, places=4, allow_nan=False),
)
def test_shares_always_sum_to_the_total(weights, total):
    shares = shares_by_weight(weights, total, CENT)
    assert len(shares) == len(weights)
    assert sum(shares) == total
    assert all(share == share.quantize(CENT) for share in shares[:-1])
