"""A broker that refuses the account itself (Tradovate's TradingLocked, LiquidationOnly…):
the order is recorded as `broker_locked`, the account is halted at once until the trader
lifts it, and nothing is retried — against the fake Tradovate over real sockets."""

import json

import pytest
from sqlalchemy import select

from app.brokers.errors import AccountLocked, OrderRejected
from app.brokers.tradovate import wire
from app.extensions import db
from app.models import AuditEntry
from app.services.records import events
from tests.conftest import TRADOVATE_CREDENTIALS, front


@pytest.fixture
def desk(app, api, make_account, make_strategy, fake_tradovate):
    """A Tradovate demo account with a trader on an MES strategy."""

    class Desk:
        fake = fake_tradovate
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

        def alert(self, alert_id: str, action: str = "buy"):
            body = {"action": action, "quantity": 1, "id": alert_id}
            return api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )

        def orders(self):
            return api.get(f"/api/orders?account_id={self.account['id']}").get_json()["items"]

        def risk(self):
            return api.get(f"/api/risk/{self.account['id']}").get_json()

        def placed(self) -> int:
            return len(self.fake.calls("order/placeorder"))

    fake_tradovate.set_price(front("MES"), "5000")
    return Desk()


@pytest.fixture
def heard():
    """The `account_halted` events published during the test."""
    seen: list[dict] = []

    def handler(name, payload):
        seen.append(payload)

    events.subscribe("account_halted", handler)
    yield seen
    events.unsubscribe("account_halted", handler)


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("TradingLocked", "Trading is locked for this account"),
        ("LiquidationOnly", "Account is in liquidation only mode"),
    ],
)
def test_an_alert_refused_for_a_locked_account_halts_it_until_the_trader_lifts_it(
    app, api, desk, heard, reason, text
):
    desk.fake.reject_next("order/placeorder", reason, text)

    first = desk.alert("first")

    assert first.status_code == 200 and first.get_json()["status"] == "failed"
    [order] = desk.orders()
    assert (order["status"], order["reject_code"]) == ("rejected", "broker_locked")
    assert order["reason"] == f"Tradovate: {text} ({reason})"
    risk = desk.risk()
    assert (risk["halted"], risk["halted_by"]) == (True, "broker_locked")
    assert text in risk["halt_reason"]
    [event] = heard
    assert (event["account_id"], event["halted_by"]) == (desk.account["id"], "broker_locked")
    with app.app_context():
        [entry] = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.account_id == desk.account["id"],
                AuditEntry.message.contains("halted (broker_locked)"),
            )
        ).all()
        assert entry.severity == "critical" and text in entry.message

    second = desk.alert("second")

    assert second.status_code == 423 and second.get_json()["error"]["code"] == "halted"
    assert desk.placed() == 1  # refused by the halt: the broker never heard of it

    lifted = api.delete(f"/api/accounts/{desk.account['id']}/halt")

    assert lifted.status_code == 200, lifted.get_json()
    assert desk.risk()["halted"] is False
    third = desk.alert("third")
    assert third.status_code == 200 and third.get_json()["status"] == "executed"
    assert desk.placed() == 2


def test_an_ordinary_rejection_does_not_halt_the_account(desk, heard):
    desk.fake.reject_next("order/placeorder", "InvalidPrice", "Price is out of range")

    first = desk.alert("first")

    assert first.get_json()["status"] == "failed"
    [order] = desk.orders()
    assert (order["status"], order["reject_code"]) == ("rejected", "broker_rejected")
    assert desk.risk()["halted"] is False and heard == []
    assert desk.alert("second").get_json()["status"] == "executed"
    assert desk.placed() == 2


def test_a_liquidation_only_account_is_still_flattened_by_the_kill_switch(api, desk):
    mes = front("MES")
    assert desk.alert("opening").get_json()["status"] == "executed"
    desk.fake.reject_next("order/placeorder", "LiquidationOnly", "Liquidation only")
    assert desk.alert("adding").get_json()["status"] == "failed"
    assert desk.risk()["halted_by"] == "broker_locked"

    answer = api.post("/api/kill-switch").get_json()

    assert answer["failures"] == [], answer
    assert len(desk.fake.calls("order/liquidateposition")) == 1
    assert desk.fake.position(720001, mes)["netPos"] == 0
    assert desk.risk()["halted_by"] == "broker_locked"  # the kill switch's halt does not replace it
    api.delete("/api/kill-switch")
    assert desk.risk()["halted_by"] == "broker_locked"  # nor does re-arming lift it


@pytest.mark.parametrize(
    ("reason", "closing_allowed"),
    [
        ("TradingLocked", False),
        ("AccountClosed", False),
        ("LiquidationOnly", True),
        ("LiquidationOnlyBeforeExpiration", True),
    ],
)
def test_tradovate_reasons_that_refuse_the_account_are_account_locked(reason, closing_allowed):
    with pytest.raises(AccountLocked) as refused:
        wire.parse_place({"failureReason": reason, "failureText": "no"})
    assert refused.value.closing_allowed is closing_allowed
    assert refused.value.message == f"Tradovate: no ({reason})"


def test_other_tradovate_reasons_are_plain_rejections():
    with pytest.raises(OrderRejected) as refused:
        wire.parse_place({"failureReason": "MaxPosLimitReached", "failureText": "no"})
    assert not isinstance(refused.value, AccountLocked)
