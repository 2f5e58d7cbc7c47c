"""OCO pairs of price levels: which pairs make sense, and which leg a print reaches."""

from decimal import Decimal

import pytest

from app.domain.errors import DomainValidationError
from app.domain.oco import OcoLeg, check_pair, touched
from app.domain.vocabulary import Side

Q = Decimal("0.25")
D = Decimal


def test_a_long_pair_has_the_stop_below_and_the_target_above_the_market():
    levels = check_pair(Side.BUY, D("5000"), Q, D("5010"), D("4990"))
    assert (levels.take_profit, levels.stop_loss) == (D("5010"), D("4990"))
    check_pair(Side.SELL, D("5000"), Q, D("4990"), D("5010"))


@pytest.mark.parametrize(
    ("side", "take_profit", "stop_loss", "field", "words"),
    [
        (Side.BUY, "4995", "4990", "take_profit_price", "above the market"),
        (Side.BUY, "5010", "5005", "stop_loss_price", "below the market"),
        (Side.BUY, "5010", "5000", "stop_loss_price", "below the market"),
        (Side.SELL, "5005", "5010", "take_profit_price", "below the market"),
        (Side.SELL, "4990", "4995", "stop_loss_price", "above the market"),
        (Side.BUY, "5010.1", "4990", "take_profit_price", "tick grid"),
        (Side.BUY, "5010", "3000", "stop_loss_price", "25%"),
    ],
)
def test_illogical_pairs_are_refused_naming_the_leg(side, take_profit, stop_loss, field, words):
    with pytest.raises(DomainValidationError) as caught:
        check_pair(side, D("5000"), Q, D(take_profit), D(stop_loss))
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("side", "price", "leg"),
    [
        (Side.BUY, "5010", OcoLeg.TAKE_PROFIT),
        (Side.BUY, "5012", OcoLeg.TAKE_PROFIT),
        (Side.BUY, "4990", OcoLeg.STOP_LOSS),
        (Side.BUY, "4980", OcoLeg.STOP_LOSS),  # a gap through the stop
        (Side.BUY, "5000", None),
        (Side.SELL, "4990", OcoLeg.TAKE_PROFIT),
        (Side.SELL, "5010", OcoLeg.STOP_LOSS),
        (Side.SELL, "5000", None),
    ],
)
def test_a_print_touches_at_most_one_leg(side, price, leg):
    take_profit, stop_loss = (D("5010"), D("4990")) if side is Side.BUY else (D("4990"), D("5010"))
    assert touched(side, D(price), take_profit, stop_loss) is leg
