"""The webhook's defences (DESIGN §5.2): signed alerts, the source allowlist, the client
address behind proxies, and refusals that all look alike."""

import hashlib
import hmac
import itertools
import json
import logging
import shutil
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import Order, Strategy
from app.services.market import prices
from app.services.setup.auth import issue_api_token, owner
from config import _count
from tests.conftest import Api, csrf_from, make_config

TRADINGVIEW = "52.89.214.238"
ALERT = {"action": "buy", "symbol": "MES1!", "quantity": 1, "price": "5000"}


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def order_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


@pytest.fixture
def desk(app, api, make_account, make_strategy):
    """A paper account trading one strategy; `send` posts raw bytes from an address."""

    class Desk:
        account = make_account("Paper", starting_balance="100000.00")
        strategy = make_strategy("Signed", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

        def send(self, raw=None, signature=None, token=None, remote="127.0.0.1", headers=()):
            raw = json.dumps(ALERT).encode() if raw is None else raw
            sent = dict(headers)
            if signature is not None:
                sent["X-Signature"] = signature
            return api.client.post(
                f"/webhook/{token or self.strategy['webhook_token']}",
                data=raw,
                headers={"Content-Type": "application/json", **sent},
                environ_base={"REMOTE_ADDR": remote},
            )

        def new_secret(self) -> str:
            response = api.post(f"/api/strategies/{self.strategy['id']}/signing-secret")
            assert response.status_code == 201, response.get_json()
            return response.get_json()["signing_secret"]

    yield Desk()
    prices.clear()


@pytest.fixture
def refusal(desk):
    """What an unknown token is answered: every other refusal must be exactly this."""
    response = desk.send(token="no-such-token")
    assert response.status_code == 401
    return response.get_json()


def assert_refused(response, refusal):
    assert response.status_code == 401
    assert response.get_json() == refusal


def test_signing_secret_is_shown_once_and_the_strategy_says_signed(desk, api):
    assert desk.strategy["signed"] is False
    response = api.post(f"/api/strategies/{desk.strategy['id']}/signing-secret")
    assert response.status_code == 201
    assert set(response.get_json()) == {"signing_secret"}
    assert response.headers["Cache-Control"] == "no-store"
    secret = response.get_json()["signing_secret"]
    assert len(secret) >= 43  # 32 random bytes
    listed = api.get("/api/strategies")
    [strategy] = listed.get_json()["items"]
    assert strategy["signed"] is True
    assert secret not in listed.get_data(as_text=True)
    assert secret not in api.get(f"/api/strategies/{desk.strategy['id']}").get_data(as_text=True)
    assert secret not in api.get("/api/logs").get_data(as_text=True)


def test_signed_alert_is_accepted(desk, app):
    secret = desk.new_secret()
    raw = json.dumps(ALERT, indent=1).encode()  # what was sent, byte for byte, is signed
    response = desk.send(raw, sign(secret, raw))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "executed"
    assert order_count(app) >= 1


def test_upper_case_hex_is_the_same_signature(desk):
    secret = desk.new_secret()
    raw = json.dumps(ALERT).encode()
    assert (
        desk.send(raw, sign(secret, raw).upper().replace("SHA256=", "sha256=")).status_code == 200
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda secret, raw: None, id="unsigned"),
        pytest.param(lambda secret, raw: "", id="empty"),
        pytest.param(lambda secret, raw: "sha256=" + "0" * 64, id="wrong"),
        pytest.param(lambda secret, raw: sign(secret, raw)[len("sha256=") :], id="no-prefix"),
        pytest.param(lambda secret, raw: "sha1=" + sign(secret, raw)[7:], id="wrong-prefix"),
        pytest.param(lambda secret, raw: sign(secret, raw + b" "), id="another-body"),
        pytest.param(lambda secret, raw: sign("not-the-secret", raw), id="another-secret"),
        pytest.param(lambda secret, raw: sign(secret, raw) + "00", id="too-long"),
        pytest.param(lambda secret, raw: "sha256=é" + "€" * 70, id="non-ascii"),
    ],
)
def test_bad_signatures_are_refused_exactly_like_an_unknown_token(desk, app, refusal, forge):
    secret = desk.new_secret()
    raw = json.dumps(ALERT).encode()
    assert_refused(desk.send(raw, forge(secret, raw)), refusal)
    assert order_count(app) == 0


def test_wrong_passphrase_is_refused_exactly_like_an_unknown_token(desk, api, app, refusal):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"passphrase": "open sesame"})
    assert_refused(desk.send(json.dumps({**ALERT, "passphrase": "wrong"}).encode()), refusal)
    secret = desk.new_secret()  # signed and a passphrase: both must hold
    raw = json.dumps({**ALERT, "passphrase": "wrong"}).encode()
    assert_refused(desk.send(raw, sign(secret, raw)), refusal)
    assert order_count(app) == 0
    raw = json.dumps({**ALERT, "passphrase": "open sesame"}).encode()
    assert desk.send(raw, sign(secret, raw)).status_code == 200


def test_the_refusal_names_no_check(refusal):
    error = refusal["error"]
    assert error["code"] == "unauthorized" and error["fields"] == {}
    assert "unknown" not in error["message"].lower()


