"""The ticket's preview: an entry's exits from a reference price, refusals by field."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.break_even import parse_break_even
from app.domain.errors import DomainValidationError
from app.domain.exit_preview import TargetLevel, preview_exits
from app.domain.exits import parse_exit, parse_trailing
from app.domain.targets import parse_targets
from app.domain.vocabulary import Side

TICK = Decimal("0.25")
TWO = parse_targets(
    [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]
)


def test_targets_stop_and_break_even_on_the_first_target_for_a_short():
    found = preview_exits(
        Side.SELL,
        Decimal("5000"),
        TICK,
        2,
        targets=TWO,
        stop_loss=parse_exit({"ticks": 8}, "stop_loss"),
        break_even=parse_break_even({"trigger": "first_target", "offset": {"ticks": 1}}),
    )
    assert found.targets == (TargetLevel(1, Decimal("4998")), TargetLevel(1, Decimal("4996")))
    assert (found.stop_loss_price, found.break_even_trigger, found.break_even_stop) == (
        Decimal("5002"),
        Decimal("4998"),
        Decimal("4999.75"),
    )


def test_a_merged_target_is_said():
    three = parse_targets(
        [
            {"ticks": 4, "percent_of_position": 25},
            {"ticks": 8, "percent_of_position": 25},
            {"ticks": 12, "percent_of_position": 50},
        ]
    )
    found = preview_exits(Side.BUY, Decimal("5000"), TICK, 2, targets=three)
    assert [t.qty for t in found.targets] == [1, 1]
    assert found.merged == ("target 1 (25 % of 2) rounds to 0 contracts: merged into target 2",)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"targets": TWO, "market": False}, "take_profit"),
        ({"targets": TWO, "trailing": parse_trailing({"ticks": 4}, "t")}, "take_profit"),
        ({"break_even": parse_break_even({"trigger": {"ticks": 4}})}, "break_even"),
        (
            {
                "take_profit": parse_exit({"ticks": 8}, "take_profit"),
                "stop_loss": parse_exit({"ticks": 8}, "stop_loss"),
                "break_even": parse_break_even({"trigger": {"ticks": 8}}),
            },
            "break_even.trigger",
        ),
        ({"take_profit": parse_exit({"price": "4990"}, "take_profit")}, "take_profit"),
    ],
)
def test_what_makes_no_sense_is_refused_by_field(fields, field):
    with pytest.raises(DomainValidationError) as caught:
        preview_exits(Side.BUY, Decimal("5000"), TICK, 2, **fields)
    assert caught.value.field == field


@given(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=6),
)
def test_targets_lie_beyond_the_entry_on_the_grid_and_break_even_before_the_last(
    side, qty, near, further, offset
):
    targets = parse_targets(
        [
            {"ticks": near, "percent_of_position": 50},
            {"ticks": near + further, "percent_of_position": 50},
        ]
    )
    entry = Decimal("5000")
    spec = parse_break_even({"trigger": "first_target", "offset": {"ticks": offset}})
    try:
        found = preview_exits(
            side,
            entry,
            TICK,
            qty,
            targets=targets,
            stop_loss=parse_exit({"ticks": 8}, "stop_loss"),
            break_even=spec,
        )
    except DomainValidationError as exc:
        assert exc.field.startswith("break_even")  # an offset reaching the last target
        return
    assert sum(t.qty for t in found.targets) == qty
    long = side is Side.BUY
    for level in found.targets:
        assert level.price % TICK == 0
        assert (level.price > entry) if long else (level.price < entry)
    last = found.targets[-1].price
    assert (found.break_even_stop < last) if long else (found.break_even_stop > last)
