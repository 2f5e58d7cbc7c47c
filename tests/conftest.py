"""Fixtures shared by every suite: a fresh app and database per test, logged-in clients."""

import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from app import create_app
from app.domain.contracts import resolve_symbol
from app.extensions import db
from app.models import Trade
from app.schema import upgrade_to_head
from app.services.market import bars, prices
from app.services.setup.auth import issue_api_token, owner
from config import TestConfig
from tests.fakes.discord_api import fake_discord  # noqa: F401 - the fake Discord API
from tests.fakes.rss_feed import feed_server  # noqa: F401 - news feeds on 127.0.0.1
from tests.fakes.smtp_sink import smtp_sink, tls_certificate  # noqa: F401 - the SMTP sink
from tests.fakes.textbelt import fake_textbelt  # noqa: F401 - the fake TextBelt server
from tests.fakes.tradovate import fake_tradovate  # noqa: F401 - the fake Tradovate server
from tests.fakes.webhook_receiver import webhook_receiver  # noqa: F401 - a webhook receiver

OWNER = TestConfig.ADMIN_USERNAME
PASSWORD = TestConfig.ADMIN_PASSWORD


def make_config(tmp_path, **overrides) -> type[TestConfig]:
    """A TestConfig whose database and instance folder live under tmp_path."""
    attributes = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "INSTANCE_DIR": tmp_path,
        **overrides,
    }
    return type("PerTestConfig", (TestConfig,), attributes)


@pytest.fixture(autouse=True)
def _fresh_price_cache():
    """The price cache and the bars built from it are process-wide: no test sees another's
    prices."""
    prices.clear()
    bars.book.clear()
    yield
    prices.clear()
    bars.book.clear()


@pytest.fixture(scope="session")
def migrated_schema(tmp_path_factory) -> Path:
    """An empty database at the newest revision, migrated once per test process: running
    the whole migration chain for every test's fresh database was most of its setup."""
    path = tmp_path_factory.mktemp("schema") / "head.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, migrated_schema):
    shutil.copyfile(migrated_schema, tmp_path / "test.db")  # create_app finds it at head
    app = create_app(make_config(tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "page carries no CSRF token"
    return match.group(1)


class Auth:
    """Logs the test client in through the real login form."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str = OWNER, password: str = PASSWORD):
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def csrf(self) -> str:
        return csrf_from(self.client.get("/settings").get_data(as_text=True))


@pytest.fixture
def auth(client):
    return Auth(client)


class Api:
    """JSON calls with a bearer token, as a trader's script makes them."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body=None, **kwargs):
        return self.client.open(path, method=method, json=body, headers=self.headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, body=None):
        return self.call("POST", path, body)

    def put(self, path, body=None):
        return self.call("PUT", path, body)

    def delete(self, path):
        return self.call("DELETE", path)


@pytest.fixture
def api_token(app):
    with app.app_context():
        return issue_api_token(owner(), datetime.now(UTC))


@pytest.fixture
def api(client, api_token):
    return Api(client, api_token)


@pytest.fixture
def make_account(api):
    def make(name: str = "Paper 1", **fields):
        body = {"name": name, "broker": "paper", **fields}
        response = api.post("/api/accounts", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def make_strategy(api):
    def make(name: str = "MES trend", **fields):
        response = api.post("/api/strategies", {"name": name, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


TRADOVATE_CREDENTIALS = {
    "username": "trader1",
    "password": "s3cret-pass-word",
    "app_id": "DeskPilot",
    "app_version": "1.0",
    "cid": 8123,
    "sec": "f03741b6-f634-48d6-9308-c8fb871150c2",
    "device_id": "dp-test-device",
}


def front(root: str = "MES") -> str:
    """Today's front-month contract code for a root, as DeskPilot resolves `ROOT1!`."""
    return resolve_symbol(f"{root}1!", datetime.now(UTC).date()).code


def ledger_trade(account_id: int, strategy_id: int, pnl: str, exit_time: datetime) -> dict:
    """A closed long of one MES contract netting `pnl` (no commission), as a `trades` row."""
    net = Decimal(pnl)
    return {
        "account_id": account_id,
        "strategy_id": strategy_id,
        "symbol": "MESZ6",
        "side": "long",
        "quantity": 1,
        "entry_price": Decimal("6000"),
        "exit_price": Decimal("6000") + net / 5,
        "entry_time": exit_time - timedelta(minutes=15),
        "exit_time": exit_time,
        "gross_pnl": net,
        "commission": Decimal(0),
        "pnl": net,
        "exit_reason": "signal",
    }


def add_month_of_trades(app, account_id: int, strategy_id: int, month, pnls: list[str]) -> None:
    """`pnls` closed a day apart from the `month`'s second day on (all in that month)."""
    start = month.opens() + timedelta(days=1)
    rows = [
        ledger_trade(account_id, strategy_id, pnl, start + timedelta(days=n))
        for n, pnl in enumerate(pnls)
    ]
    with app.app_context():
        db.session.execute(insert(Trade), rows)
        db.session.commit()
