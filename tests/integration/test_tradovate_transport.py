"""Tradovate's transport against the fake: tokens, penalties, lockouts, retries, no duplicates."""

import json
import logging
import threading
from datetime import timedelta

import pytest

from app.brokers.base import OrderRequest
from app.brokers.errors import BrokerAuthError, RateLimited, TemporaryBrokerError
from app.brokers.tradovate import rest
from app.domain.vocabulary import OrderType, Side
from app.extensions import db
from app.models import BrokerAccount
from app.services.setup.access import broker_for
from tests.conftest import TRADOVATE_CREDENTIALS, front


@pytest.fixture
def desk(app, api, make_account, make_strategy, fake_tradovate):
    class Desk:
        fake = fake_tradovate
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

        def send(self, payload):
            response = api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def orders(self):
            items = api.get(f"/api/orders?account_id={self.account['id']}").get_json()["items"]
            return list(reversed(items))

        def broker(self):
            return broker_for(db.session.get(BrokerAccount, self.account["id"]))

    with app.app_context():
        yield Desk()


def market(client_order_id: str) -> OrderRequest:
    return OrderRequest(client_order_id, front("MES"), Side.BUY, 1, OrderType.MARKET)


# --- tokens -------------------------------------------------------------------------------


def test_one_login_serves_every_call_and_is_renewed_before_expiry(desk):
    broker = desk.broker()
    broker.positions()
    broker.working_orders()
    assert desk.fake.logins == 1 and desk.fake.renewals == 0
    desk.fake.client_clock.advance(timedelta(minutes=60))  # 20 min left: not yet
    desk.broker().positions()
    assert desk.fake.renewals == 0
    desk.fake.client_clock.advance(timedelta(minutes=10))  # 10 min left of 80: renew now
    desk.broker().positions()
    assert desk.fake.renewals == 1 and desk.fake.logins == 1
    [renewal] = desk.fake.calls("auth/renewaccesstoken")
    assert renewal.authorized  # renewed with the still-valid token
    desk.broker().positions()
    assert desk.fake.renewals == 1  # the renewed token is good for another 80 minutes
    assert all(call.authorized for call in desk.fake.calls("position/list"))


def test_concurrent_calls_share_one_login(desk, app):
    errors = []

    def work():
        with app.app_context():
            try:
                desk.broker().positions()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert desk.fake.logins == 1


def test_a_refused_renewal_falls_back_to_one_new_login(desk):
    desk.broker().positions()
    desk.fake.client_clock.advance(timedelta(minutes=70))
    desk.fake.fail_next("auth/renewaccesstoken", status=401)
    desk.broker().positions()
    assert desk.fake.logins == 2


def test_a_renewal_that_times_out_keeps_the_valid_token_and_tries_again_later(desk):
    desk.broker().positions()
    desk.fake.client_clock.advance(timedelta(minutes=70))
    desk.fake.fail_next("auth/renewaccesstoken", status=503)
    desk.broker().positions()
    assert (desk.fake.logins, desk.fake.renewals) == (1, 0)
    desk.broker().positions()
    assert (desk.fake.logins, desk.fake.renewals) == (1, 1)


def test_an_expired_token_is_not_renewed_but_requested_again(desk):
    desk.broker().positions()
    desk.fake.client_clock.advance(timedelta(minutes=81))
    desk.broker().positions()
    assert desk.fake.logins == 2 and desk.fake.renewals == 0


def test_a_revoked_token_logs_in_again_once(desk):
    desk.broker().positions()
    desk.fake.revoke_tokens()
    assert desk.broker().positions() == []
    assert desk.fake.logins == 2
    assert [c.authorized for c in desk.fake.calls("position/list")] == [True, False, True]


def test_bad_credentials_are_an_auth_error_in_tradovates_words_and_not_hammered(
    app, api, make_account, make_strategy, fake_tradovate
):
    wrong = dict(TRADOVATE_CREDENTIALS, password="wrong-password")
    account = make_account("Wrong", broker="tradovate", credentials=wrong)
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    for alert_id in ("a1", "a2"):
        answer = api.client.post(
            f"/webhook/{strategy['webhook_token']}",
            data=json.dumps({"action": "buy", "id": alert_id}),
            headers={"Content-Type": "application/json"},
        ).get_json()
        assert answer["status"] == "failed"
        [order] = answer["orders"]
        assert order["status"] == "failed"
        assert "Tradovate refused the login: Incorrect username or password" in order["reason"]
    # The second alert came within the hold: no second login attempt reached Tradovate.
    assert len(fake_tradovate.calls("auth/accesstokenrequest")) == 1


