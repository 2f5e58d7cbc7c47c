"""Funded-account rules on designed equity paths, each checked against a hand computation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from app.domain.account_rules import (
    AccountPicture,
    AccountRules,
    BreachAction,
    DrawdownMode,
    RuleName,
    drawdown_floor,
    high_water_mark,
    rooms,
)

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
START = D("50000")


def room(rules, rule, **figures):
    picture = AccountPicture(
        equity=figures.pop("equity", START),
        starting_balance=START,
        high_water_mark=figures.pop("mark", START),
        **figures,
    )
    [found] = [r for r in rooms(rules, picture, figures.get("now", NOW)) if r.rule == rule]
    return found


def test_a_realtime_trailing_drawdown_trails_then_stops_at_the_starting_balance():
    rules = AccountRules(
        trailing_drawdown=D("2000"),
        trailing_mode=DrawdownMode.REALTIME,
        trailing_stops_at_start=True,
    )
    mark = START
    # equity path → (mark, floor, room) by hand
    path = [
        (D("51000"), D("51000"), D("49000"), D("2000")),
        (D("52500"), D("52500"), D("50000"), D("2500")),  # the floor reaches the start
        (D("53000"), D("53000"), D("50000"), D("3000")),  # and stays there
        (D("50100"), D("53000"), D("50000"), D("100")),
    ]
    for equity, want_mark, want_floor, want_room in path:
        mark = high_water_mark(rules.trailing_mode, mark, equity, day_closed=False)
        assert mark == want_mark
        assert drawdown_floor(rules, mark, START) == want_floor
        found = room(rules, RuleName.TRAILING_DRAWDOWN, equity=equity, mark=mark)
        assert (found.room_left, found.breached) == (want_room, False)
    breached = room(rules, RuleName.TRAILING_DRAWDOWN, equity=D("50000"), mark=mark)
    assert breached.breached and breached.room_left == 0


def test_an_end_of_day_drawdown_moves_only_with_closing_equity():
    rules = AccountRules(trailing_drawdown=D("2000"), trailing_mode=DrawdownMode.EOD)
    mark = high_water_mark(rules.trailing_mode, START, D("51500"), day_closed=False)
    assert mark == START  # an intraday high does not count
    mark = high_water_mark(rules.trailing_mode, mark, D("51200"), day_closed=True)
    assert mark == D("51200")
    found = room(rules, RuleName.TRAILING_DRAWDOWN, equity=D("49300"), mark=mark)
    assert (found.room_left, found.breached) == (D("100"), False)
    assert room(rules, RuleName.TRAILING_DRAWDOWN, equity=D("49200"), mark=mark).breached


def test_the_buffer_acts_before_the_firm_would_and_the_action_is_the_traders():
    rules = AccountRules(
        max_daily_loss=D("1000"), safety_buffer=D("100"), breach_action=BreachAction.FLATTEN
    )
    assert room(rules, RuleName.DAILY_LOSS, day_pnl=D("-899")).room_left == D("1")
    found = room(rules, RuleName.DAILY_LOSS, day_pnl=D("-900"))
    assert found.breached and found.flattens
    assert room(rules, RuleName.DAILY_LOSS, day_pnl=D("-700")).warning  # 200 of 1000 left


def test_a_consistency_breach_at_the_hand_computed_cap():
    rules = AccountRules(consistency_pct=D("40"), breach_action=BreachAction.FLATTEN)
    # best day ≤ 40 % of (3000 before + today): today ≤ 0.4 × 3000 / 0.6 = 2000
    below = room(rules, RuleName.CONSISTENCY, prior_profit=D("3000"), day_pnl=D("1999"))
    assert (below.limit, below.room_left, below.breached) == (D("2000"), D("1"), False)
    at = room(rules, RuleName.CONSISTENCY, prior_profit=D("3000"), day_pnl=D("2000"))
    assert at.breached and not at.flattens  # it refuses entries, never flattens
    picture = AccountPicture(equity=START, starting_balance=START, high_water_mark=START)
    assert rooms(rules, picture, NOW) == []  # no prior profit: not applied yet


def test_a_profit_lock_arms_past_the_trail_and_ends_the_day_at_its_floor():
    rules = AccountRules(profit_lock_trail=D("500"))
    waiting = room(rules, RuleName.PROFIT_LOCK, day_pnl=D("400"), day_best_pnl=D("400"))
    assert (waiting.room_left, waiting.breached) == (D("500"), False)
    armed = room(rules, RuleName.PROFIT_LOCK, day_pnl=D("450"), day_best_pnl=D("900"))
    assert (armed.room_left, armed.breached) == (D("50"), False)  # floor 400
    assert room(rules, RuleName.PROFIT_LOCK, day_pnl=D("400"), day_best_pnl=D("900")).breached


def test_profit_targets_and_weekly_limits():
    rules = AccountRules(
        daily_profit_target=D("1500"), weekly_loss_limit=D("2500"), weekly_profit_target=D("4000")
    )
    assert room(rules, RuleName.DAILY_PROFIT_TARGET, day_pnl=D("1500")).breached
    assert room(rules, RuleName.WEEKLY_LOSS, week_pnl=D("-2499")).room_left == D("1")
    assert room(rules, RuleName.WEEKLY_PROFIT_TARGET, week_pnl=D("4000")).breached


def test_a_loss_cooldown_and_consecutive_losses():
    rules = AccountRules(loss_cooldown_minutes=15, max_consecutive_losses=3)
    lost = NOW - timedelta(minutes=5)
    cooling = room(rules, RuleName.LOSS_COOLDOWN, last_loss_at=lost)
    assert (cooling.used, cooling.breached) == (D("10"), True)
    later = rooms(
        rules,
        AccountPicture(START, START, START, last_loss_at=lost),
        NOW + timedelta(minutes=10),
    )
    assert not later[0].breached
    assert not room(rules, RuleName.CONSECUTIVE_LOSSES, losses_in_a_row=2).breached
    assert room(rules, RuleName.CONSECUTIVE_LOSSES, losses_in_a_row=3).breached


money = st.decimals(min_value=-100_000, max_value=100_000, places=2, allow_nan=False)


@given(
    st.lists(money, min_size=1, max_size=30),
    st.sampled_from(list(DrawdownMode)),
    st.booleans(),
    st.decimals(min_value=1, max_value=10_000, places=2),
)
def test_the_mark_never_falls_and_the_floor_never_passes_it(path, mode, stops, drawdown):
    rules = AccountRules(
        trailing_drawdown=drawdown, trailing_mode=mode, trailing_stops_at_start=stops
    )
    mark = START
    for index, change in enumerate(path):
        equity = START + change
        new = high_water_mark(mode, mark, equity, day_closed=index % 3 == 0)
        assert new >= mark
        mark = new
        floor = drawdown_floor(rules, mark, START)
        assert floor <= mark - drawdown
        assert floor <= START or not stops  # stopped at the starting balance
        found = room(rules, RuleName.TRAILING_DRAWDOWN, equity=equity, mark=mark)
        assert found.breached == (equity <= floor)
