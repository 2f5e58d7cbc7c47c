"""What the trader reads for each bus event, and which preferences let it through, when."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from app.domain.vocabulary import NotificationChannel, NotificationEvent, Tone
from app.services.notify.preferences import Prefs
from app.services.notify.render import Names, daily_summary, render

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
NAMES = Names({1: "Apex 50K"}, {7: "MES trend"})


def trade(pnl: str, **extra) -> dict:
    return {
        "id": 3,
        "account_id": 1,
        "strategy_id": 7,
        "symbol": "MESZ6",
        "side": "long",
        "qty": 2,
        "entry_price": "6000.25",
        "exit_price": "6003",
        "gross_pnl": pnl,
        "commission": "0",
        "pnl": pnl,
        "exit_reason": "trailing_stop",
        "entry_time": "2026-12-03T14:00:00+00:00",
        "exit_time": "2026-12-03T15:12:30+00:00",
        **extra,
    }


def test_a_closed_trade_reads_with_pnl_reason_and_duration():
    told = render("trade", trade("27.5"), NAMES, NOW)
    assert told.event_type is NotificationEvent.POSITION_CLOSED
    assert told.message.title == "Closed long 2 MESZ6: +27.5"
    assert told.message.tone is Tone.GOOD
    fields = dict(told.message.fields)
    assert fields["Held"] == "1 h 12 min"
    assert fields["Exit reason"] == "trailing stop"
    assert fields["Account"] == "Apex 50K" and fields["Strategy"] == "MES trend"
    assert told.direction == "long" and told.symbol == "MESZ6"
    assert render("trade", trade("-12.5"), NAMES, NOW).message.tone is Tone.BAD


def test_only_an_opening_position_change_is_news():
    position = {
        "account_id": 1,
        "symbol": "MESZ6",
        "qty": -1,
        "avg_price": "6000",
        "strategy_id": None,
        "opened": False,
    }
    assert render("position", position, NAMES, NOW) is None
    opened = render("position", {**position, "opened": True}, NAMES, NOW)
    assert opened.message.title == "Opened short 1 MESZ6 @ 6000"
    assert opened.direction == "short"


def test_signals_become_rejections_approvals_or_taken_alerts():
    base = {"id": 9, "strategy_id": 7, "reason": None}
    rejected = render("signal", {**base, "status": "rejected", "reason": "stale"}, NAMES, NOW)
    assert rejected.event_type is NotificationEvent.SIGNAL_REJECTED
    assert rejected.message.text == "stale"
    waiting = render("signal", {**base, "status": "pending_approval"}, NAMES, NOW)
    assert waiting.event_type is NotificationEvent.APPROVAL_NEEDED
    assert render("signal", {**base, "status": "duplicate"}, NAMES, NOW) is None
    assert render("order", {"id": 1}, NAMES, NOW) is None  # not news by itself


def test_an_alert_every_limit_refused_is_a_risk_limit_not_a_plain_rejection():
    payload = {
        "id": 9,
        "strategy_id": 7,
        "status": "rejected",
        "refused_by": "risk",
        "reason": "risk: max 1 contract per order",
    }
    told = render("signal", payload, NAMES, NOW)
    assert told.event_type is NotificationEvent.RISK_LIMIT
    assert told.message.title == "Risk limit reached: MES trend"
    assert told.message.text == "MES trend's alert placed nothing: risk: max 1 contract per order"
    halted = render("signal", {**payload, "refused_by": "halted"}, NAMES, NOW)
    assert halted.event_type is NotificationEvent.SIGNAL_REJECTED  # the halt is told itself


def test_a_stop_move_names_the_position_and_both_prices():
    payload = {
        "advanced_order_id": 4,
        "account_id": 1,
        "symbol": "MESZ6",
        "direction": "short",
        "stop_price": "5990.5",
        "previous_stop": "5992",
        "at": "2026-12-03T15:00:00+00:00",
    }
    told = render("stop_moved", payload, NAMES, NOW)
    assert told.event_type is NotificationEvent.STOP_MOVED
    assert told.message.title == "Stop moved to 5990.5 on short MESZ6"
    assert (
        told.message.text == "Apex 50K: the stop protecting short MESZ6 moved from 5992 to 5990.5."
    )
    assert (told.symbol, told.direction, told.account_id) == ("MESZ6", "short", 1)


@pytest.mark.parametrize(
    ("name", "event", "tone", "words"),
    [
        ("rule_warning", NotificationEvent.RULE_WARNING, Tone.WARNING, "nearly reached"),
        ("rule_breached", NotificationEvent.RULE_BREACHED, Tone.BAD, "breached"),
    ],
)
def test_a_rule_low_or_out_of_room_says_which_and_how_much(name, event, tone, words):
    payload = {
        "account_id": 1,
        "rule": "trailing_drawdown",
        "limit": "2500",
        "room_left": "300",
        "detail": "equity 50300, floor 50000",
    }
    told = render(name, payload, NAMES, NOW)
    assert (told.event_type, told.message.tone) == (event, tone)
    assert told.message.title == f"Apex 50K: trailing drawdown rule {words}"
    assert dict(told.message.fields)["Room left"] == "300"


def test_the_daily_summary_counts_wins_and_nets_per_strategy():
    told = daily_summary(
        [(7, Decimal("20")), (7, Decimal("-5")), (None, Decimal("2.5"))], NAMES, NOW
    )
    assert told.message.title == "Daily summary: 3 trades, 67 % won, net +17.5"
    assert told.message.text.splitlines() == [
        "MES trend: 2 trades, net +15",
        "manual: 1 trade, net +2.5",
    ]
    assert daily_summary([], NAMES, NOW).message.title == "Daily summary: no trades closed today"


def prefs(**overrides) -> Prefs:
    values = dict(
        events={},
        strategy_ids=frozenset(),
        account_ids=frozenset(),
        symbols=frozenset(),
        direction="all",
        quiet_start=None,
        quiet_end=None,
        timezone="America/New_York",
    )
    return Prefs(**{**values, **overrides})


def test_defaults_leave_the_chatty_events_off():
    fill = render(
        "fill",
        {
            "account_id": 1,
            "side": "buy",
            "qty": 1,
            "symbol": "MESZ6",
            "price": "6000",
            "time": NOW.isoformat(),
        },
        NAMES,
        NOW,
    )
    closed = render("trade", trade("5"), NAMES, NOW)
    assert not prefs().wants(fill, NotificationChannel.DISCORD)
    assert prefs().wants(closed, NotificationChannel.DISCORD)
    chosen = prefs(events={"order_filled": {"sms": True}})
    assert chosen.wants(fill, NotificationChannel.SMS)
    assert not chosen.wants(fill, NotificationChannel.EMAIL)


def test_filters_match_products_and_directions_but_never_hide_alarms():
    closed = render("trade", trade("5"), NAMES, NOW)
    assert prefs(symbols=frozenset({"MES"})).wants(closed, NotificationChannel.EMAIL)
    assert not prefs(symbols=frozenset({"MNQ"})).wants(closed, NotificationChannel.EMAIL)
    assert not prefs(symbols=frozenset({"M"})).wants(closed, NotificationChannel.EMAIL)
    assert not prefs(direction="short").wants(closed, NotificationChannel.EMAIL)
    assert not prefs(strategy_ids=frozenset({8})).wants(closed, NotificationChannel.EMAIL)
    kill = render("kill_switch", {"engaged": True, "actor": "owner"}, NAMES, NOW)
    assert prefs(account_ids=frozenset({99})).wants(kill, NotificationChannel.EMAIL)


@pytest.mark.parametrize(
    ("start", "end", "local_now", "held_until"),
    [
        ("22:00", "07:00", "23:30", "07:00 next day"),  # across midnight, before it
        ("22:00", "07:00", "02:00", "07:00 same day"),  # across midnight, after it
        ("22:00", "07:00", "12:00", None),
        ("12:00", "13:00", "12:30", "13:00 same day"),
        ("12:00", "13:00", "13:00", None),  # the end is outside
    ],
)
def test_quiet_hours_hold_until_they_end_in_the_owner_s_zone(start, end, local_now, held_until):
    zone_now = datetime.fromisoformat(f"2026-12-03T{local_now}:00-05:00")  # New York, EST
    quiet = prefs(quiet_start=time.fromisoformat(start), quiet_end=time.fromisoformat(end))
    found = quiet.held_until(NotificationEvent.POSITION_CLOSED, zone_now.astimezone(UTC))
    if held_until is None:
        assert found is None
        return
    clock, _, which = held_until.partition(" ")
    day = zone_now.date() + (timedelta(days=1) if which == "next day" else timedelta())
    assert found == datetime.fromisoformat(f"{day}T{clock}:00-05:00")
    assert quiet.held_until(NotificationEvent.KILL_SWITCH, zone_now.astimezone(UTC)) is None


def test_a_login_from_a_new_device_says_what_is_new_and_is_never_held():
    payload = {
        "username": "admin",
        "device": "Firefox on Windows",
        "address": "203.0.113.9",
        "new_device": False,
        "new_address": True,
        "at": "2026-12-03T03:10:00+00:00",
    }
    told = render("login_new_device", payload, NAMES, NOW)
    assert told.event_type is NotificationEvent.LOGIN_NEW_DEVICE
    assert told.message.title == "New login: Firefox on Windows from 203.0.113.9"
    assert "logged in from a new address: Firefox on Windows at 203.0.113.9" in told.message.text
    assert told.message.tone is Tone.WARNING
    assert told.message.occurred_at == datetime(2026, 12, 3, 3, 10, tzinfo=UTC)
    quiet = prefs(quiet_start=time(22, 0), quiet_end=time(7, 0), symbols=frozenset({"MES"}))
    assert quiet.held_until(NotificationEvent.LOGIN_NEW_DEVICE, told.message.occurred_at) is None
    assert quiet.wants(told, NotificationChannel.SMS)  # no filter hides it either


def test_a_price_alert_says_which_conditions_were_met_and_what_they_saw():
    payload = {
        "price_alert_id": 3, "name": "Breakout", "symbol": "MESZ6", "one_shot": True,
        "at": "2026-12-03T15:00:05+00:00",
        "values": {"conditions": [
            {"condition": 0, "kind": "crosses_above", "seen": "6001", "met": True},
            {"condition": 1, "kind": "sma_cross_above", "seen": {"fast": "12", "slow": "11"},
             "met": True},
            {"condition": 2, "kind": "rsi_below", "seen": "55", "met": False},
        ]},
    }  # fmt: skip
    told = render("price_alert", payload, NAMES, NOW)
    assert told.event_type is NotificationEvent.PRICE_ALERT
    assert told.message.title == "Price alert: Breakout (MESZ6)"
    assert told.message.text == (
        "Breakout on MESZ6 — crosses above: 6001; sma cross above: fast 12, slow 11. "
        "It was a one-shot alert and is now off."
    )
    assert told.symbol == "MESZ6"
