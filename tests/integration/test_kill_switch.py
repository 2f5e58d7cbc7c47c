"""The kill switch (DESIGN §4): every account flat, nothing working, all halted, alerts
refused with 423 — on paper and on Tradovate (the fake), even when one broker fails."""

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.brokers.errors import TemporaryBrokerError
from app.brokers.paper.broker import PaperBroker
from app.domain.vocabulary import HaltKind
from app.extensions import db
from app.models import AuditEntry, RiskLimits, SystemState
from app.services.market import prices
from app.services.protection import kill_switch
from app.services.records import events
from config import TestConfig
from tests.conftest import TRADOVATE_CREDENTIALS, front, make_config

ROOT = Path(__file__).resolve().parents[2]
OPEN = {"working", "pending"}


def now() -> datetime:
    return datetime.now(UTC)


def set_price(app, root: str, price: str) -> None:
    with app.app_context():
        prices.update(front(root), Decimal(price), now(), "test")


class Desk:
    """The JSON API as the trader's scripts use it, with the questions these tests ask."""

    def __init__(self, api):
        self.api = api

    def order(self, account, symbol="MES1!", side="buy", qty=1, **fields):
        body = {"account_id": account["id"], "symbol": symbol, "side": side, "qty": qty, **fields}
        response = self.api.post("/api/orders", body)
        return response

    def placed(self, account, **fields):
        response = self.order(account, **fields)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["status"] in ("filled", "working"), response.get_json()
        return response.get_json()

    def positions(self, account=None):
        query = f"?account_id={account['id']}" if account else ""
        return self.api.get(f"/api/positions{query}").get_json()["items"]

    def orders(self, account):
        return self.api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]

    def working(self, account):
        return [o for o in self.orders(account) if o["status"] in OPEN]

    def trades(self, account):
        return self.api.get(f"/api/trades?account_id={account['id']}").get_json()["items"]

    def risk(self, account):
        return self.api.get(f"/api/risk/{account['id']}").get_json()

    def engage(self):
        response = self.api.post("/api/kill-switch")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def rearm(self):
        response = self.api.delete("/api/kill-switch")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def alert(self, strategy, payload):
        return self.api.client.post(
            f"/webhook/{strategy['webhook_token']}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )


@pytest.fixture
def desk(api):
    return Desk(api)


@pytest.fixture
def two_paper(app, make_account, desk):
    """Two paper accounts: one long MES with a bracket and a resting limit, one short MNQ."""
    first = make_account("Paper A", starting_balance="25000.00")
    second = make_account("Paper B", starting_balance="25000.00")
    set_price(app, "MES", "6000.25")
    set_price(app, "MNQ", "21000.50")
    desk.placed(first, qty=2, take_profit={"ticks": 8}, stop_loss={"ticks": 8})
    desk.placed(first, order_type="limit", limit_price="5990.00")
    desk.placed(second, symbol="MNQ1!", side="sell", qty=1)
    assert len(desk.working(first)) == 3
    return first, second


@pytest.fixture
def strategy(make_strategy, api):
    def route(*accounts, **fields):
        made = make_strategy(fields.pop("name", "MES trend"), symbol="MES1!", **fields)
        for account in accounts:
            response = api.post(
                "/api/traders", {"strategy_id": made["id"], "account_id": account["id"]}
            )
            assert response.status_code == 201, response.get_json()
        return made

    return route


# --- paper -------------------------------------------------------------------------------


def test_kill_switch_leaves_every_paper_account_flat_without_orders_and_halted(
    app, desk, two_paper
):
    first, second = two_paper
    set_price(app, "MES", "6001.00")

    answer = desk.engage()

    assert answer["engaged"] is True
    assert answer["cancelled_orders"] == 3  # take profit, stop loss, resting limit
    assert answer["flattened_positions"] == 2
    assert answer["failures"] == []
    # Filled at once: the broker read again shows nothing, so no second round.
    assert [a["rounds"] for a in answer["accounts"]] == [1, 1]
    assert desk.positions() == []
    for account in (first, second):
        assert desk.working(account) == []
        risk = desk.risk(account)
        assert risk["halted"] is True
        assert risk["halted_by"] == "kill_switch"
        assert risk["halt_reason"].startswith("kill switch:")
        assert risk["halted_at"] is not None
    kills = [o for o in desk.orders(first) if o["role"] == "kill"]
    assert [(k["side"], k["qty"], k["status"]) for k in kills] == [("sell", 2, "filled")]
    cancelled = [o for o in desk.orders(first) if o["status"] == "cancelled"]
    assert {o["reason"] for o in cancelled} == {kill_switch.CANCEL_REASON}
    [trade] = desk.trades(first)
    assert (trade["exit_reason"], trade["pnl"]) == ("kill_switch", "7.50")  # 0.75 x $5 x 2
    [short] = desk.trades(second)
    assert (short["side"], short["exit_reason"]) == ("short", "kill_switch")
    state = desk.api.get("/api/kill-switch").get_json()
    assert state["engaged"] is True and state["engaged_at"] == answer["engaged_at"]
    assert "engaged by" in state["reason"]


def test_engaging_is_recorded_as_a_critical_audit_entry_and_published(app, desk, two_paper):
    heard = []
    handler = lambda name, payload: heard.append((name, payload))  # noqa: E731
    events.subscribe("kill_switch", handler)
    events.subscribe("account_halted", handler)
    try:
        desk.engage()
    finally:
        events.unsubscribe("kill_switch", handler)
        events.unsubscribe("account_halted", handler)
    [payload] = [payload for name, payload in heard if name == "kill_switch"]
    assert payload["engaged"] is True and payload["flattened_positions"] == 2
    assert payload["actor"] == "owner (api token)"
    halted = [payload for name, payload in heard if name == "account_halted"]
    assert {(p["account"], p["halted_by"], p["actor"]) for p in halted} == {
        ("Paper A", "kill_switch", "owner (api token)"),
        ("Paper B", "kill_switch", "owner (api token)"),
    }
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.category == "kill_switch").order_by(AuditEntry.id)
        ).all()
        *halts, entry = entries
        assert entry.severity == "critical"
        assert "2 positions flattened, 2 accounts halted" in entry.message
        assert entry.actor == "owner (api token)"
        assert {item["account"] for item in entry.data["accounts"]} == {"Paper A", "Paper B"}
        assert [(h.account_id, h.data["halted_by"]) for h in halts] == [
            (two_paper[0]["id"], "kill_switch"),
            (two_paper[1]["id"], "kill_switch"),
        ]