def test_rotation_refuses_the_old_secret(desk, api, refusal):
    old = desk.new_secret()
    new = desk.new_secret()
    assert new != old
    raw = json.dumps(ALERT).encode()
    assert_refused(desk.send(raw, sign(old, raw)), refusal)
    assert desk.send(raw, sign(new, raw)).status_code == 200
    messages = [e["message"] for e in api.get("/api/logs").get_json()["items"]]
    assert "signing secret of strategy 'Signed' created" in messages
    assert "signing secret of strategy 'Signed' rotated" in messages


def test_removing_the_secret_accepts_unsigned_alerts_again(desk, api):
    desk.new_secret()
    response = api.delete(f"/api/strategies/{desk.strategy['id']}/signing-secret")
    assert response.status_code == 200
    assert response.get_json()["signed"] is False
    assert response.get_json()["id"] == desk.strategy["id"]
    assert desk.send().status_code == 200
    messages = [e["message"] for e in api.get("/api/logs").get_json()["items"]]
    assert "signing secret of strategy 'Signed' removed" in messages


def test_signing_secret_of_an_unknown_strategy_is_404(api):
    assert api.post("/api/strategies/999/signing-secret").status_code == 404
    assert api.delete("/api/strategies/999/signing-secret").status_code == 404


def test_the_secret_never_reaches_the_log(desk, caplog):
    caplog.set_level(logging.DEBUG)
    secret = desk.new_secret()
    raw = json.dumps(ALERT).encode()
    desk.send(raw, sign(secret, raw))
    desk.send(raw, "sha256=" + "1" * 64)
    secret = desk.new_secret()
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    assert secret not in caplog.text


def test_strategies_page_shows_signed_and_the_rotate_button(desk, auth, client):
    auth.login()
    page = client.get("/strategies").get_data(as_text=True)
    assert 'data-testid="signing"' in page and "unsigned" in page
    assert f'data-signing-secret="/api/strategies/{desk.strategy["id"]}/signing-secret"' in page
    desk.new_secret()
    page = client.get("/strategies").get_data(as_text=True)
    assert ">signed<" in page


# The allowlist -------------------------------------------------------------------------


def test_allowlist_setting_is_validated_and_stored_canonical(api):
    ranges = ["203.0.113.0/24", "2001:DB8::/32", "10.1.2.3/8", "203.0.113.9/24"]
    response = api.put("/api/settings", {"webhook_allowlist": ranges})
    assert response.status_code == 200, response.get_json()
    expected = ["203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8"]
    assert response.get_json()["webhook_allowlist"] == expected
    assert api.get("/api/settings").get_json()["webhook_allowlist"] == expected
    bad = api.put("/api/settings", {"webhook_allowlist": ["10.0.0.0/8", "10.0.0.0/33", 7]})
    assert bad.status_code == 400
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"webhook_allowlist.1", "webhook_allowlist.2"}
    assert api.get("/api/settings").get_json()["webhook_allowlist"] == expected
    assert api.put("/api/settings", {"webhook_allowlist": "10.0.0.0/8"}).status_code == 400
    cleared = api.put("/api/settings", {"webhook_allowlist": None})
    assert cleared.get_json()["webhook_allowlist"] == []


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [
        ("203.0.113.7", True),
        ("::ffff:203.0.113.7", True),
        ("2001:db8:5::1", True),
        ("198.51.100.7", False),
        ("2001:db9::1", False),
        (TRADINGVIEW, False),  # the switch is off: TradingView is not added
    ],
)
def test_a_non_empty_allowlist_is_enforced_with_the_switch_off(desk, api, refusal, remote, allowed):
    api.put("/api/settings", {"webhook_allowlist": ["203.0.113.0/24", "2001:db8::/32"]})
    response = desk.send(remote=remote)
    if allowed:
        assert response.status_code == 200, response.get_json()
    else:
        assert_refused(response, refusal)


def test_an_empty_allowlist_lets_any_address_send(desk):
    assert desk.send(remote="198.51.100.7").status_code == 200


def test_refused_address_is_audited(desk, api):
    api.put("/api/settings", {"webhook_allowlist": ["203.0.113.0/24"]})
    desk.send(remote="198.51.100.7")
    [entry] = [
        e
        for e in api.get("/api/logs").get_json()["items"]
        if e["message"] == "webhook refused: source address not in the allowlist"
    ]
    assert entry["data"] == {"source_ip": "198.51.100.7"}


def test_settings_page_has_the_allowlist_field(auth, client, api):
    api.put("/api/settings", {"webhook_allowlist": ["203.0.113.0/24"]})
    auth.login()
    page = client.get("/settings").get_data(as_text=True)
    assert 'name="webhook_allowlist"' in page and "203.0.113.0/24" in page


# Apps with their own configuration ------------------------------------------------------


