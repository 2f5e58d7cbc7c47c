"""Alerts a crash left `received` are settled with the broker's truth (issue 9)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.contracts import resolve_symbol
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.vocabulary import OrderRole, OrderType, Side
from app.extensions import db
from app.models import AuditEntry, BrokerAccount, Order, WebhookEvent
from app.services.market import prices
from app.services.setup.access import broker_for
from app.services.trading import orders, recovery
from app.services.trading.orders import Attribution, OrderIntent
from app.workers import alert_recovery
from tests.conftest import TRADOVATE_CREDENTIALS, front


class Stranded:
    """A strategy with one trader, and alerts stored as a killed process leaves them."""

    def __init__(self, api, account: dict, strategy: dict) -> None:
        self.api = api
        self.account_id = account["id"]
        self.strategy = strategy
        trader = api.post(
            "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
        ).get_json()
        self.trader_id = trader["id"]
        self.stored_at = datetime.now(UTC) - timedelta(seconds=5)

    def alert(self, alert_id: str, received_at: datetime | None = None) -> WebhookEvent:
        """An alert stored `received`, as the moment before its traders were handled."""
        event = WebhookEvent(
            strategy_id=self.strategy["id"],
            received_at=received_at or self.stored_at,
            content_type="application/json",
            raw_body=json.dumps({"action": "buy", "id": alert_id}),
            idempotency_key=f"id:{alert_id}",
            signal={"action": "buy", "alert_id": alert_id},
        )
        db.session.add(event)
        db.session.commit()
        return event

    def intent(self, side=Side.BUY, qty=1, **terms) -> OrderIntent:
        contract = resolve_symbol("MES1!", datetime.now(UTC).date())
        return OrderIntent(self.account_id, contract, side, qty, OrderRole.ENTRY, **terms)

    def attribution(self, event: WebhookEvent) -> Attribution:
        return Attribution(self.strategy["id"], self.trader_id, event.id)

    def unsent(self, event: WebhookEvent, side=Side.SELL, qty=2) -> Order:
        """An order row committed before its broker call, the call never made."""
        row = orders.new_row(self.intent(side, qty), self.attribution(event))
        db.session.add(row)
        db.session.commit()
        return row

    def broker(self):
        return broker_for(db.session.get(BrokerAccount, self.account_id))

    def resend(self, payload: dict) -> dict:
        response = self.api.client.post(
            f"/webhook/{self.strategy['webhook_token']}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def reload(event: WebhookEvent) -> WebhookEvent:
    db.session.expire_all()
    return db.session.get(WebhookEvent, event.id)


def settle(stranded: Stranded) -> list[WebhookEvent]:
    return recovery.settle_stranded_alerts(stranded.stored_at + timedelta(seconds=1))


@pytest.fixture
def paper(app, api, make_account, make_strategy):
    stranded = Stranded(api, make_account("Paper"), make_strategy("Trend", symbol="MES1!"))
    with app.app_context():
        prices.update(front("MES"), Decimal(5000), datetime.now(UTC), "test")
        yield stranded


def test_paper_alerts_left_received_are_settled_from_their_orders(paper):
    filled = paper.alert("filled")
    [entry] = orders.place(paper.broker(), paper.intent(), paper.attribution(filled))
    assert entry.status == "filled"  # the fill was saved; the alert's conclusion was not
    bracket = paper.alert("bracket")
    exits = {"take_profit": ExitSpec(OffsetUnit.TICKS, Decimal(8))}
    limit = paper.intent(order_type=OrderType.LIMIT, limit_price=Decimal(4990), **exits)
    held = orders.place(paper.broker(), limit, paper.attribution(bracket))
    assert [row.status for row in held] == ["working", "pending"]  # the exit held at venue
    unsent = paper.alert("unsent")
    never_sent = paper.unsent(unsent)
    empty = paper.alert("empty")
    late = paper.alert("in flight", received_at=datetime.now(UTC))

    settled = settle(paper)

    assert [event.id for event in settled] == [filled.id, bracket.id, unsent.id, empty.id]
    statuses = {e.signal["alert_id"]: reload(e).status for e in (filled, bracket, unsent, empty)}
    assert statuses == {
        "filled": "executed",
        "bracket": "executed",
        "unsent": "failed",
        "empty": "expired",
    }
    assert reload(late).status == "received"  # arrived after the cut: not ours to settle
    assert all(reload(e).reason.startswith("DeskPilot stopped") for e in settled)
    assert "never reached the broker" in reload(unsent).reason
    assert "no order had been placed" in reload(empty).reason
    row = db.session.get(Order, never_sent.id)
    assert (row.status, row.side, row.quantity) == ("failed", "sell", 2)
    assert "never reached the broker" in row.reason
    assert [p.qty for p in paper.broker().positions()] == [1]  # nothing sent again
    audited = db.session.scalars(
        select(AuditEntry.message).where(AuditEntry.message.contains("left undecided"))
    ).all()
    assert len(audited) == 4


def test_the_minutely_sweep_leaves_alerts_another_process_may_still_handle(paper):
    now = datetime.now(UTC)
    old = paper.alert("old", received_at=now - alert_recovery.IN_FLIGHT - timedelta(seconds=1))
    young = paper.alert("young", received_at=now - timedelta(seconds=30))
    alert_recovery.sweep()
    assert (reload(old).status, reload(young).status) == ("expired", "received")


def test_a_resent_alert_answers_duplicate_with_its_settled_orders(paper):
    filled = paper.alert("tv-1")
    [entry] = orders.place(paper.broker(), paper.intent(), paper.attribution(filled))
    unsent = paper.alert("tv-2")
    never_sent = paper.unsent(unsent)
    settle(paper)
    first = paper.resend({"action": "buy", "quantity": 1, "id": "tv-1"})
    assert (first["status"], first["event_id"]) == ("duplicate", filled.id)
    assert [(o["id"], o["status"]) for o in first["orders"]] == [(entry.id, "filled")]
    second = paper.resend({"action": "sell", "quantity": 2, "id": "tv-2"})
    assert [(o["id"], o["status"]) for o in second["orders"]] == [(never_sent.id, "failed")]
    assert "never reached the broker" in second["reason"]
    assert len(db.session.scalars(select(Order)).all()) == 2


@pytest.fixture
def tradovate(app, api, make_account, make_strategy, fake_tradovate):
    account = make_account("Tradovate demo", broker="tradovate", credentials=TRADOVATE_CREDENTIALS)
    stranded = Stranded(api, account, make_strategy("Trend", symbol="MES1!"))
    stranded.fake = fake_tradovate
    fake_tradovate.set_price(front("MES"), "5000")
    with app.app_context():
        yield stranded


def test_tradovate_orders_left_pending_are_looked_up_by_their_client_order_id(tradovate):
    reached = tradovate.alert("reached")
    lost = tradovate.unsent(reached, Side.BUY, 1)
    # The broker call went out; the process died before it recorded the answer.
    tradovate.broker().place_order(orders.request_of(lost))
    assert db.session.get(Order, lost.id).broker_order_id is None
    unknown = tradovate.alert("unknown")
    never_sent = tradovate.unsent(unknown)

    settle(tradovate)

    row = db.session.get(Order, lost.id)
    assert (row.status, row.filled_quantity, row.avg_fill_price) == ("filled", 1, Decimal(5000))
    assert row.broker_order_id == str(tradovate.fake.order_for(lost.client_order_id)["id"])
    assert reload(reached).status == "executed"
    assert "filled at the broker" in reload(reached).reason
    assert db.session.get(Order, never_sent.id).status == "failed"
    assert reload(unknown).status == "failed"
    assert tradovate.fake.placed == {lost.client_order_id: 1}  # nothing sent, nothing twice


def test_an_order_that_cannot_be_checked_fails_its_alert_and_stays_pending(tradovate):
    tradovate.broker().positions()  # signed in: only the look-up fails
    unchecked = tradovate.alert("unchecked")
    row = tradovate.unsent(unchecked)
    tradovate.fake.fail_next("command/list", status=503, times=3)
    settle(tradovate)
    event = reload(unchecked)
    assert event.status == "failed"
    assert "could not be checked at the broker" in event.reason and "503" in event.reason
    assert db.session.get(Order, row.id).status == "pending"  # its fate is not known
    assert not tradovate.fake.placed