def test_alerts_are_refused_with_423_while_engaged_and_place_nothing(
    app, desk, two_paper, strategy
):
    first, _ = two_paper
    trend = strategy(first)
    desk.engage()
    before = len(desk.orders(first))

    response = desk.alert(trend, {"action": "buy", "quantity": 1})

    assert response.status_code == 423
    assert response.get_json()["error"]["code"] == "halted"
    assert len(desk.orders(first)) == before
    [event] = desk.api.get(f"/api/webhook-events?strategy_id={trend['id']}").get_json()["items"]
    assert event["status"] == "rejected" and "kill switch" in event["reason"]


def test_a_failing_paper_broker_is_retried_then_reported_and_the_others_are_still_flattened(
    app, desk, two_paper, monkeypatch
):
    first, second = two_paper
    real_flatten = PaperBroker.flatten

    def flatten(self, symbol, client_order_id):
        if self.account_id == second["id"]:
            raise TemporaryBrokerError("paper venue unreachable")
        return real_flatten(self, symbol, client_order_id)

    monkeypatch.setattr(PaperBroker, "flatten", flatten)

    answer = desk.engage()

    assert answer["flattened_positions"] == 1
    [failure] = answer["failures"]
    assert (failure["account_id"], failure["account"]) == (second["id"], "Paper B")
    assert "still -1 at the broker after 3 rounds: paper venue unreachable" in failure["message"]
    assert desk.positions(first) == [] and desk.working(first) == []
    kills = [o for o in desk.orders(second) if o["role"] == "kill"]
    assert len(kills) == app.config["KILL_SWITCH_ROUNDS"] == 3  # one per round, none more
    assert {(k["status"], k["reason"]) for k in kills} == {("failed", "paper venue unreachable")}
    assert desk.risk(second)["halted"] is True


