"""Slippage from the alert's price: the trader's sign, exact money, ticks per contract."""

from decimal import Decimal

from app.domain.contracts import spec_for
from app.domain.slippage import Slippage, combined, of_fill
from app.domain.vocabulary import Side

MES = spec_for("MES")
ZN = spec_for("ZN")


def test_a_buy_above_and_a_sell_below_the_alert_are_worse_for_the_trader():
    assert of_fill(Side.BUY, Decimal("6000"), Decimal("6000.5"), 2, MES) == Slippage(
        2, Decimal("2"), Decimal("5.00")
    )
    assert of_fill(Side.SELL, Decimal("6000"), Decimal("6000.25"), 1, MES).ticks == -1


def test_money_stays_exact_for_a_fractional_tick_value():
    found = of_fill(Side.BUY, Decimal("110.5"), Decimal("110.515625"), 3, ZN)
    assert found.ticks == 1 and found.amount == Decimal("46.875")  # 3 × $15.625


def test_fills_combine_by_contracts():
    parts = [
        of_fill(Side.BUY, Decimal("6000"), Decimal("6000.25"), 1, MES),
        of_fill(Side.BUY, Decimal("6000"), Decimal("6000.5"), 2, MES),
    ]
    assert combined(parts) == Slippage(3, Decimal("1.67"), Decimal("6.25"))
    assert combined([]) is None
