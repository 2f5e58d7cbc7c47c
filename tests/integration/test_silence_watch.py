"""The silence watchdog: a strategy that expects alerts and hears none, or a held symbol
whose market data went quiet, becomes one `alert_silence` event per silence, only while
the contract's CME session is open."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import WebhookEvent
from app.services.market import prices, sessions
from app.services.protection import monitor
from app.services.records import events
from tests.conftest import front


@pytest.fixture
def heard():
    told: list[dict] = []

    def hear(_event, payload):
        told.append(payload)

    events.subscribe("alert_silence", hear)
    yield told
    events.unsubscribe("alert_silence", hear)


@pytest.fixture
def session():
    """The next CME equity session after now: the tests tick inside it."""
    return sessions.next_session("CME_Equity", datetime.now(UTC))


def tick(app, at: datetime) -> None:
    with app.app_context():
        status = monitor.tick(at)
    assert status.errors == 0, status.last_error


@pytest.fixture
def watched(api, app, make_account, make_strategy):
    account = make_account("Paper", starting_balance="50000.00")
    strategy = make_strategy("Every bar", symbol="MES1!", expect_alert_every_minutes=10)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    return strategy


def alert_at(api, app, strategy, moment: datetime) -> None:
    answer = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"action": "buy"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():  # as if it had arrived then
        event_id = answer.get_json()["event_id"]
        db.session.execute(
            update(WebhookEvent).where(WebhookEvent.id == event_id).values(received_at=moment)
        )
        db.session.commit()


def test_no_alert_since_the_open_is_told_once(app, watched, session, heard):
    tick(app, session.opens - timedelta(minutes=30))  # the market is closed: no silence
    tick(app, session.opens + timedelta(minutes=9))
    assert [h for h in heard if h["kind"] == "alerts"] == []
    tick(app, session.opens + timedelta(minutes=11))
    [told] = [h for h in heard if h["kind"] == "alerts"]
    assert (told["strategy_id"], told["silent_minutes"]) == (watched["id"], 11)
    assert "none since the session opened" in told["message"]
    tick(app, session.opens + timedelta(minutes=15))
    assert len([h for h in heard if h["kind"] == "alerts"]) == 1


def test_an_alert_ends_the_silence_and_a_later_one_is_told_again(api, app, watched, session, heard):
    tick(app, session.opens + timedelta(minutes=11))
    alert_at(api, app, watched, session.opens + timedelta(minutes=20))
    tick(app, session.opens + timedelta(minutes=25))
    assert len([h for h in heard if h["kind"] == "alerts"]) == 1
    tick(app, session.opens + timedelta(minutes=31))
    later = [h for h in heard if h["kind"] == "alerts"][1]
    assert "the last alert was 11 min ago" in later["message"]


def test_a_quiet_feed_of_a_held_symbol_is_told_once_until_heard_again(
    api, app, make_account, session, heard
):
    account = make_account("Feeds", starting_balance="50000.00")
    symbol = front("MES")
    with app.app_context():
        prices.update(symbol, Decimal("6000"), datetime.now(UTC), "test")
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
    assert api.post("/api/orders", body).status_code == 201
    inside = session.opens + timedelta(hours=2)
    with app.app_context():
        prices.update(symbol, Decimal("6000"), inside - timedelta(seconds=60), "test")
    tick(app, inside)  # 60 s is not quiet yet
    assert heard == []
    tick(app, inside + timedelta(seconds=70))
    [told] = heard
    assert (told["kind"], told["symbol"], told["quiet_seconds"]) == ("market_data", symbol, 130)
    tick(app, inside + timedelta(seconds=80))
    assert len(heard) == 1
    with app.app_context():
        prices.update(symbol, Decimal("6001"), inside + timedelta(seconds=85), "test")
    tick(app, inside + timedelta(seconds=90))
    tick(app, inside + timedelta(seconds=300))
    assert len(heard) == 2  # heard again, then quiet again: a new silence