def test_while_engaged_orders_that_reduce_are_allowed_and_new_exposure_is_refused(
    app, desk, two_paper, make_account, monkeypatch
):
    _, second = two_paper

    def down(self, symbol, client_order_id):
        raise TemporaryBrokerError("paper venue unreachable")

    monkeypatch.setattr(PaperBroker, "flatten", down)
    desk.engage()  # leaves Paper B short: the trader gets out by hand
    monkeypatch.undo()
    late = make_account("Paper late", starting_balance="25000.00")  # not halted: made after

    adding = desk.order(second, symbol="MNQ1!", side="sell", qty=1)
    fresh = desk.order(late, qty=1)
    reducing = desk.order(second, symbol="MNQ1!", side="buy", qty=1)

    assert adding.status_code == 423 and adding.get_json()["error"]["code"] == "halted"
    assert fresh.status_code == 423 and fresh.get_json()["error"]["code"] == "halted"
    assert reducing.status_code == 201 and reducing.get_json()["status"] == "filled"
    assert desk.positions(second) == []
    refused = [o for o in desk.orders(late) if o["status"] == "rejected"]
    assert [o["reason"] for o in refused] == ["kill switch engaged: no new exposure"]


# --- re-arming and restarts --------------------------------------------------------------


def test_rearming_lifts_only_the_kill_switch_halts_and_executes_alerts_again(
    app, desk, make_account, strategy
):
    paper = make_account("Paper", starting_balance="25000.00")
    lossy = make_account("Paper lossy", starting_balance="25000.00")
    set_price(app, "MES", "6000.25")
    with app.app_context():
        limits = db.session.scalar(select(RiskLimits).where(RiskLimits.account_id == lossy["id"]))
        limits.halted, limits.halted_by = True, HaltKind.DAILY_LOSS
        limits.halted_reason = "daily loss limit reached"
        db.session.commit()
    trend = strategy(paper)
    desk.engage()
    assert desk.alert(trend, {"action": "buy", "quantity": 1, "id": "a1"}).status_code == 423

    answer = desk.rearm()

    assert answer == {
        "engaged": False,
        "engaged_at": None,
        "engaged_by": None,
        "cancelled_orders": 0,
        "flattened_positions": 0,
        "failures": [],
        "accounts": [],
        "released_accounts": ["Paper"],
    }
    assert desk.risk(paper)["halted"] is False and desk.risk(paper)["halt_reason"] is None
    assert desk.risk(paper)["halted_by"] is None
    assert desk.risk(lossy)["halted_by"] == "daily_loss"
    assert desk.risk(lossy)["halt_reason"] == "daily loss limit reached"
    assert desk.api.get("/api/kill-switch").get_json()["engaged"] is False
    response = desk.alert(trend, {"action": "buy", "quantity": 1, "id": "a2"})
    assert response.status_code == 200 and response.get_json()["status"] == "executed"
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.category == "kill_switch")
            .order_by(AuditEntry.id.desc())
        ).all()
        assert "re-armed" in entries[0].message and "Paper lossy" in entries[0].message


