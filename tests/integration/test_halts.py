"""Account halts through the JSON API (DESIGN §5.4): halt by hand, lift by kind, every
change audited and published; the kill switch's re-arm lifts only its own halts."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.domain.vocabulary import HaltKind
from app.extensions import db
from app.models import AuditEntry, BrokerAccount
from app.services.protection import halts
from app.services.records import events

OWNER_API = "owner (api token)"


def halt(api, account, body=None):
    return api.call("POST", f"/api/accounts/{account['id']}/halt", body)


def lift(api, account, body=None):
    return api.call("DELETE", f"/api/accounts/{account['id']}/halt", body)


def risk(api, account) -> dict:
    return api.get(f"/api/risk/{account['id']}").get_json()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code and error["message"]
    return error


def halt_as(app, account, kind: HaltKind, reason: str) -> None:
    """Set a halt the way its own mechanism does (the daily-loss monitor, a rule, …)."""
    with app.app_context():
        halts.set_halt(
            db.session.get(BrokerAccount, account["id"]), kind, reason, datetime.now(UTC)
        )
        db.session.commit()


def halt_entries(app, account) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.account_id == account["id"], AuditEntry.message.contains("halt"))
                .order_by(AuditEntry.id)
            )
        )


@pytest.fixture
def account(make_account):
    return make_account("Paper", starting_balance="25000.00")


@pytest.fixture
def heard():
    """The halt events published during the test, as (event, payload)."""
    got: list[tuple[str, dict]] = []

    def handler(name, payload):
        got.append((name, payload))

    for name in ("account_halted", "account_halt_lifted"):
        events.subscribe(name, handler)
    yield got
    for name in ("account_halted", "account_halt_lifted"):
        events.unsubscribe(name, handler)


# --- reading --------------------------------------------------------------------------------


def test_the_limits_say_whether_who_and_why_an_account_is_halted(api, account):
    assert {k: risk(api, account)[k] for k in ("halted", "halted_by", "halt_reason")} == {
        "halted": False,
        "halted_by": None,
        "halt_reason": None,
    }
    halt(api, account, {"reason": "stepping away"})
    limits = risk(api, account)
    assert (limits["halted"], limits["halted_by"], limits["halt_reason"]) == (
        True,
        "manual",
        "stepping away",
    )
    assert limits["halted_at"] is not None


# --- halting by hand ------------------------------------------------------------------------


def test_a_manual_halt_answers_the_limits_and_is_audited_and_published(app, api, account, heard):
    response = halt(api, account, {"reason": "  news at 8:30  "})
    assert response.status_code == 200
    body = response.get_json()
    assert body["account_id"] == account["id"] and body["max_daily_loss"] is None
    assert (body["halted"], body["halted_by"], body["halt_reason"]) == (
        True,
        "manual",
        "news at 8:30",
    )
    [entry] = halt_entries(app, account)
    assert (entry.category, entry.severity, entry.actor) == ("risk", "warning", OWNER_API)
    assert entry.data == {"halted": True, "halted_by": "manual", "reason": "news at 8:30"}
    [(name, payload)] = heard
    assert name == "account_halted"
    assert payload["account_id"] == account["id"] and payload["account"] == "Paper"
    assert (payload["halted_by"], payload["reason"], payload["actor"]) == (
        "manual",
        "news at 8:30",
        OWNER_API,
    )


def test_a_halt_without_a_body_gives_a_reason_of_its_own(api, account):
    assert api.post(f"/api/accounts/{account['id']}/halt").status_code == 200
    assert risk(api, account)["halt_reason"] == halts.MANUAL_REASON


def test_halting_a_halted_account_is_409_and_keeps_who_halted_it(api, account):
    api.post("/api/kill-switch")
    error = assert_error(halt(api, account, {"reason": "me too"}), 409, "already_halted")
    assert "kill_switch" in error["message"]
    limits = risk(api, account)
    assert limits["halted_by"] == "kill_switch" and limits["halt_reason"].startswith("kill switch")
    api.delete("/api/kill-switch")
    assert risk(api, account)["halted"] is False


def test_halting_twice_by_hand_is_409_too(api, account):
    halt(api, account, {"reason": "first"})
    assert_error(halt(api, account, {"reason": "second"}), 409, "already_halted")
    assert risk(api, account)["halt_reason"] == "first"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 256}, "reason"),
        ({"reason": 5}, "reason"),
        ({"why": "because"}, "why"),
    ],
)
def test_a_bad_halt_body_is_400_naming_the_field(api, account, body, field):
    error = assert_error(halt(api, account, body), 400, "validation_error")
    assert field in error["fields"]
    assert risk(api, account)["halted"] is False


def test_a_halt_body_that_is_not_json_is_400(api, account):
    response = api.client.post(
        f"/api/accounts/{account['id']}/halt",
        data=b"stop it",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_an_unknown_account_is_404(api, method):
    assert_error(api.call(method, "/api/accounts/999/halt"), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_halts_need_a_login(client, account, method):
    assert_error(
        client.open(f"/api/accounts/{account['id']}/halt", method=method), 401, "unauthorized"
    )


def test_a_session_halts_with_the_pages_csrf_token_only(client, auth, account):
    auth.login()
    path = f"/api/accounts/{account['id']}/halt"
    assert_error(client.post(path, json={"reason": "no token"}), 400, "csrf_failed")
    response = client.post(
        path, json={"reason": "from the page"}, headers={"X-CSRF-Token": auth.csrf()}
    )
    assert response.status_code == 200 and response.get_json()["halted_by"] == "manual"
    lifted = client.delete(path, headers={"X-CSRF-Token": auth.csrf()})
    assert lifted.status_code == 200 and lifted.get_json()["halted"] is False


# --- lifting --------------------------------------------------------------------------------


def test_lifting_a_manual_halt_answers_the_limits_and_is_audited_and_published(
    app, api, account, heard
):
    halt(api, account, {"reason": "lunch"})
    response = lift(api, account, {"reason": "back"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["halted"], body["halted_by"], body["halt_reason"], body["halted_at"]) == (
        False,
        None,
        None,
        None,
    )
    _, entry = halt_entries(app, account)
    assert (entry.category, entry.actor) == ("risk", OWNER_API)
    assert entry.data == {
        "halted": False,
        "halted_by": "manual",
        "reason": "back",
        "halt_reason": "lunch",
    }
    assert [name for name, _ in heard] == ["account_halted", "account_halt_lifted"]
    assert heard[1][1]["halted_by"] == "manual" and heard[1][1]["reason"] == "back"


def test_a_daily_loss_halt_is_lifted_by_the_trader(app, api, account):
    halt_as(app, account, HaltKind.DAILY_LOSS, "daily loss limit 500 reached")
    response = api.delete(f"/api/accounts/{account['id']}/halt")
    assert response.status_code == 200 and response.get_json()["halted"] is False
    assert halt_entries(app, account)[-1].data["reason"] == halts.LIFT_REASON


def test_a_kill_switch_halt_is_409_kill_switch_engaged_and_stays(app, api, account, heard):
    api.post("/api/kill-switch")
    error = assert_error(lift(api, account), 409, "kill_switch_engaged")
    assert "re-arm" in error["message"]
    assert risk(api, account)["halted_by"] == "kill_switch"
    assert [name for name, _ in heard] == ["account_halted"]


@pytest.mark.parametrize(
    "kind", [HaltKind.RULE, HaltKind.DONE_FOR_DAY, HaltKind.SESSION_END], ids=str
)
def test_halts_that_their_own_mechanism_lifts_are_409(app, api, account, kind):
    halt_as(app, account, kind, f"{kind} halt")
    error = assert_error(lift(api, account), 409, "halt_not_liftable")
    assert kind.replace("_", " ") in error["message"]
    assert risk(api, account)["halted_by"] == kind


def test_lifting_an_account_that_is_not_halted_is_409(api, account):
    assert_error(lift(api, account), 409, "not_halted")


def test_a_bad_lift_body_is_400(api, account):
    halt(api, account)
    assert_error(lift(api, account, {"reason": ""}), 400, "validation_error")
    assert risk(api, account)["halted"] is True


# --- the kill switch ------------------------------------------------------------------------


def test_rearming_lifts_only_kill_switch_halts_and_a_manual_halt_survives(
    app, api, make_account, heard
):
    manual = make_account("Paper manual", starting_balance="25000.00")
    other = make_account("Paper other", starting_balance="25000.00")
    halt(api, manual, {"reason": "done for now"})

    api.post("/api/kill-switch")
    assert risk(api, manual)["halted_by"] == "manual"  # the kill switch took nothing over
    assert risk(api, other)["halted_by"] == "kill_switch"
    answer = api.delete("/api/kill-switch").get_json()

    assert answer["released_accounts"] == ["Paper other"]
    assert risk(api, other)["halted"] is False
    assert (risk(api, manual)["halted_by"], risk(api, manual)["halt_reason"]) == (
        "manual",
        "done for now",
    )
    lifted = halt_entries(app, other)[-1]
    assert (lifted.category, lifted.data["halted"], lifted.data["halted_by"]) == (
        "kill_switch",
        False,
        "kill_switch",
    )
    assert [(n, p["account"]) for n, p in heard if n == "account_halt_lifted"] == [
        ("account_halt_lifted", "Paper other")
    ]
    assert lift(api, manual).status_code == 200


# --- what a halt does -----------------------------------------------------------------------


def test_a_manual_halt_refuses_alerts_until_it_is_lifted(api, account, make_strategy):
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    def alert(alert_id):
        return api.client.post(
            f"/webhook/{strategy['webhook_token']}",
            data=json.dumps({"action": "buy", "price": "5000", "id": alert_id}),
            headers={"Content-Type": "application/json"},
        )

    halt(api, account, {"reason": "away"})
    refused = alert("a1")
    assert refused.status_code == 423 and refused.get_json()["error"]["code"] == "halted"
    [order] = api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]
    assert (order["status"], order["reject_code"]) == ("rejected", "halted")

    lift(api, account)
    placed = alert("a2")
    assert placed.status_code == 200 and placed.get_json()["status"] == "executed"
