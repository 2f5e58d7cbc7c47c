"""Scale-out targets: parsing, whole contracts with merging, and the target prices."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.targets import (
    Target,
    TargetLeg,
    parse_targets,
    split_position,
    target_prices,
)
from app.domain.vocabulary import Side

D = Decimal
Q = D("0.25")


def ticks(n: int) -> ExitSpec:
    return ExitSpec(OffsetUnit.TICKS, D(n))


def test_parses_targets_with_their_shares():
    targets = parse_targets(
        [{"ticks": 8, "percent_of_position": 50}, {"points": "4", "percent_of_position": "50"}]
    )
    assert targets == (Target(ticks(8), D(50)), Target(ExitSpec(OffsetUnit.POINTS, D(4)), D(50)))
    assert targets[0].to_json() == {"ticks": "8", "percent_of_position": "50"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ticks": 8}, "take_profit"),
        ([], "take_profit"),
        ([{"ticks": 1, "percent_of_position": 25}] * 4, "take_profit"),
        ([{"ticks": 8}], "take_profit[0]"),
        (
            [{"ticks": 8, "percent_of_position": 0}, {"ticks": 9, "percent_of_position": 100}],
            "take_profit[0].percent_of_position",
        ),
        (
            [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 40}],
            "take_profit",
        ),
        ([{"ticks": 8, "minutes": 3, "percent_of_position": 100}], "take_profit[0]"),
        ([{"ticks": 8.5, "percent_of_position": 100}], "take_profit[0].ticks"),
    ],
)
def test_refuses_targets_it_cannot_follow_naming_the_field(payload, field):
    with pytest.raises(DomainValidationError) as refused:
        parse_targets(payload)
    assert refused.value.field == field


def test_two_contracts_at_half_and_half_make_two_one_lot_targets():
    split = split_position(2, (Target(ticks(8), D(50)), Target(ticks(16), D(50))))
    assert split.legs == (TargetLeg(ticks(8), 1), TargetLeg(ticks(16), 1))
    assert split.merged == ()


def test_a_target_rounding_to_zero_contracts_merges_into_the_next():
    split = split_position(
        2, (Target(ticks(4), D(25)), Target(ticks(8), D(25)), Target(ticks(16), D(50)))
    )
    assert split.legs == (TargetLeg(ticks(8), 1), TargetLeg(ticks(16), 1))
    assert split.merged == ("target 1 (25 % of 2) rounds to 0 contracts: merged into target 2",)


def test_the_last_target_takes_the_remainder():
    split = split_position(
        5, (Target(ticks(4), D(33)), Target(ticks(8), D(33)), Target(ticks(12), D(34)))
    )
    assert [leg.qty for leg in split.legs] == [1, 2, 2]
    one = split_position(1, (Target(ticks(4), D(50)), Target(ticks(8), D(50))))
    assert one.legs == (TargetLeg(ticks(8), 1),)


shares = st.lists(st.integers(1, 98), min_size=0, max_size=2).filter(lambda s: sum(s) < 100)


@given(qty=st.integers(1, 100), first=shares)
def test_contracts_always_add_up_to_the_position(qty, first):
    percents = [*first, 100 - sum(first)]
    targets = tuple(Target(ticks(4 * (i + 1)), D(p)) for i, p in enumerate(percents))
    split = split_position(qty, targets)
    assert sum(leg.qty for leg in split.legs) == qty
    assert all(leg.qty >= 1 for leg in split.legs)
    assert split.legs[-1].offset == targets[-1].offset
    assert len(split.legs) + len(split.merged) == len(targets)


def test_target_prices_move_away_from_the_entry():
    legs = (TargetLeg(ticks(8), 1), TargetLeg(ticks(16), 1))
    assert target_prices(Side.BUY, D("5000"), Q, legs) == (D("5002"), D("5004"))
    assert target_prices(Side.SELL, D("5000"), Q, legs) == (D("4998"), D("4996"))


def test_targets_out_of_order_or_on_the_wrong_side_are_refused_by_name():
    with pytest.raises(DomainValidationError) as refused:
        target_prices(Side.BUY, D("5000"), Q, (TargetLeg(ticks(16), 1), TargetLeg(ticks(8), 1)))
    assert refused.value.field == "take_profit[1]"
    below = (TargetLeg(ExitSpec(OffsetUnit.PRICE, D("4990")), 1),)
    with pytest.raises(DomainValidationError) as refused:
        target_prices(Side.BUY, D("5000"), Q, below)
    assert refused.value.field == "take_profit[0]"
