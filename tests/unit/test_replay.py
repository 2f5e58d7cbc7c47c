"""Replay of recorded alerts on recorded bars: designed price paths whose results are
computed by hand (MES: 0.25 tick, $5 a point, $1.25 a tick)."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.bars import Bar
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.matching import ContractTerms
from app.domain.replay import (
    Gap,
    ReplayAlert,
    ReplaySettings,
    bar_prints,
    replay,
)
from app.domain.risk import RiskPolicy
from app.domain.signals import SignalDefaults, parse_signal
from app.domain.sizing import Sizing
from app.domain.vocabulary import ExitReason, PositionSide, RiskMode

D = Decimal
MES = "MESZ6"
TERMS = {MES: ContractTerms(D("0.25"), D(5))}
T0 = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # a Tuesday, mid-session
DEFAULTS = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def bar(minute: int, o: str, h: str, low: str, c: str) -> Bar:
    return Bar(at(minute), D(o), D(h), D(low), D(c), 10)


def alert(alert_id: int, minute: float, **body) -> ReplayAlert:
    received = at(minute)
    signal = parse_signal(json.dumps(body), DEFAULTS, received)
    return ReplayAlert(alert_id, received, signal, MES)


def run(alerts, bars, **settings):
    return replay(alerts, {MES: bars}, TERMS, ReplaySettings(**settings))


# The designed path: long 2 MES at 5000.00 with a 10-point stop and a 10-point target.
# It dips to 4995.00 (passing 4996.00 on the way), then rallies to 5010.00.
DESIGNED_PATH = [
    bar(1, "5000.00", "5001.00", "4999.00", "5000.50"),
    bar(2, "4999.00", "4999.50", "4995.00", "4997.00"),
    bar(3, "4997.00", "4998.00", "4996.50", "4997.50"),
    bar(4, "4998.00", "5006.00", "4997.75", "5005.00"),
    bar(5, "5005.00", "5010.00", "5004.50", "5009.00"),
    bar(6, "5009.00", "5011.00", "5008.00", "5010.50"),
]


def designed_alert(stop_points: str = "10") -> ReplayAlert:
    return alert(
        1,
        0.5,
        action="buy",
        quantity=2,
        price=5000.25,
        stop_loss={"points": stop_points},
        take_profit={"points": 10},
    )


def test_the_recorded_stop_survives_the_dip_and_the_target_wins_100_dollars():
    result = run([designed_alert("10")], DESIGNED_PATH)

    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.record.entry_price == D("5000.00")  # the open of the first bar after it
    assert trade.record.exit_price == D("5010.00")
    assert trade.record.pnl == D("100.00")  # 10 points x $5 x 2
    assert trade.record.entry_time == at(1)
    assert trade.record.exit_time == at(5)
    assert trade.alert_id == 1
    assert result.skipped == [] and result.gaps == [] and result.open_positions == []


def test_a_tighter_stop_turns_the_designed_winner_into_a_20_dollar_a_contract_loss():
    tighter = designed_alert("10")
    overridden = replace(
        tighter, signal=replace(tighter.signal, stop_loss=ExitSpec(OffsetUnit.POINTS, D(4)))
    )

    result = run([overridden], DESIGNED_PATH)

    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.STOP_LOSS
    # 5000.00 - 4 points, passed on the way from 4999.00 to the 4995.00 low at 15:32.
    assert trade.record.exit_price == D("4996.00")
    assert trade.record.exit_time == at(2)
    assert trade.record.gross_pnl == D("-40.00")  # -4 points x $5 x 2 contracts
    assert trade.record.pnl == D("-40.00")


def test_commission_and_slippage_follow_the_paper_venue():
    result = run(
        [designed_alert("4")],
        DESIGNED_PATH,
        slippage_ticks=1,
        commission_per_contract=D("0.62"),
    )

    (trade,) = result.trades
    # Bought at 5000.25 (one tick of slippage); stop 4 points from the fill: 4996.25,
    # passed on the way down to the 4995.00 low and filled a tick worse, at 4996.00.
    assert trade.record.entry_price == D("5000.25")
    assert trade.record.exit_price == D("4996.00")
    assert trade.record.gross_pnl == D("-42.50")  # -4.25 points x $5 x 2
    assert trade.record.commission == D("2.48")  # 0.62 x 2 contracts x 2 sides
    assert trade.record.pnl == D("-44.98")


def test_prints_go_open_then_the_nearer_extreme_then_the_other_then_close():
    assert bar_prints(bar(0, "5000", "5001", "4990", "4995")) == [
        D(5000),
        D(5001),
        D(4990),
        D(4995),
    ]
    assert bar_prints(bar(0, "5000", "5010", "4999", "5005")) == [
        D(5000),
        D(4999),
        D(5010),
        D(5005),
    ]
    # A tie goes to the low first; a repeated price is played once.
    assert bar_prints(bar(0, "5000", "5002", "4998", "4998")) == [
        D(5000),
        D(4998),
        D(5002),
        D(4998),
    ]
    assert bar_prints(bar(0, "5000", "5000", "5000", "5000")) == [D(5000)]


def test_a_bar_reaching_stop_and_target_resolves_by_the_nearer_extreme_first():
    bars = [
        bar(1, "5000.00", "5000.00", "5000.00", "5000.00"),
        # Stop 4996 and target 5004 both inside; the low is nearer the open: stop first.
        bar(2, "4999.00", "5005.00", "4996.00", "5001.00"),
    ]
    buy = alert(1, 0.5, action="buy", stop_loss={"points": 4}, take_profit={"points": 4})

    (trade,) = run([buy], bars).trades

    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.record.pnl == D("-20.00")


def test_an_alert_without_bars_after_it_is_skipped_and_the_gap_reported():
    bars = [bar(1, "5000", "5001", "4999", "5000"), bar(30, "5010", "5011", "5009", "5010")]
    late = alert(7, 2, action="buy")

    result = run([late], bars)

    assert result.trades == []
    (skipped,) = result.skipped
    assert skipped.alert_id == 7 and "no MESZ6 bars" in skipped.reason
    assert result.gaps == [Gap(MES, at(2), at(30))]


def test_an_alert_after_the_last_bar_is_skipped_with_an_open_ended_gap():
    result = run([alert(3, 5, action="sell")], [bar(1, "5000", "5001", "4999", "5000")])

    assert [s.alert_id for s in result.skipped] == [3]
    assert result.gaps == [Gap(MES, at(5), None)]


def test_missing_bars_while_a_position_is_open_are_a_gap_and_the_next_open_fills_the_stop():
    bars = [
        bar(1, "5000.00", "5000.00", "5000.00", "5000.00"),
        bar(2, "5000.00", "5001.00", "4999.00", "5000.00"),
        # 40 minutes without a bar, then an open below the 4996 stop: filled at 4990.
        bar(43, "4990.00", "4991.00", "4989.00", "4990.00"),
    ]
    result = run([alert(1, 0.5, action="buy", stop_loss={"points": 4})], bars)

    assert result.gaps == [Gap(MES, at(3), at(43))]
    (trade,) = result.trades
    assert trade.record.exit_price == D("4990.00")
    assert trade.record.pnl == D("-50.00")


def test_a_position_still_open_after_the_last_bar_is_reported_not_traded():
    result = run([alert(1, 0.5, action="sell", quantity=3)], DESIGNED_PATH[:2])

    assert result.trades == []
    (position,) = result.open_positions
    assert (position.qty, position.avg_price, position.mark) == (-3, D("5000.00"), D("4997.00"))


def test_exit_and_reverse_alerts_close_at_the_next_open_by_signal():
    alerts = [
        alert(1, 0.5, action="buy"),
        alert(2, 2.5, action="reverse"),  # short 1 at the 15:33 open
        alert(3, 4.5, action="exit"),
    ]

    result = run(alerts, DESIGNED_PATH)

    assert [(t.record.side, t.record.entry_price, t.record.exit_price) for t in result.trades] == [
        (PositionSide.LONG, D("5000.00"), D("4997.00")),
        (PositionSide.SHORT, D("4997.00"), D("5005.00")),
    ]
    assert [t.exit_reason for t in result.trades] == [ExitReason.SIGNAL, ExitReason.SIGNAL]
    assert [t.alert_id for t in result.trades] == [1, 2]
    assert sum(t.record.pnl for t in result.trades) == D("-55.00")  # -15 - 40


def test_a_fixed_quantity_overrides_every_alert_size():
    result = run([designed_alert("10")], DESIGNED_PATH, sizing=Sizing(fixed_quantity=5))

    assert result.trades[0].record.qty == 5
    assert result.trades[0].record.pnl == D("250.00")


def test_max_trades_per_day_refuses_later_entries():
    alerts = [
        alert(1, 0.5, action="buy"),
        alert(2, 1.5, action="exit"),
        alert(3, 2.5, action="buy"),
    ]

    result = run(alerts, DESIGNED_PATH, policy=RiskPolicy(max_trades_per_day=1))

    assert len(result.trades) == 1
    (skipped,) = result.skipped
    assert skipped.alert_id == 3 and skipped.reason.startswith("risk: 1 entries today")


def test_max_contracts_per_order_refuses_a_larger_entry_but_never_an_exit():
    policy = RiskPolicy(max_contracts_per_order=1)
    alerts = [alert(1, 0.5, action="buy", quantity=2), alert(2, 1.5, action="buy")]

    result = run([*alerts, alert(3, 3.5, action="exit")], DESIGNED_PATH, policy=policy)

    assert [s.alert_id for s in result.skipped] == [1]
    assert [(t.record.qty, t.exit_reason) for t in result.trades] == [(1, ExitReason.SIGNAL)]


def test_the_daily_loss_limit_refuses_entries_once_reached():
    alerts = [
        alert(1, 0.5, action="buy", quantity=2, stop_loss={"points": 4}),  # -40 at 15:32
        alert(2, 2.5, action="buy"),
    ]

    result = run(alerts, DESIGNED_PATH, policy=RiskPolicy(max_daily_loss=D(40)))

    assert [t.record.pnl for t in result.trades] == [D("-40.00")]
    assert result.skipped[0].alert_id == 2 and "daily loss limit" in result.skipped[0].reason


def test_a_trailing_stop_follows_the_high_and_exits_where_it_was_left():
    bars = [
        bar(1, "5000.00", "5000.00", "5000.00", "5000.00"),
        bar(2, "5001.00", "5006.00", "5000.50", "5005.00"),  # best 5006: stop 5004
        bar(3, "5005.00", "5005.50", "5003.00", "5003.50"),  # 5003 passes 5004: out
    ]
    buy = alert(1, 0.5, action="buy", trailing_stop={"points": 2})

    (trade,) = run([buy], bars).trades

    assert trade.exit_reason is ExitReason.TRAILING_STOP
    assert trade.record.exit_price == D("5004.00")  # passed on the way down to 5003
    assert trade.record.pnl == D("20.00")


def test_break_even_moves_the_stop_once_the_trigger_is_reached():
    bars = [
        bar(1, "5000.00", "5000.00", "5000.00", "5000.00"),
        bar(2, "5001.00", "5004.00", "5001.00", "5003.00"),  # trigger 5004 reached
        bar(3, "5003.00", "5003.00", "4995.00", "4996.00"),  # back down through 5000.25
    ]
    buy = alert(
        1,
        0.5,
        action="buy",
        stop_loss={"points": 8},
        break_even={"trigger": {"points": 4}, "offset": {"ticks": 1}},
    )

    (trade,) = run([buy], bars).trades

    assert trade.exit_reason is ExitReason.BREAK_EVEN
    assert trade.record.exit_price == D("5000.25")
    assert trade.record.pnl == D("1.25")


def test_scale_out_targets_take_profit_in_steps_and_the_stop_covers_the_rest():
    buy = alert(
        1,
        0.5,
        action="buy",
        quantity=2,
        stop_loss={"points": 4},
        take_profit=[
            {"points": 2, "percent_of_position": 50},
            {"points": 20, "percent_of_position": 50},
        ],
    )
    bars = [
        bar(1, "5000.00", "5000.00", "5000.00", "5000.00"),
        bar(2, "5001.00", "5002.00", "5001.00", "5001.50"),  # first target 5002
        bar(3, "5001.00", "5001.00", "4995.00", "4995.00"),  # the stop 4996 takes the rest
    ]

    (trade,) = run([buy], bars).trades

    # One round trip of 2: out 1 at 5002 (+10) and 1 at 4996 (-20).
    assert trade.record.qty == 2
    assert trade.record.pnl == D("-10.00")
    assert trade.exit_reason is ExitReason.STOP_LOSS


def test_a_limit_entry_waits_for_its_price_and_cancel_removes_it():
    alerts = [
        alert(1, 0.5, action="buy", order_type="limit", price=4995.5, take_profit={"points": 5}),
        alert(2, 0.7, action="buy", order_type="limit", price=4990, take_profit={"points": 5}),
    ]
    result = run(alerts, DESIGNED_PATH)

    # The 4995.50 limit fills at 15:32 (on the way to the 4995.00 low), its target
    # 5000.50 at 15:34; the 4990 limit never fills and still works at the end.
    (trade,) = result.trades
    assert (trade.record.entry_price, trade.record.exit_price) == (D("4995.50"), D("5000.50"))
    assert trade.record.pnl == D("25.00")

    cancelled = run([*alerts, alert(3, 1.5, action="cancel")], DESIGNED_PATH)
    assert cancelled.trades == []
    assert run([alert(4, 0.5, action="cancel")], DESIGNED_PATH).skipped[0].reason == (
        "no working entry orders to cancel"
    )


def test_position_sync_alerts_trade_to_their_target():
    alerts = [
        alert(1, 0.5, action="buy", market_position="long", position_size=2),
        alert(2, 1.5, action="buy", market_position="long", position_size=2),  # already there
        alert(3, 2.5, market_position="flat", position_size=0),
    ]

    result = run(alerts, DESIGNED_PATH, position_sync=True)

    (trade,) = result.trades
    assert (trade.record.qty, trade.record.exit_price, trade.record.pnl) == (
        2, D("4997.00"), D("-30.00")
    )  # fmt: skip
    assert [(s.alert_id, s.reason) for s in result.skipped] == [
        (2, "position already +2 MESZ6; nothing to order")
    ]


def test_break_even_without_a_stop_or_trail_has_nothing_to_move():
    bars = DESIGNED_PATH[:4]
    parsed = alert(1, 0.5, action="buy", stop_loss=8, break_even={"trigger": {"points": 1}})
    buy = replace(parsed, signal=replace(parsed.signal, stop_loss=None))  # as an override can

    result = run([buy, alert(2, 3.5, action="exit")], bars)

    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.SIGNAL and trade.record.exit_price == D("4998.00")


# Risk modes, as the live pipeline applies them (domain.risk_modes): 2 % of equity in
# moderate, 1 % in conservative, 4 % in aggressive; a 10-point MES stop risks 40 ticks x
# $1.25 = $50 a contract, a 4-point stop 16 ticks = $20.


def test_a_mode_sizes_the_entry_by_its_stop_whatever_the_alert_asked():
    # moderate: $10,000 x 2 % = $200 / $50 = 4 contracts (the alert asked 2), from the
    # alert's price 5000.25 to its stop 4990.25; the bracket is then set from the fill.
    result = run(
        [designed_alert("10")],
        DESIGNED_PATH,
        risk_mode=RiskMode.MODERATE,
        starting_balance=D(10_000),
    )

    (trade,) = result.trades
    assert trade.record.qty == 4
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.record.pnl == D("200.00")  # 10 points x $5 x 4


def test_the_equity_a_mode_sizes_from_is_the_balance_plus_the_closed_pnl():
    alerts = [
        # aggressive: $1,000 x 4 % = $40 / $20 = 2; stopped at 4996.00: -4 x $5 x 2 = -$40
        alert(1, 0.5, action="buy", price=5000.25, stop_loss={"points": 4},
              take_profit={"points": 10}),
        # then $960 x 4 % = $38.40 / $20 = 1; in at 4998.00, out at the 5008.00 target
        alert(2, 3.5, action="buy", quantity=5, price=4997.50, stop_loss={"points": 4},
              take_profit={"points": 10}),
    ]  # fmt: skip

    result = run(alerts, DESIGNED_PATH, risk_mode=RiskMode.AGGRESSIVE, starting_balance=D(1000))

    assert [(t.record.qty, t.record.pnl) for t in result.trades] == [
        (2, D("-40.00")),
        (1, D("50.00")),
    ]


def test_a_reversal_under_a_mode_closes_whole_and_sizes_only_the_new_side():
    alerts = [
        alert(1, 0.5, action="buy", price=5000.25, stop_loss={"points": 10}),  # 4 long
        # the long still open, nothing closed yet: $10,000 x 2 % = $200 / (32 ticks x
        # $1.25) = 5 short beside the 4 closed, in one order of 9 at the 4999.00 open
        alert(2, 1.5, action="reverse", price=4999.00, stop_loss={"points": 8}),
    ]

    result = run(alerts, DESIGNED_PATH, risk_mode=RiskMode.MODERATE, starting_balance=D(10_000))

    closed, stopped = result.trades
    assert (closed.record.qty, closed.exit_reason, closed.record.pnl) == (
        4, ExitReason.SIGNAL, D("-20.00")
    )  # fmt: skip
    # short 5 from 4999.00, stopped at 5007.00 on the way to the 5010.00 high at 15:35
    assert (stopped.record.qty, stopped.exit_reason, stopped.record.pnl) == (
        5, ExitReason.STOP_LOSS, D("-200.00")
    )  # fmt: skip
    assert result.open_positions == []


def test_a_mode_keeps_the_size_of_an_entry_without_a_stop_and_caps_a_sized_one():
    no_stop = run(
        [alert(1, 0.5, action="buy", quantity=3)],
        DESIGNED_PATH,
        risk_mode=RiskMode.MODERATE,
        starting_balance=D(10_000),
    )
    capped = run(
        [designed_alert("10")],
        DESIGNED_PATH,
        risk_mode=RiskMode.MODERATE,
        starting_balance=D(10_000),
        policy=RiskPolicy(max_contracts_per_order=3),
    )

    assert no_stop.open_positions[0].qty == 3
    assert capped.trades[0].record.qty == 3  # 4 sized, 3 the limit per order


def test_a_mode_refuses_an_unsure_alert_and_a_stop_it_cannot_afford():
    alerts = [
        alert(1, 0.5, action="buy", confidence=70, price=5000.25, stop_loss={"points": 10}),
        alert(2, 1.5, action="buy", price=4999.00, stop_loss={"points": 10}),
    ]

    # conservative: threshold 75; $100 x 1 % = $1, less than one contract's $50
    result = run(alerts, DESIGNED_PATH, risk_mode=RiskMode.CONSERVATIVE, starting_balance=D(100))

    assert result.trades == [] and result.open_positions == []
    unsure, unaffordable = result.skipped
    assert unsure.reason == (
        "risk: risk mode conservative: the alert's confidence 70 is below the mode's "
        "threshold of 75"
    )
    assert unaffordable.reason == (
        "risk: risk mode conservative: one MESZ6 contract risks 50.00 to the stop at "
        "4989.00, more than the 1.00 (1.00% of equity 100.00) a trade may risk"
    )


def test_a_sized_entry_above_max_order_quantity_is_refused():
    result = run(
        [designed_alert("10")],
        DESIGNED_PATH,
        risk_mode=RiskMode.MODERATE,
        starting_balance=D(10_000),
        max_order_quantity=3,
    )

    assert [s.reason for s in result.skipped] == ["risk: 4 contracts exceed MAX_ORDER_QUANTITY 3"]


def test_the_modes_open_position_cap_joins_the_accounts_limit():
    symbols = ["MESZ6", "MNQZ6", "M2KZ6", "MYMZ6"]
    terms = dict.fromkeys(symbols, TERMS[MES])
    alerts = [
        ReplayAlert(n, at(0.5), parse_signal('{"action": "buy"}', DEFAULTS, at(0.5)), symbol)
        for n, symbol in enumerate(symbols, start=1)
    ]
    settings = ReplaySettings(risk_mode=RiskMode.CONSERVATIVE, starting_balance=D(10_000))

    result = replay(alerts, dict.fromkeys(symbols, DESIGNED_PATH), terms, settings)

    # bars of one minute play in symbol order, so MYMZ6's alert comes fourth
    assert sorted(p.symbol for p in result.open_positions) == sorted(symbols[:3])
    (skipped,) = result.skipped
    assert skipped.alert_id == 4 and skipped.reason == (
        "risk: 3 positions already open (limit 3, risk mode conservative)"
    )


def test_the_exposure_limit_values_each_contract_at_its_last_print():
    # 2 MES at the 5000.00 open: 2 x 5000.00 x $5 = $50,000, beyond $40,000; 1 fits
    alerts = [alert(1, 0.5, action="buy", quantity=2), alert(2, 1.5, action="buy")]

    result = run(alerts, DESIGNED_PATH, policy=RiskPolicy(max_exposure=D(40_000)))

    (skipped,) = result.skipped
    assert skipped.alert_id == 1 and skipped.reason == (
        "risk: max_exposure: total exposure would be 50000.00, beyond the limit of 40000.00"
    )
    assert result.open_positions[0].qty == 1


def test_under_a_mode_a_sync_target_on_the_held_side_keeps_the_position():
    # moderate sizes the target of 1 to 4 ($200 over a 10-point stop); the same target a
    # minute later keeps the 4 (it would sell 3 back to the strategy's 1); flat closes all.
    stop = {"stop_loss": {"points": 10}, "price": "5000"}
    alerts = [
        alert(1, 0.5, market_position="long", position_size=1, **stop),
        alert(2, 1.5, market_position="long", position_size=1, **stop),
        alert(3, 2.5, market_position="flat", position_size=0),
    ]

    result = run(
        alerts,
        DESIGNED_PATH,
        position_sync=True,
        risk_mode=RiskMode.MODERATE,
        starting_balance=D(10_000),
    )

    (trade,) = result.trades
    assert (trade.record.qty, trade.exit_reason) == (4, ExitReason.SIGNAL)
    assert [(s.alert_id, s.reason) for s in result.skipped] == [
        (2, "position +4 MESZ6 kept: its risk mode sized it")
    ]