@pytest.fixture
def build(tmp_path, migrated_schema):
    """An app with configuration overrides, a strategy without traders (an authenticated
    alert answers 422 no_traders, so a 401 is the defences' doing) and an API client."""
    made = []

    def make(**overrides):
        shutil.copyfile(migrated_schema, tmp_path / "test.db")
        app = create_app(make_config(tmp_path, **overrides))
        made.append(app)
        with app.app_context():
            token = issue_api_token(owner(), datetime.now(UTC))
        api = Api(app.test_client(), token)
        strategy = api.post("/api/strategies", {"name": "S", "symbol": "MES1!"}).get_json()
        ids = itertools.count()

        def send(remote="127.0.0.1", forwarded=None, token=strategy["webhook_token"]):
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            return api.client.post(
                f"/webhook/{token}",
                data=json.dumps({**ALERT, "id": next(ids)}),  # never a duplicate
                headers=headers,
                environ_base={"REMOTE_ADDR": remote},
            )

        return api, send

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def test_tradingview_switch_admits_its_addresses_and_the_owners(build):
    api, send = build(TRADINGVIEW_IP_ALLOWLIST=True)
    assert send(remote=TRADINGVIEW).status_code == 422
    assert send(remote="203.0.113.7").status_code == 401
    api.put("/api/settings", {"webhook_allowlist": ["203.0.113.0/24"]})
    assert send(remote="203.0.113.7").status_code == 422
    assert send(remote=TRADINGVIEW).status_code == 422
    assert send(remote="198.51.100.7").status_code == 401


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(build):
    api, send = build(TRADINGVIEW_IP_ALLOWLIST=True)
    assert send(remote="198.51.100.7", forwarded=TRADINGVIEW).status_code == 401
    assert send(remote="127.0.0.1", forwarded=TRADINGVIEW).status_code == 401
    [entry] = [
        e for e in api.get("/api/logs").get_json()["items"] if "source address" in e["message"]
    ][:1]
    assert entry["data"]["source_ip"] == "127.0.0.1"


def test_one_trusted_proxy_believes_the_last_hop_only(build):
    api, send = build(TRADINGVIEW_IP_ALLOWLIST=True, TRUSTED_PROXIES=1)
    assert send(forwarded=TRADINGVIEW).status_code == 422
    # A client's own X-Forwarded-For sits left of what the proxy appended.
    assert send(forwarded=f"{TRADINGVIEW}, 198.51.100.7").status_code == 401
    [entry] = [
        e for e in api.get("/api/logs").get_json()["items"] if "source address" in e["message"]
    ]
    assert entry["data"]["source_ip"] == "198.51.100.7"
    [event] = api.get("/api/webhook-events").get_json()["items"]  # the alert let in
    assert event["source_ip"] == TRADINGVIEW


def test_login_rate_limit_counts_each_client_behind_the_proxy(build):
    api, _ = build(TRUSTED_PROXIES=1, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2/minute")
    client = api.client

    def attempt(forwarded):
        headers = {"X-Forwarded-For": forwarded}
        token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
        form = {"username": "x", "password": "y", "csrf_token": token}
        return client.post("/login", data=form, headers=headers).status_code

    assert [attempt("198.51.100.1") for _ in range(3)][-1] == 429
    assert attempt("198.51.100.2") != 429  # another client, its own budget


@pytest.mark.parametrize(("raw", "count"), [("0", 0), ("2", 2), (" 1 ", 1)])
def test_trusted_proxies_reads_a_whole_number(monkeypatch, raw, count):
    monkeypatch.setenv("TRUSTED_PROXIES", raw)
    assert _count("TRUSTED_PROXIES", "0") == count


@pytest.mark.parametrize("raw", ["-1", "one", "1.5", "", "１"])
def test_trusted_proxies_refuses_anything_else_by_name(monkeypatch, raw):
    monkeypatch.setenv("TRUSTED_PROXIES", raw)
    with pytest.raises(ValueError, match="TRUSTED_PROXIES must be a whole number 0 or more"):
        _count("TRUSTED_PROXIES", "0")


# Size and rate -------------------------------------------------------------------------


def test_over_64kb_is_413_json_before_any_check(build):
    api, _ = build()
    response = api.client.post("/webhook/whatever", data=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert response.get_json()["error"]["fields"] == {}


def test_rate_limited_alert_is_429_json(build):
    api, send = build(RATELIMIT_ENABLED=True, WEBHOOK_RATE_LIMIT="2/minute")
    statuses = [send().status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    response = send()
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and error["fields"] == {}
    assert error["message"]
    assert send(token="another-token").status_code == 401  # per token


@pytest.mark.parametrize("column", ["signing_secret_encrypted", "passphrase_encrypted"])
def test_a_secret_the_key_cannot_read_refuses_every_alert(desk, app, refusal, column, caplog):
    """A changed ENCRYPTION_KEY must not turn a signed strategy into an open one."""
    other_key = Fernet(Fernet.generate_key())
    with app.app_context():
        strategy = db.session.get(Strategy, desk.strategy["id"])
        setattr(strategy, column, other_key.encrypt(b"lost").decode())
        db.session.commit()
    raw = json.dumps({**ALERT, "passphrase": "lost"}).encode()
    assert_refused(desk.send(raw, sign("lost", raw)), refusal)
    assert order_count(app) == 0
    assert "is unreadable; alerts refused" in caplog.text