def test_the_engaged_state_survives_a_restart(app, tmp_path, desk, make_account, strategy):
    paper = make_account("Paper", starting_balance="25000.00")
    trend = strategy(paper)
    desk.engage()
    with app.app_context():
        old_engine = db.engine

    restarted = create_app(make_config(tmp_path))  # a new process on the same database
    old_engine.dispose()

    with restarted.app_context():
        assert kill_switch.is_engaged() is True
        assert db.session.get(SystemState, 1).kill_switch_actor == "owner (api token)"
    response = restarted.test_client().post(
        f"/webhook/{trend['webhook_token']}",
        data=json.dumps({"action": "buy", "quantity": 1}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 423


def test_engaging_twice_sweeps_again_and_keeps_the_first_time(app, desk, two_paper):
    first_answer = desk.engage()
    second_answer = desk.engage()
    assert second_answer["engaged_at"] == first_answer["engaged_at"]
    assert (second_answer["cancelled_orders"], second_answer["flattened_positions"]) == (0, 0)


# --- one account -------------------------------------------------------------------------


def test_flatten_and_halt_clears_one_account_and_the_kill_switch_does_not_lift_it(
    app, desk, two_paper
):
    first, second = two_paper
    with app.app_context():
        result = kill_switch.flatten_and_halt(
            first["id"], HaltKind.DAILY_LOSS, "daily loss limit crossed", now()
        )
    assert result.ok and (result.cancelled_orders, result.flattened_positions) == (3, 1)
    assert desk.positions(first) == [] and desk.working(first) == []
    assert desk.risk(first)["halt_reason"] == "daily loss limit crossed"
    assert desk.risk(first)["halted_by"] == "daily_loss"
    assert len(desk.positions(second)) == 1 and desk.risk(second)["halted"] is False
    assert desk.api.get("/api/kill-switch").get_json()["engaged"] is False
    [trade] = desk.trades(first)
    assert trade["exit_reason"] == "kill_switch"

    desk.engage()
    desk.rearm()

    assert desk.risk(first)["halted_by"] == "daily_loss"
    assert desk.risk(second)["halted"] is False


def test_flatten_and_halt_replaces_a_kill_switch_halt_with_its_own_kind(app, desk, two_paper):
    first, _ = two_paper
    desk.engage()
    with app.app_context():
        kill_switch.flatten_and_halt(
            first["id"], HaltKind.DAILY_LOSS, "daily loss limit crossed", now()
        )
    desk.rearm()
    assert desk.risk(first)["halted_by"] == "daily_loss"
    assert desk.risk(first)["halt_reason"] == "daily loss limit crossed"


# --- bulk close --------------------------------------------------------------------------


def test_bulk_close_answers_per_position(app, desk, two_paper):
    first, second = two_paper
    ids = [p["id"] for p in desk.positions()]

    response = desk.api.post("/api/positions/bulk-close", {"position_ids": [*ids, 999]})

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["position_id"] for item in items] == [*ids, 999]
    for item in items[:2]:
        assert item["ok"] is True
        assert item["order"]["role"] == "manual" and item["order"]["status"] == "filled"
    assert items[2]["ok"] is False and items[2]["error"]["code"] == "not_found"
    assert desk.positions() == []
    # The bracket's exits went with the position; the resting entry is not an exit.
    assert [(o["role"], o["order_type"]) for o in desk.working(first)] == [("manual", "limit")]
    again = desk.api.post("/api/positions/bulk-close", {"position_ids": ids[:1]})
    assert again.get_json()["items"][0]["error"]["code"] == "position_flat"


@pytest.mark.parametrize("body", [{}, {"position_ids": []}, {"position_ids": ["1"]}])
def test_bulk_close_validates_its_body(desk, body):
    response = desk.api.post("/api/positions/bulk-close", body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_kill_switch_needs_authentication(client):
    assert client.post("/api/kill-switch").status_code == 401
    assert client.get("/api/kill-switch").status_code == 401


# --- Tradovate ---------------------------------------------------------------------------


@pytest.fixture
def tradovate(app, desk, make_account, strategy, fake_tradovate):
    """A Tradovate demo account long MES with a bracket at the fake, a foreign working order
    and a foreign MNQ position opened on Tradovate's own site; and a paper account long."""
    mes, mnq = front("MES"), front("MNQ")
    account = make_account(
        "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
    )
    paper = make_account("Paper", starting_balance="25000.00")
    fake_tradovate.set_price(mes, "5000")
    fake_tradovate.set_price(mnq, "21000")
    set_price(app, "MES", "5000")
    trend = strategy(account, paper)
    alert = {
        "action": "buy",
        "quantity": 2,
        "price": "5000",
        "take_profit": {"ticks": 8},
        "stop_loss": {"ticks": 8},
    }
    answer = desk.alert(trend, alert)
    assert answer.status_code == 200 and answer.get_json()["status"] == "executed"
    fake_tradovate.seed_order(
        720001, mes, action="Buy", orderQty=1, orderType="Limit", price=Decimal(4900)
    )
    fake_tradovate.seed_position(720001, mnq, -1, "21010")
    return fake_tradovate, account, paper, trend


def open_at_fake(fake, account_id: int) -> list[dict]:
    return [
        o
        for o in fake.orders.values()
        if o["accountId"] == account_id and o["ordStatus"] in ("Working", "Suspended")
    ]


def test_kill_switch_flattens_a_tradovate_account_and_a_paper_one(app, desk, tradovate):
    fake, account, paper, trend = tradovate
    mes, mnq = front("MES"), front("MNQ")
    fake.set_price(mes, "5001")
    set_price(app, "MES", "5001")

    answer = desk.engage()

    assert answer["failures"] == [], answer
    assert answer["flattened_positions"] == 3  # Tradovate MES and MNQ, paper MES
    assert answer["cancelled_orders"] == 5  # 2 exits + foreign limit at Tradovate, 2 on paper
    assert fake.position(720001, mes)["netPos"] == 0
    assert fake.position(720001, mnq)["netPos"] == 0
    assert open_at_fake(fake, 720001) == []
    assert len(fake.calls("order/liquidateposition")) == 2
    for each in (account, paper):
        assert desk.working(each) == []
        assert desk.risk(each)["halted"] is True
        assert desk.positions(each) == []  # mirrored at once, not on the poller's next tick
    kills = {o["symbol"]: o for o in desk.orders(account) if o["role"] == "kill"}
    assert kills[mes]["status"] == "filled" and kills[mes]["broker_order_id"]
    assert (kills[mnq]["side"], kills[mnq]["qty"]) == ("buy", 1)
    trades = {t["symbol"]: t for t in desk.trades(account)}
    assert trades[mes]["exit_reason"] == "kill_switch" and trades[mes]["pnl"] == "10.00"
    assert trades[mnq]["exit_reason"] == "kill_switch"
    assert desk.alert(trend, {"action": "sell", "quantity": 1}).status_code == 423


def test_a_flat_tradovate_symbol_with_a_working_order_has_its_kill_order_closed_unsent(
    app, desk, tradovate
):
    fake, account, _, _ = tradovate
    nq = front("NQ")
    fake.seed_order(720001, nq, action="Sell", orderQty=1, orderType="Limit", price=Decimal(30000))

    answer = desk.engage()

    assert answer["failures"] == [], answer
    assert open_at_fake(fake, 720001) == []
    [kill] = [o for o in desk.orders(account) if o["role"] == "kill" and o["symbol"] == nq]
    assert (kill["status"], kill["reason"], kill["broker_order_id"]) == (
        "cancelled",
        f"{nq} was already flat",
        None,
    )
    assert len(fake.calls("order/liquidateposition")) == 2  # MES and MNQ only


def test_a_tradovate_login_refused_is_reported_and_the_others_are_flattened(
    app, desk, tradovate, make_account
):
    fake, account, paper, _ = tradovate
    locked = make_account(
        "Tradovate locked out",
        broker="tradovate",
        broker_account_id="720002",
        credentials={**TRADOVATE_CREDENTIALS, "password": "not-the-password"},
    )

    answer = desk.engage()

    [failure] = answer["failures"]
    assert (failure["account_id"], failure["account"]) == (locked["id"], "Tradovate locked out")
    assert "Incorrect username or password" in failure["message"]
    assert answer["flattened_positions"] == 3
    assert fake.position(720001, front("MES"))["netPos"] == 0
    assert desk.positions(paper) == []
    assert desk.risk(locked)["halted"] is True  # halted even though its broker failed
    by_account = {a["account"]: a for a in answer["accounts"]}
    assert by_account["Tradovate demo"]["ok"] and by_account["Paper"]["ok"]


def test_a_tradovate_liquidation_that_fails_once_is_retried_and_the_account_ends_flat(
    app, desk, tradovate
):
    fake, account, paper, _ = tradovate
    fake.fail_next("order/liquidateposition", status=500)

    answer = desk.engage()

    assert answer["failures"] == [], answer
    assert answer["flattened_positions"] == 3  # Tradovate MES and MNQ, paper MES
    # The failed one again in the second round; the other went the first time.
    assert len(fake.calls("order/liquidateposition")) == 3
    by_account = {a["account"]: a for a in answer["accounts"]}
    assert (by_account["Tradovate demo"]["rounds"], by_account["Paper"]["rounds"]) == (2, 1)
    assert fake.position(720001, front("MES"))["netPos"] == 0
    assert fake.position(720001, front("MNQ"))["netPos"] == 0
    assert open_at_fake(fake, 720001) == []
    assert desk.positions(account) == [] and desk.working(account) == []
    kills = [o for o in desk.orders(account) if o["role"] == "kill"]
    assert sorted(k["status"] for k in kills) == ["failed", "filled", "filled"]
    assert desk.positions(paper) == []
    assert desk.risk(account)["halted"] is True


def test_a_tradovate_liquidation_that_keeps_failing_is_reported_after_the_rounds(
    app, desk, tradovate
):
    fake, account, paper, _ = tradovate
    mes, mnq = front("MES"), front("MNQ")
    rounds = app.config["KILL_SWITCH_ROUNDS"]
    fake.fail_next("order/liquidateposition", status=500, times=2 * rounds)

    answer = desk.engage()

    assert len(fake.calls("order/liquidateposition")) == 2 * rounds  # MES and MNQ, each round
    [failure] = answer["failures"]
    assert failure["account_id"] == account["id"]
    for symbol, qty in ((mes, "+2"), (mnq, "-1")):
        still = f"{symbol} is still {qty} at the broker after {rounds} rounds: "
        assert still in failure["message"]
    assert f"check the {mes} position before flattening again" in failure["message"]
    assert f"1 order still working at the broker: {mes} buy 1" in failure["message"]
    assert fake.position(720001, mes)["netPos"] == 2
    assert desk.positions(paper) == [] and desk.working(paper) == []
    assert desk.risk(account)["halted"] is True


def test_a_closing_order_still_working_is_waited_for_not_sent_again(app, desk, tradovate):
    fake, account, _, _ = tradovate
    mes = front("MES")
    fake.market_fill_reads = 1000  # the liquidations' market orders do not fill meanwhile

    answer = desk.engage()

    assert len(fake.calls("order/liquidateposition")) == 2  # MES and MNQ, once each
    [failure] = answer["failures"]
    assert (
        f"{mes} is still +2 at the broker after 1 round (its closing order is still working)"
        in failure["message"]
    )
    assert "still working at the broker:" not in failure["message"]  # its own closing order


def test_a_tradovate_account_locked_against_closing_is_not_retried_and_stays_halted(
    app, desk, tradovate
):
    fake, account, paper, _ = tradovate
    fake.reject_next("order/liquidateposition", "TradingLocked", "Account is locked")

    answer = desk.engage()

    assert len(fake.calls("order/liquidateposition")) == 1  # neither retried nor the next symbol
    [failure] = answer["failures"]
    assert failure["account_id"] == account["id"]
    assert "not retried: the broker refuses even closing orders" in failure["message"]
    assert "Account is locked (TradingLocked)" in failure["message"]
    [kill] = [o for o in desk.orders(account) if o["role"] == "kill"]
    assert (kill["status"], kill["reject_code"]) == ("rejected", "broker_locked")
    assert desk.risk(account)["halted_by"] == "broker_locked"  # replaces the kill switch's
    assert desk.positions(paper) == []
    desk.rearm()
    assert desk.risk(account)["halted_by"] == "broker_locked"
    assert desk.risk(paper)["halted"] is False


# --- the command line --------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_kill(tmp_path, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in {"ADMIN_PASSWORD", "DATABASE_URL"}
    }
    environment.update(
        DESKPILOT_INSTANCE_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'test.db'}",
        ENCRYPTION_KEY=TestConfig.ENCRYPTION_KEY,
        SCHEDULER_ENABLED="0",
        **env,
    )
    return subprocess.run(
        [sys.executable, "run.py", "kill"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_kill_flattens_at_the_last_known_price_and_exits_0(app, tmp_path, desk, two_paper):
    first, second = two_paper

    result = run_kill(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kill switch ENGAGED" in result.stdout
    assert "Cancelled 3 working orders, flattened 2 positions." in result.stdout
    assert "ok      Paper A: 3 orders cancelled, 1 position flattened" in result.stdout
    assert desk.positions() == []
    assert desk.working(first) == [] and desk.working(second) == []
    [trade] = desk.trades(first)
    # A fresh process has no prices: the paper feed resumes from the last fill.
    assert trade["exit_reason"] == "kill_switch" and trade["exit_price"] == "6000.25"
    assert desk.api.get("/api/kill-switch").get_json()["engaged_by"] == "cli (run.py kill)"
    with app.app_context():
        assert kill_switch.is_engaged()


def test_cli_kill_exits_1_and_names_the_account_that_failed(app, tmp_path, desk, make_account):
    make_account("Paper", starting_balance="25000.00")
    make_account("Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))

    result = run_kill(tmp_path, TRADOVATE_API_URL=f"http://127.0.0.1:{closed_port()}/v1")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED  Tradovate demo:" in result.stdout
    assert "ok      Paper:" in result.stdout
    assert "check them at the broker" in result.stderr
    with app.app_context():
        assert kill_switch.is_engaged()
        halted = db.session.scalars(select(RiskLimits.halted)).all()
        assert halted == [True, True]


def test_a_trailing_stop_working_at_the_broker_is_cancelled_with_the_rest(app, desk, two_paper):
    first, _ = two_paper
    [position] = desk.positions(first)
    body = {"position_id": position["id"], "points": 5, "replace": True}  # for the bracket
    made = desk.api.post("/api/orders/trailing-stop", body)
    assert made.status_code == 201, made.get_json()
    assert len(desk.working(first)) == 2  # the resting limit and the trail's stop

    answer = desk.engage()

    assert answer["failures"] == [] and answer["cancelled_orders"] == 2
    assert desk.working(first) == [] and desk.positions(first) == []
