"""Exit prices from specs: rounding toward safety and refusal of illogical pairs."""

from decimal import Decimal

import pytest

from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.oco import exit_prices
from app.domain.vocabulary import Side

Q = Decimal("0.25")


def ticks(n):
    return ExitSpec(OffsetUnit.TICKS, Decimal(n))


def points(n):
    return ExitSpec(OffsetUnit.POINTS, Decimal(str(n)))


def percent(n):
    return ExitSpec(OffsetUnit.PERCENT, Decimal(str(n)))


def price(n):
    return ExitSpec(OffsetUnit.PRICE, Decimal(str(n)))


def test_long_bracket_in_ticks_and_points():
    prices = exit_prices(Side.BUY, Decimal("5000.25"), Q, ticks(16), points(4))
    assert prices.take_profit == Decimal("5004.25")
    assert prices.stop_loss == Decimal("4996.25")


def test_short_bracket_mirrors():
    prices = exit_prices(Side.SELL, Decimal("5000.25"), Q, ticks(16), points(4))
    assert prices.take_profit == Decimal("4996.25")
    assert prices.stop_loss == Decimal("5004.25")


def test_percent_rounds_toward_the_entry():
    # 0.1% of 5000.25 = 5.00025: long TP 5005.25025 → 5005.25, SL 4995.24975 → 4995.25
    prices = exit_prices(Side.BUY, Decimal("5000.25"), Q, percent("0.1"), percent("0.1"))
    assert prices == type(prices)(Decimal("5005.25"), Decimal("4995.25"))
    short = exit_prices(Side.SELL, Decimal("5000.25"), Q, percent("0.1"), percent("0.1"))
    assert short == type(prices)(Decimal("4995.25"), Decimal("5005.25"))


def test_absolute_prices_are_checked_against_the_side():
    with pytest.raises(DomainValidationError) as caught:
        exit_prices(Side.BUY, Decimal(5000), Q, None, price(5001))
    assert caught.value.field == "stop_loss"
    with pytest.raises(DomainValidationError) as caught:
        exit_prices(Side.BUY, Decimal(5000), Q, price(4999), None)
    assert caught.value.field == "take_profit"


def test_a_price_level_sent_as_points_is_refused():
    with pytest.raises(DomainValidationError) as caught:
        exit_prices(Side.BUY, Decimal(5000), Q, None, points(4990))
    assert "more than 25%" in caught.value.message


def test_one_sided_brackets():
    assert exit_prices(Side.BUY, Decimal(100), Decimal("0.01"), None, ticks(10)).take_profit is None
    assert exit_prices(Side.SELL, Decimal(100), Decimal("0.01"), ticks(10), None).stop_loss is None
