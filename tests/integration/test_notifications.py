"""The outbox (DESIGN §4 "Notifications"): bus events become rows per channel that can send
and that the preferences want, the delivery job sends them — a burst as one message,
failures backed off, quiet hours held — and the API shows and steers it all. Delivery
goes through the real outgoing-webhook channel to a receiver on 127.0.0.1 that checks
the signature as the README tells a trader to."""

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import discord
import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Notification, User
from app.services.market import prices
from app.services.notify import delivery, outbox, summary
from app.workers.jobs import run_job
from app.workers.live_status import status_of
from app.workers.position_poller import BROKER_DOWN_AFTER, poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front, make_config
from tests.fakes.discord_api import TRADER_ID


@pytest.fixture
def trading(api, make_account, make_strategy):
    account = make_account("Paper", starting_balance="10000")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    return account, strategy


def alert(client, strategy: dict, action: str, price: str) -> None:
    response = client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", "action": action, "price": price}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()


def rows(app) -> list[Notification]:
    with app.app_context():
        found = list(db.session.scalars(select(Notification).order_by(Notification.id)))
        db.session.expunge_all()
        return found


def deliver(app, at: datetime | None = None) -> delivery.DeliveryReport:
    with app.app_context():
        return delivery.deliver_due(at or datetime.now(UTC), outbox.wired_channels())


def test_an_alert_that_fills_is_told_once_with_the_facts(app, client, hooked, trading):
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    written = rows(app)
    assert [(r.channel, r.event_type) for r in written] == [("webhook", "position_opened")]

    report = deliver(app)

    assert report.sent == 1
    [delivered] = hooked.received
    assert delivered.verified
    assert delivered.document["event_type"] == "position_opened"
    assert "long 1 " + front("MES") in delivered.document["title"]
    [row] = rows(app)
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert deliver(app).sent == 0  # sent once, never again


def test_an_alert_that_fills_sends_one_discord_dm_through_discord_py(
    app, client, trading, fake_discord
):
    app.config.update(DISCORD_API_BASE=fake_discord.url, DISCORD_BOT_TOKEN=fake_discord.token)
    with app.app_context():
        user = db.session.scalar(select(User))
        user.discord_user_id, user.discord_dm_enabled = str(TRADER_ID), True
        db.session.commit()
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    assert deliver(app).sent == 1

    [dm] = fake_discord.messages
    [embed] = dm["embeds"]
    symbol = front("MES")
    assert embed["title"] == f"Opened long 1 {symbol} @ 6000"
    assert embed["color"] == discord.Colour.blurple().value
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields == {
        "Account": "Paper",
        "Symbol": symbol,
        "Position": "long 1",
        "Price": "6000",
        "Strategy": "Trend",
    }
    assert deliver(app).sent == 0 and len(fake_discord.messages) == 1


def test_a_closed_position_carries_its_pnl_reason_and_duration(app, client, hooked, trading):
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    prices.update(front("MES"), Decimal("6004"), datetime.now(UTC), "test")
    alert(client, strategy, "sell", "6004")
    closed = [r for r in rows(app) if r.event_type == "position_closed"]
    assert len(closed) == 1
    fields = dict(closed[0].fields)
    assert fields["P&L"] == "+20" or fields["P&L"].startswith("+20")
    assert fields["Exit reason"] == "signal"
    assert "Held" in fields
    assert closed[0].tone == "good"


