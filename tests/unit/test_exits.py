"""Exit specs as traders write them (DESIGN §5.2)."""

from decimal import Decimal

import pytest

from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit, TrailingSpec, parse_exit, parse_trailing


@pytest.mark.parametrize(
    ("value", "unit", "amount"),
    [
        ({"ticks": 16}, OffsetUnit.TICKS, Decimal(16)),
        ({"ticks": "16"}, OffsetUnit.TICKS, Decimal(16)),
        ({"points": 4.5}, OffsetUnit.POINTS, Decimal("4.5")),
        ({"percent": "0.2"}, OffsetUnit.PERCENT, Decimal("0.2")),
        ({"price": "5012.25"}, OffsetUnit.PRICE, Decimal("5012.25")),
        (4, OffsetUnit.POINTS, Decimal(4)),
        ("2.5", OffsetUnit.POINTS, Decimal("2.5")),
        ({"ticks": 8, "points": None}, OffsetUnit.TICKS, Decimal(8)),
    ],
)
def test_exit_spec_accepts_every_unit(value, unit, amount):
    assert parse_exit(value, "take_profit") == ExitSpec(unit, amount)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"ticks": -3}, "take_profit.ticks"),
        ({"ticks": 0}, "take_profit.ticks"),
        ({"ticks": 2.5}, "take_profit.ticks"),
        ({"points": "abc"}, "take_profit.points"),
        ({"percent": 100}, "take_profit.percent"),
        ({"ticks": 1, "points": 2}, "take_profit"),
        ({}, "take_profit"),
        ({"pips": 4}, "take_profit"),
        (True, "take_profit"),
        ("{{close}}", "take_profit"),
        (float("nan"), "take_profit"),
        ([4], "take_profit"),
    ],
)
def test_exit_spec_rejects_with_the_field_named(value, field):
    with pytest.raises(DomainValidationError) as caught:
        parse_exit(value, "take_profit")
    assert caught.value.field == field


def test_trailing_stop_with_activation():
    spec = parse_trailing({"percent": 0.2, "activation": {"ticks": 8}}, "trailing_stop")
    assert spec == TrailingSpec(
        ExitSpec(OffsetUnit.PERCENT, Decimal("0.2")), ExitSpec(OffsetUnit.TICKS, Decimal(8))
    )
    assert spec.to_json() == {"percent": "0.2", "activation": {"ticks": "8"}}


def test_trailing_stop_is_a_distance_never_a_price():
    with pytest.raises(DomainValidationError) as caught:
        parse_trailing({"price": 5000}, "trailing_stop")
    assert caught.value.field == "trailing_stop"


def test_trailing_activation_may_be_a_price():
    spec = parse_trailing({"ticks": 10, "activation": {"price": "5010.5"}}, "trailing_stop")
    assert spec.activation == ExitSpec(OffsetUnit.PRICE, Decimal("5010.5"))


def test_exit_spec_json_round_trip_keeps_exact_decimals():
    spec = parse_exit({"points": "0.1"}, "stop_loss")
    assert parse_exit(spec.to_json(), "stop_loss") == spec
