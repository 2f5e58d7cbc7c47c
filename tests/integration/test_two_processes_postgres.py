"""Scale-out on PostgreSQL (DESIGN §4 "Processes"): two `run.py serve` processes on one
database take concurrent alerts for one paper account. The account lock holds across the
processes and the paper books live in the venue's tables, so the account never exceeds its
max position, no order fills twice, and the positions are the sum of the fills."""

import json
import threading
import uuid
from collections import Counter
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.integration.conftest import POSTGRES_URL
from tests.integration.processes import Server

pytestmark = pytest.mark.postgres

MAX_POSITION = 3
ALERTS_PER_SENDER = 12
SENDERS = 4


@pytest.fixture
def database_url():
    """A private schema of the local PostgreSQL, as a URL both servers use."""
    schema = f"dp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def servers(tmp_path, database_url):
    started = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        server = Server(folder)
        server.env.update(
            {"DATABASE_URL": database_url, "SCHEDULER_ENABLED": "0", "SECRET_KEY": "two-procs"}
        )
        server.env["ENCRYPTION_KEY"] = "0" * 43 + "="  # one key for both processes
        server.start()  # the first migrates and creates the owner; the second finds them
        started.append(server)
    yield started
    for server in started:
        server.stop()


def test_two_processes_share_one_paper_account_without_breaking_its_limits(servers):
    first, second = servers
    first.login()
    second.headers = first.headers
    account = first.api("POST", "/api/accounts", {"name": "Shared", "broker": "paper"})
    first.api("PUT", f"/api/risk/{account['id']}", {"max_position": MAX_POSITION})
    strategy = first.api("POST", "/api/strategies", {"name": "Both", "symbol": "MES1!"})
    first.api("POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    answers: Counter = Counter()
    guard = threading.Lock()

    def sender(number: int) -> None:
        session = requests.Session()
        for count in range(ALERTS_PER_SENDER):
            server = servers[(number + count) % 2]
            body = {
                "action": "buy" if count % 4 != 3 else "sell",
                "quantity": 1,
                "price": "6000.25",
                "id": f"s{number}-{count}",
            }
            response = session.post(
                f"{server.base}/webhook/{strategy['webhook_token']}",
                data=json.dumps(body),
                timeout=30,
            )
            with guard:
                answers[response.status_code] += 1

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(answers.values()) == SENDERS * ALERTS_PER_SENDER
    assert set(answers) <= {200, 422}, answers  # executed, or refused by the risk limit
    assert answers[422] > 0  # the limit was reached and held

    orders = first.every(f"/api/orders?account_id={account['id']}")
    filled = [o for o in orders if o["status"] == "filled"]
    assert all(o["filled_qty"] == o["qty"] == 1 for o in filled)
    signed = [1 if o["side"] == "buy" else -1 for o in sorted(filled, key=lambda o: o["id"])]
    running = 0
    for step in signed:  # in the order the account lock let them through
        running += step
        assert abs(running) <= MAX_POSITION
    positions = first.api("GET", f"/api/positions?account_id={account['id']}")["items"]
    held = sum(p["qty"] for p in positions)
    assert held == running
    # Every filled order filled once: the ledger has exactly one fill per filled order.
    engine = create_engine(first.env["DATABASE_URL"])
    with engine.connect() as connection:
        fills = connection.execute(
            text("SELECT order_id, COUNT(*) FROM fills WHERE account_id = :a GROUP BY order_id"),
            {"a": account["id"]},
        ).all()
        venue = connection.execute(
            text("SELECT COALESCE(SUM(quantity), 0) FROM paper_positions WHERE account_id = :a"),
            {"a": account["id"]},
        ).scalar()
    engine.dispose()
    assert sorted(order_id for order_id, _ in fills) == sorted(o["id"] for o in filled)
    assert all(count == 1 for _, count in fills)
    assert venue == held