@pytest.fixture
def crash_after_commit():
    """The process dies right after a commit, before anything hears of it: the bus's
    post-commit publication never runs."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.services.records import events as bus

    event.remove(Session, "after_commit", bus._publish_committed)
    yield
    event.listen(Session, "after_commit", bus._publish_committed)


def test_the_outbox_row_is_kept_in_the_commit_that_made_the_news(
    app, client, hooked, trading, crash_after_commit
):
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    assert [r.event_type for r in rows(app)] == ["position_opened"]


def test_a_kill_switch_is_told_from_its_own_commit(app, api, hooked, crash_after_commit):
    api.post("/api/kill-switch", {})
    assert "kill_switch" in [r.event_type for r in rows(app)]


def test_news_that_rolls_back_writes_no_row(app, hooked, make_account):
    from app.services.records import events as bus

    account = make_account("Paper", starting_balance="10000")
    with app.app_context():
        bus.publish_after_commit(
            db.session(),
            "account_halted",
            {
                "account_id": account["id"],
                "account": "Paper",
                "halted": True,
                "kind": "manual",
                "reason": "never kept",
                "actor": "test",
                "at": datetime.now(UTC).isoformat(),
            },
        )
        db.session.flush()
        db.session.rollback()
    assert rows(app) == []


def test_nothing_is_written_while_no_channel_can_send(app, client, trading):
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    assert rows(app) == []


def test_preferences_turn_an_event_off_per_channel(app, api, client, hooked, trading):
    _, strategy = trading
    response = api.put(
        "/api/notifications/preferences",
        {"events": {"position_opened": {"webhook": False}}},
    )
    assert response.status_code == 200
    assert response.get_json()["events"]["position_opened"]["webhook"] is False
    assert response.get_json()["events"]["position_closed"]["webhook"] is True
    alert(client, strategy, "buy", "6000")
    assert [r.event_type for r in rows(app)] == []


def test_filters_narrow_trading_news_but_not_alarms(app, api, client, hooked, trading):
    account, strategy = trading
    other = api.post("/api/accounts", {"name": "Other", "broker": "paper"}).get_json()
    api.put("/api/notifications/preferences", {"filters": {"account_ids": [other["id"]]}})
    alert(client, strategy, "buy", "6000")
    assert rows(app) == []  # the filled account is not among the filtered ones
    assert api.post("/api/kill-switch", {"reason": "test"}).status_code in (200, 201)
    assert "kill_switch" in [r.event_type for r in rows(app)]


def test_quiet_hours_hold_all_but_the_alarms(app, api, client, hooked, trading):
    _, strategy = trading
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=2)).strftime("%H:%M")
    api.put("/api/notifications/preferences", {"quiet_hours": {"start": start, "end": end}})
    alert(client, strategy, "buy", "6000")
    api.post("/api/kill-switch", {"reason": "test"})
    by_event = {r.event_type: r for r in rows(app)}
    held_until = by_event["position_opened"].next_attempt_at
    assert held_until > now + timedelta(hours=1)
    assert held_until.astimezone(UTC).strftime("%H:%M") == end
    assert by_event["kill_switch"].next_attempt_at <= datetime.now(UTC)

    deliver(app)  # the alarms now (the kill switch halted the account too: one message)
    [now_told] = hooked.received
    assert "Kill switch engaged" in json.dumps(now_told.document)
    still_held = {r.event_type for r in rows(app) if r.status == "pending"}
    assert "position_opened" in still_held and "kill_switch" not in still_held
    deliver(app, at=held_until + timedelta(seconds=1))
    assert "Opened long 1" in json.dumps(hooked.received[-1].document)
    assert {r.status for r in rows(app)} == {"sent"}


def test_a_burst_is_one_message(app, hooked):
    with app.app_context():
        now = datetime.now(UTC)
        for n in range(10):
            db.session.add(
                Notification(
                    channel="webhook",
                    event_type="order_filled",
                    title=f"fill {n}",
                    text=f"fill {n}",
                    fields=[],
                    tone="info",
                    occurred_at=now,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        db.session.commit()
    report = deliver(app)
    assert report.sent == 10
    [delivered] = hooked.received
    assert delivered.document["title"] == "10 updates"
    assert "fill 9" in delivered.document["text"]
    assert {r.status for r in rows(app)} == {"sent"}


def test_a_failed_delivery_backs_off_then_goes_out(app, api, hooked):
    hooked.answer_next(500, "down for maintenance")
    assert api.post("/api/notifications/test").status_code == 202
    now = datetime.now(UTC)
    report = deliver(app, at=now)
    assert report.retrying == 1
    [row] = rows(app)
    assert row.status == "pending" and row.attempts == 1 and "500" in row.last_error
    assert now + timedelta(seconds=4) <= row.next_attempt_at <= now + timedelta(seconds=11)
    assert deliver(app, at=now + timedelta(seconds=1)).sent == 0  # not before its time

    assert deliver(app, at=row.next_attempt_at).sent == 1
    [row] = rows(app)
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None


def test_a_refusal_for_good_fails_the_row_with_the_channel_s_words(app, api, hooked):
    hooked.answer_next(410, "gone")
    api.post("/api/notifications/test")
    assert deliver(app).failed == 1
    [row] = rows(app)
    assert row.status == "failed" and "410" in row.last_error
    listed = api.get("/api/notifications?status=failed").get_json()["items"]
    assert [item["id"] for item in listed] == [row.id]
    assert listed[0]["last_error"] == row.last_error
    with app.app_context():  # and the status header says so
        told = status_of(app, leader=True)["notifications"]
    assert told == {"pending": 0, "failed_today": 1, "last_error": f"webhook: {row.last_error}"}


def test_an_outbox_row_survives_a_restart(app, api, hooked, tmp_path):
    hooked.answer_next(503)
    api.post("/api/notifications/test")
    deliver(app)  # failed once: still pending
    with app.app_context():
        db.engine.dispose()
    restarted = create_app(make_config(tmp_path))
    with restarted.app_context():
        row = db.session.scalar(select(Notification))
        later = row.next_attempt_at + timedelta(seconds=1)
    assert deliver(restarted, at=later).sent == 1
    assert hooked.received[-1].document["event_type"] == "test"


def test_the_test_needs_a_channel_that_can_send(api):
    response = api.post("/api/notifications/test")
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["code"] == "no_channel_ready"
    assert set(body["fields"]) == {"discord", "email", "sms", "webhook"}


def test_preferences_refuse_unknown_events_and_half_quiet_hours(api):
    bad = api.put("/api/notifications/preferences", {"events": {"lunch": {"webhook": True}}})
    assert bad.status_code == 400
    half = api.put("/api/notifications/preferences", {"quiet_hours": {"start": "22:00"}})
    assert half.status_code == 400
    assert api.put("/api/notifications/preferences", {"digest": True}).status_code == 400


def test_the_webhook_signing_secret_is_shown_once_when_made(app, api, webhook_receiver):
    api.put("/api/settings", {"outgoing_webhook_url": webhook_receiver.url})
    refused = api.post("/api/notifications/test").get_json()["error"]["fields"]
    assert refused["webhook"] == "The outgoing webhook has no signing secret yet."
    made = api.post("/api/notifications/webhook-secret")
    assert made.status_code == 201
    secret = made.get_json()["secret"]
    assert len(secret) >= 32
    assert secret not in json.dumps(api.get("/api/settings").get_json())
    assert api.get("/api/settings").get_json()["outgoing_webhook_secret_set"] is True
    webhook_receiver.secret = secret
    assert api.post("/api/notifications/test").status_code == 202
    assert deliver(app).sent == 1
    assert webhook_receiver.received[-1].verified


def test_channel_secrets_are_write_only(api, app, caplog):
    secrets = {
        "smtp_password": "hunter2-smtp",
        "textbelt_key": "tb-key-123456",
        "discord_bot_token": "bot.token.secret",
    }
    response = api.put(
        "/api/settings",
        {
            **secrets,
            "smtp_host": "mail.example.com",
            "email_to": ["me@example.com"],
            "daily_summary_time": "17:15",
        },
    )
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    assert shown["smtp_password_set"] and shown["textbelt_key_set"]
    assert shown["discord_bot_token_set"]
    assert shown["daily_summary_time"] == "17:15" and shown["email_to"] == ["me@example.com"]
    text = json.dumps(shown) + json.dumps(api.get("/api/settings").get_json())
    for value in secrets.values():
        assert value not in text
        assert value not in caplog.text
    with app.app_context():
        user = db.session.scalar(select(User))
        assert "hunter2-smtp" not in (user.smtp_password_encrypted or "")
        assert user.daily_summary_time == time(17, 15)
    cleared = api.put("/api/settings", {"smtp_password": None}).get_json()
    assert cleared["smtp_password_set"] is False


def test_the_daily_summary_is_queued_once_at_its_time(app, api, client, hooked, trading):
    _, strategy = trading
    alert(client, strategy, "buy", "6000")
    prices.update(front("MES"), Decimal("6004"), datetime.now(UTC), "test")
    alert(client, strategy, "sell", "6004")
    now = datetime.now(UTC)
    api.put(
        "/api/settings",
        {"timezone": "UTC", "daily_summary_time": (now - timedelta(minutes=1)).strftime("%H:%M")},
    )
    with app.app_context():
        [row] = summary.send_if_due(now)
        assert row.title == "Daily summary: 1 trade, 100 % won, net +20"
        assert summary.send_if_due(now + timedelta(minutes=1)) == []  # once a day


def test_a_job_that_starts_failing_is_told_once(app, hooked):
    def broken():
        raise RuntimeError("disk full")

    for _ in range(3):
        run_job(app, "equity_snapshots", broken)
    told = [r for r in rows(app) if r.event_type == "job_failed"]
    assert len(told) == 1
    assert "disk full" in told[0].text and told[0].next_attempt_at <= datetime.now(UTC)


def test_a_broker_that_stays_down_is_told_once_not_at_its_first_blip(app, hooked, make_account):
    app.config["TRADOVATE_API_URL"] = "http://127.0.0.1:9/v1"  # nothing listens there
    make_account("Tradovate", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    start = datetime.now(UTC)
    with app.app_context():
        poll_accounts(app, start)
        assert [r.event_type for r in rows(app)] == []  # a blip is not news
        poll_accounts(app, start + BROKER_DOWN_AFTER)
        poll_accounts(app, start + BROKER_DOWN_AFTER * 2)
    [told] = [r for r in rows(app) if r.event_type == "broker_disconnected"]
    assert told.title == "Broker disconnected" and "Tradovate" in told.text


def test_a_secret_the_key_cannot_read_counts_as_unset_not_as_a_server_error(app, api):
    api.put("/api/settings", {"textbelt_key": "tb-key-0001", "sms_to": ["+15551234567"]})
    with app.app_context():
        user = db.session.scalar(select(User))
        user.textbelt_key_encrypted = "gAAAAA-not-a-fernet-token"  # as after a key change
        db.session.commit()
    states = api.get("/api/notifications/channels")
    assert states.status_code == 200
    assert states.get_json()["sms"]["ready"] is False
    refused = api.post("/api/notifications/test")
    assert refused.status_code == 422
    assert "sms" in refused.get_json()["error"]["fields"]


# --- the publishers of the rest of DESIGN §5.4's event types ---------------------------------


def tick_at(app, price: str) -> None:
    from app.services.protection import monitor

    now = datetime.now(UTC)
    prices.update(front("MES"), Decimal(price), now, "test")
    with app.app_context():
        monitor.tick(now)


def test_a_trailing_stop_move_is_told_when_asked_for(app, api, client, hooked, trading):
    account, strategy = trading
    api.put("/api/notifications/preferences", {"events": {"stop_moved": {"webhook": True}}})
    alert(client, strategy, "buy", "6000")
    [position] = api.get(f"/api/positions?account_id={account['id']}").get_json()["items"]
    api.post("/api/orders/trailing-stop", {"position_id": position["id"], "ticks": 8})
    tick_at(app, "6000")
    tick_at(app, "6003")  # best 6003: the stop moves from 5998 to 6001

    moved = [r for r in rows(app) if r.event_type == "stop_moved"]
    assert [r.title for r in moved] == [f"Stop moved to 6001 on long {front('MES')}"]
    assert "from 5998 to 6001" in moved[0].text
    tick_at(app, "6002")  # no move, no news
    assert len([r for r in rows(app) if r.event_type == "stop_moved"]) == 1


def test_stop_moves_stay_quiet_by_default(app, api, client, hooked, trading):
    account, strategy = trading
    alert(client, strategy, "buy", "6000")
    [position] = api.get(f"/api/positions?account_id={account['id']}").get_json()["items"]
    api.post("/api/orders/trailing-stop", {"position_id": position["id"], "ticks": 8})
    tick_at(app, "6000")
    tick_at(app, "6003")
    assert "stop_moved" not in [r.event_type for r in rows(app)]


def test_an_alert_every_limit_refuses_is_told_as_a_risk_limit(app, api, client, hooked, trading):
    account, strategy = trading
    api.put(f"/api/risk/{account['id']}", {"max_contracts_per_order": 1})
    response = client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", "action": "buy", "quantity": 2}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    [row] = rows(app)
    assert (row.event_type, row.title) == ("risk_limit", "Risk limit reached: Trend")
    assert "placed nothing" in row.text


def test_a_rule_running_low_then_out_is_told_once_each(app, api, hooked, make_account):
    account = make_account("Funded", starting_balance="50000")
    api.put(f"/api/risk/{account['id']}", {"daily_profit_target": "100"})
    prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 2}
    assert api.post("/api/orders", body).status_code == 201
    tick_at(app, "6008.5")  # +$85 of $100: 15 left, under a fifth of the room
    tick_at(app, "6009")  # still low: not told again
    told = [(r.event_type, r.title) for r in rows(app) if r.event_type.startswith("rule_")]
    assert told == [("rule_warning", "Funded: daily profit target rule nearly reached")]
    tick_at(app, "6010")  # +$100: reached
    told = [r.event_type for r in rows(app) if r.event_type.startswith("rule_")]
    assert told == ["rule_warning", "rule_breached"]


def test_an_event_whose_payload_cannot_be_built_never_undoes_its_commit(app, hooked):
    """The news is not the trade: a failing payload builder is logged, and the rows its
    transaction wrote are kept."""
    from app.models import AuditEntry
    from app.services.records import events as bus

    def broken() -> dict:
        raise RuntimeError("a payload that cannot be built")

    with app.app_context():
        db.session.add(AuditEntry(category="system", severity="info", message="kept"))
        bus.publish_after_commit(db.session(), "kill_switch", broken)
        db.session.commit()
        kept = db.session.scalar(select(AuditEntry).where(AuditEntry.message == "kept"))
        assert kept is not None
    assert rows(app) == []


def test_the_owner_is_read_once_per_commit_however_much_news_it_makes(
    app, api, client, hooked, trading
):
    """A fill and the position it opens are told from one ledger commit: the settings,
    names and preferences are read once for both, inside the ledger's write."""
    from sqlalchemy import event as sa_event

    _, strategy = trading
    api.put("/api/notifications/preferences", {"events": {"order_filled": {"webhook": True}}})
    reads = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM users" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        alert(client, strategy, "buy", "6000")
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    told = sorted(r.event_type for r in rows(app))
    assert told == ["order_filled", "position_opened"]  # two pieces of news, one commit
    # One read per commit that carries news: the fill and the position it opens share the
    # ledger's (read apart, they made four).
    assert len(reads) == 3, reads