# --- penalty tickets, captcha, lockouts ---------------------------------------------------


def test_a_penalty_ticket_is_waited_out_and_the_order_resent_with_it(desk):
    desk.fake.penalize_next("order/placeorder", 2)
    answer = desk.send({"action": "buy", "quantity": 1})
    assert answer["status"] == "executed"
    first, second = desk.fake.bodies("order/placeorder")
    assert "p-ticket" not in first and second["p-ticket"]
    assert second["clOrdId"] == first["clOrdId"]
    assert 2 in desk.fake.client_sleeps
    assert list(desk.fake.placed.values()) == [1]


def test_a_penalty_on_login_is_waited_out(desk):
    desk.fake.penalize_next("auth/accesstokenrequest", 3)
    desk.broker().positions()
    first, second = desk.fake.bodies("auth/accesstokenrequest")
    assert second["p-ticket"] and desk.fake.client_sleeps == [3]
    assert desk.fake.logins == 1


def test_a_penalty_too_long_to_wait_in_a_request_is_rate_limited(desk):
    desk.fake.penalize_next("order/placeorder", 600)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert "wait 600 s" in order["reason"]
    assert desk.fake.client_sleeps == [] and not desk.fake.placed


def test_a_captcha_penalty_is_a_clear_auth_error(desk):
    desk.fake.penalize_next("auth/accesstokenrequest", 5, captcha=True)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert "captcha" in order["reason"] and "trader.tradovate.com" in order["reason"]
    with pytest.raises(BrokerAuthError, match="captcha"):
        desk.broker().positions()
    assert len(desk.fake.calls("auth/accesstokenrequest")) == 1  # held, not retried


@pytest.mark.parametrize(
    ("status", "wait", "words"),
    [(429, 3600, "locked this IP out"), (423, 60, "about to be locked out")],
)
def test_423_and_429_are_rate_limited_and_nothing_more_is_sent(desk, status, wait, words):
    desk.broker().positions()
    desk.fake.fail_next("order/placeorder", status=status)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert words in order["reason"] and f"{wait} s" in order["reason"]
    sent = len(desk.fake.calls())
    with pytest.raises(RateLimited) as caught:
        desk.broker().positions()
    assert 0 < caught.value.wait_seconds <= wait
    assert len(desk.fake.calls()) == sent  # no retry storm: nothing reached Tradovate
    assert len(desk.fake.calls("order/placeorder")) == 1 and not desk.fake.placed
    desk.fake.client_clock.advance(timedelta(seconds=wait + 1))
    assert desk.broker().positions() == []


# --- temporary failures -------------------------------------------------------------------


def test_reads_are_retried_through_timeouts_and_5xx(desk):
    desk.broker().positions()
    desk.fake.fail_next("position/list", timeout=True)
    desk.fake.fail_next("position/list", status=503)
    assert desk.broker().positions() == []
    assert len(desk.fake.calls("position/list")) == 4
    assert desk.fake.client_sleeps == [0.01, 0.02]


def test_reads_give_up_after_the_retry_budget(desk):
    desk.broker().positions()
    desk.fake.fail_next("position/list", status=502, times=3)
    with pytest.raises(TemporaryBrokerError, match="HTTP 502"):
        desk.broker().positions()
    assert len(desk.fake.calls("position/list")) == 4


def test_an_order_whose_answer_is_lost_is_found_by_its_clordid_not_resent(desk):
    desk.fake.set_price(front("MES"), "5000")
    desk.fake.fail_next("order/placeorder", drop=True)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "filled"
    [row] = desk.orders()
    assert row["broker_order_id"] == str(desk.fake.order_for(row["client_order_id"])["id"])
    assert len(desk.fake.calls("order/placeorder")) == 1
    assert desk.fake.placed[row["client_order_id"]] == 1
    assert len(desk.fake.calls("command/list")) == 1


def test_an_order_that_timed_out_before_arriving_is_sent_again_once(desk):
    desk.fake.fail_next("order/placeorder", timeout=True)
    answer = desk.send({"action": "buy", "quantity": 1})
    assert answer["orders"][0]["status"] == "working"
    [row] = desk.orders()
    assert len(desk.fake.calls("order/placeorder")) == 2
    assert desk.fake.placed == {row["client_order_id"]: 1}


