"""Socket.IO across processes (DESIGN §4 "Processes"): with REDIS_URL, two `run.py serve`
processes on one database emit through the Redis message queue, so a browser connected to
one hears what the other did — here an alert the other executed."""

import json

import pytest
import requests
import socketio

from tests.integration.processes import WAIT_SECONDS, Browser, Server, session_cookie
from tests.integration.test_leader import redis_url  # noqa: F401 - the fixture


@pytest.fixture
def servers(tmp_path, redis_url):  # noqa: F811 - the imported fixture
    database = tmp_path / "shared.db"
    started = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        server = Server(folder)
        server.env.update(
            {
                "DATABASE_URL": f"sqlite:///{database}",
                "REDIS_URL": redis_url,
                "SCHEDULER_ENABLED": "0",
                "SECRET_KEY": "two-processes-one-room",
                "ENCRYPTION_KEY": "0" * 43 + "=",
            }
        )
        server.start()  # the first migrates and creates the owner; the second finds them
        started.append(server)
    yield started
    for server in started:
        server.stop()


def test_a_browser_on_one_process_hears_an_alert_the_other_executed(servers):
    one, two = servers
    two.login()
    account = two.api("POST", "/api/accounts", {"name": "Shared", "broker": "paper"})
    strategy = two.api("POST", "/api/strategies", {"name": "Across", "symbol": "MES1!"})
    two.api("POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    with pytest.raises(socketio.exceptions.ConnectionError):
        Browser(one, None)  # no session: refused
    cookie = session_cookie(one)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Browser(one, cookie, origin="https://elsewhere.example")  # another site's page
    browser = Browser(one, cookie)
    try:
        assert browser.inbox.get(timeout=WAIT_SECONDS)[0] == "status"  # the snapshot, from one
        answer = requests.post(
            f"{two.base}/webhook/{strategy['webhook_token']}",
            data=json.dumps({"action": "buy", "quantity": 1, "price": "6000.25"}),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

        signal = browser.first("signal", lambda s: s["strategy_id"] == strategy["id"])
        assert signal["status"] == "executed"
        fill = browser.first("fill", lambda f: f["account_id"] == account["id"])
        assert fill["price"] == "6000.25"
        pnl = browser.first("pnl", lambda p: p["account_id"] == account["id"] and p["positions"])
        assert pnl["positions"][0]["qty"] == 1
    finally:
        browser.client.disconnect()
