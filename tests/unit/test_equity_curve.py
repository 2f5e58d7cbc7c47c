"""Drawdowns under an equity curve, against a hand computation and as properties."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.equity_curve import drawdowns


def test_a_curve_by_hand():
    curve = [Decimal(v) for v in ("50000", "50250.50", "49900.50", "50100", "50400", "50300")]
    assert drawdowns(curve) == [Decimal(v) for v in ("0", "0", "350.00", "150.50", "0", "100")]


def test_an_empty_curve_has_none():
    assert drawdowns([]) == []


money = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)


@given(st.lists(money, max_size=50))
def test_a_drawdown_is_never_negative_and_zero_at_each_new_high(curve):
    found = drawdowns(curve)
    assert len(found) == len(curve)
    assert all(d >= 0 for d in found)
    for i, equity in enumerate(curve):
        assert curve[i] + found[i] == max(curve[: i + 1])
        if equity >= max(curve[: i + 1]):
            assert found[i] == 0
