"""Price alert conditions on designed bar paths: levels hold while true, crossings fire on
the crossing only, AND/OR joins, and bad conditions name their field."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.domain.bars import Bar
from app.domain.errors import DomainValidationError
from app.domain.price_rules import is_price_only, look, parse_conditions
from app.domain.vocabulary import ConditionJoin

T0 = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
AND, OR = ConditionJoin.AND, ConditionJoin.OR


def closes(*values, volumes=None) -> list[Bar]:
    volumes = volumes or [10] * len(values)
    return [
        Bar(T0 + timedelta(minutes=i), D(str(v)), D(str(v)), D(str(v)), D(str(v)), vol)
        for i, (v, vol) in enumerate(zip(values, volumes, strict=True))
    ]


def walk(conditions, prices, join=AND, **kwargs):
    """Look at the rule once per price, as the price arrives: which looks met it."""
    rule, state, met = parse_conditions(conditions), {}, []
    for price in prices:
        seen = look(rule, join, [], D(str(price)), state, 1, **kwargs)
        state = seen.state
        met.append(seen.met)
    return met


def test_a_level_holds_on_every_look_it_is_true():
    assert walk([{"kind": "price_above", "value": 6000}], [5999, 6001, 6002, 6000]) == [
        False, True, True, False,
    ]  # fmt: skip


def test_a_crossing_fires_on_the_crossing_not_on_every_price_beyond_it():
    # The first look only learns the side; 6001 crosses; 6002 stays above; 5999 goes back
    # below; 6003 crosses again.
    met = walk([{"kind": "crosses_above", "value": 6000}], [5998, 6001, 6002, 5999, 6003])
    assert met == [False, True, False, False, True]
    assert walk([{"kind": "crosses_below", "value": 6000}], [6001, 5999, 5998]) == [
        False, True, False,
    ]  # fmt: skip


def test_a_rule_starting_beyond_the_line_does_not_fire_until_it_crosses():
    assert walk([{"kind": "crosses_above", "value": 6000}], [6005, 6006]) == [False, False]


def test_and_needs_every_condition_or_needs_one():
    conditions = [{"kind": "price_above", "value": 10}, {"kind": "price_below", "value": 20}]
    assert walk(conditions, [5, 15, 25]) == [False, True, False]
    assert walk(conditions, [5, 15, 25], join=OR) == [True, True, True]


def test_sma_cross_fires_when_the_fast_average_crosses_the_slow_one():
    # closes 10,10,10,10 then 14: SMA2 = 12, SMA4 = 11 at the last bar (fast above);
    # the bar before, SMA2 = 10 = SMA4 (not above: below or equal).
    rule = parse_conditions([{"kind": "sma_cross_above", "fast": 2, "slow": 4}])
    before = look(rule, AND, closes(10, 10, 10, 10), None, {}, 1)
    after = look(rule, AND, closes(10, 10, 10, 10, 14), None, before.state, 1)
    assert (before.met, after.met) == (False, True)
    assert after.values["conditions"][0]["seen"] == {"fast": "12", "slow": "11"}


def test_rsi_and_volume_spike_and_change_against_hand_figures():
    # Closes rise by 1 for 14 bars: Wilder RSI(14) = 100 (no losses).
    rising = closes(*range(100, 115))
    [rsi] = look(parse_conditions([{"kind": "rsi_above", "value": 70}]), AND, rising, None,
                 {}, 1).values["conditions"]  # fmt: skip
    assert (rsi["seen"], rsi["met"]) == ("100", True)
    # Volume 30 against an average of 10 over the 3 bars before: a spike of 3.
    spiking = closes(1, 1, 1, 1, volumes=[10, 10, 10, 30])
    spike = look(parse_conditions([{"kind": "volume_spike", "value": 2.5, "period": 3}]), AND,
                 spiking, None, {}, 1)  # fmt: skip
    assert spike.met and spike.values["conditions"][0]["seen"] == "3"
    # 5-minute bars, a 10-minute window: 2 bars back, 100 → 103 is +3 %.
    change = look(parse_conditions([{"kind": "change_pct", "value": 2, "window_minutes": 10}]),
                  AND, closes(100, 101, 103), None, {}, 5)  # fmt: skip
    assert change.met and change.values["conditions"][0]["seen"] == "3"


def test_too_few_bars_and_no_sentiment_are_false_and_say_so():
    few = look(parse_conditions([{"kind": "rsi_below", "value": 30}]), AND, closes(1, 2), None,
               {}, 1)  # fmt: skip
    assert not few.met and few.values["conditions"][0]["seen"] is None
    news = look(parse_conditions([{"kind": "sentiment_above", "value": 0.5}]), AND, [], D(1),
                {}, 1)  # fmt: skip
    assert not news.met and news.values["conditions"][0]["seen"] == "unavailable"
    assert look(parse_conditions([{"kind": "sentiment_above", "value": 0.5}]), AND, [], D(1),
                {}, 1, sentiment=0.7).met  # fmt: skip


def test_price_only_rules_are_told_apart():
    assert is_price_only(parse_conditions([{"kind": "crosses_below", "value": 5}]))
    assert not is_price_only(
        parse_conditions([{"kind": "price_above", "value": 5}, {"kind": "rsi_above", "value": 70}])
    )


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ([], "conditions"),
        ([{"kind": "moon_phase", "value": 1}], "conditions[0].kind"),
        ([{"kind": "price_above"}], "conditions[0].value"),
        ([{"kind": "price_above", "value": "abc"}], "conditions[0].value"),
        ([{"kind": "price_above", "value": -5}], "conditions[0].value"),
        ([{"kind": "rsi_above", "value": 120}], "conditions[0].value"),
        ([{"kind": "sma_cross_above", "fast": 20, "slow": 5}], "conditions[0].fast"),
        ([{"kind": "change_pct", "value": 1}], "conditions[0].window_minutes"),
        ([{"kind": "rsi_above", "value": 70, "period": 0}], "conditions[0].period"),
        ([{"kind": "price_above", "value": 1, "colour": "red"}], "conditions[0].colour"),
    ],
)
def test_bad_conditions_name_their_field(conditions, field):
    with pytest.raises(DomainValidationError) as refused:
        parse_conditions(conditions)
    assert refused.value.field == field