def test_an_order_failing_every_try_fails_without_duplicates(desk):
    desk.fake.fail_next("order/placeorder", status=500, times=3)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert "nothing was placed" in order["reason"]
    assert len(desk.fake.calls("order/placeorder")) == 3
    assert len(desk.fake.calls("command/list")) == 3
    assert not desk.fake.placed


def test_an_order_is_not_resent_when_its_arrival_cannot_be_checked(desk):
    desk.fake.fail_next("order/placeorder", drop=True)
    desk.fake.fail_next("command/list", status=503, times=3)
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert "could not be checked" in order["reason"] and "not sent again" in order["reason"]
    assert len(desk.fake.calls("order/placeorder")) == 1
    assert list(desk.fake.placed.values()) == [1]  # it had arrived; it was not duplicated


def test_an_order_that_could_not_connect_is_not_looked_for_and_not_placed(desk):
    broker = desk.broker()
    broker.positions()
    calls = len(desk.fake.calls())
    desk.fake.stop()  # connection refused: nothing can have arrived
    with pytest.raises(TemporaryBrokerError, match="nothing was placed"):
        broker.place_order(market("dp-down-1"))
    assert len(desk.fake.calls()) == calls


def test_a_bracket_whose_answer_is_lost_is_found_leg_by_leg(desk):
    desk.fake.set_price(front("MES"), "5000")
    desk.fake.fail_next("order/placeoso", drop=True)
    answer = desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "price": "5000",
            "take_profit": {"ticks": 4},
            "stop_loss": {"ticks": 4},
        }
    )
    assert answer["status"] == "executed"
    rows = desk.orders()
    assert len(rows) == 3 and all(row["broker_order_id"] for row in rows)
    assert {row["status"] for row in rows} == {"filled", "working"}
    assert len(desk.fake.calls("order/placeoso")) == 1
    assert set(desk.fake.placed.values()) == {1} and len(desk.fake.placed) == 3


def test_every_order_of_a_burst_is_placed_exactly_once_through_failures(desk):
    desk.fake.fail_next("order/placeorder", drop=True)
    desk.fake.fail_next("order/placeorder", timeout=True)
    desk.fake.fail_next("order/placeorder", status=502)
    broker = desk.broker()
    for number in range(6):
        broker.place_order(market(f"dp-burst-{number}"))
    assert dict(desk.fake.placed) == {f"dp-burst-{n}": 1 for n in range(6)}


def test_an_unapproved_device_on_live_is_refused_with_a_clear_message(desk):
    desk.fake.approved_devices = {"another-device"}
    answer = desk.send({"action": "buy", "quantity": 1})
    [order] = answer["orders"]
    assert order["status"] == "failed"
    assert "device id" in order["reason"]
    assert len(desk.fake.calls("order/placeorder")) == 2  # once more after a fresh login
    assert not desk.fake.placed


def test_secrets_never_reach_the_log(desk, caplog):
    caplog.set_level(logging.DEBUG)
    desk.fake.penalize_next("auth/accesstokenrequest", 1)
    desk.fake.fail_next("order/placeorder", drop=True)
    desk.send({"action": "buy", "quantity": 1})
    desk.fake.client_clock.advance(timedelta(minutes=70))
    desk.broker().positions()
    desk.fake.revoke_tokens()
    desk.broker().positions()
    text = caplog.text + repr(rest.REGISTRY.session(desk.broker().rest.session_key).grant)
    tokens = list(desk.fake.tokens)
    for secret in (TRADOVATE_CREDENTIALS["password"], TRADOVATE_CREDENTIALS["sec"], *tokens):
        assert secret not in text
    assert "Tradovate session opened" in caplog.text


def test_the_base_url_follows_the_environment_unless_overridden(app):
    with app.app_context():
        app.config["TRADOVATE_API_URL"] = None
        assert rest.base_url_for("demo") == "https://demo.tradovateapi.com/v1"
        assert rest.base_url_for("live") == "https://live.tradovateapi.com/v1"
        app.config["TRADOVATE_API_URL"] = "http://127.0.0.1:9/v1/"
        assert rest.base_url_for("live") == "http://127.0.0.1:9/v1"
