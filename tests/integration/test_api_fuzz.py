"""Generated requests against every operation of GET /api/openapi.json (schemathesis, with
a bearer API token): no answer is a 5xx, every 4xx is the JSON error shape, and a refused
request places no order and opens no position (a refusal may be kept as a `rejected`
order, its record). The run counts its requests: at least 10,000, over two shards.

Operations whose success would end the run's meaning are left out of the generated run
(SKIPPED, each with why) and tried by targeted cases below.
"""

import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import func, select

from app import create_app
from app.domain.vocabulary import OrderStatus
from app.extensions import db
from app.models import Order, Position
from app.services.market import prices
from tests.conftest import front, make_config

MIN_REQUESTS = 10_000
SHARDS = 2  # one per core under `-n 2`; each shard sends its share and checks it
EXAMPLES_PER_OPERATION = 130  # x ~80 operations, split between the shards
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused

# Engaging the kill switch cancels, flattens and halts every account and refuses every
# entry until re-armed: every operation after it would test the halt and nothing else.
# It has its own cases below.
SKIPPED = {("POST", "/api/kill-switch")}
# Run after the rest of their shard, so the generated orders meet an account that is not
# halted yet and rows that are not deleted yet.
LAST = ("/done-for-day", "/halt")


@pytest.fixture
def app(tmp_path, migrated_schema, monkeypatch):
    """The app with every outside service pointed at a port where nothing listens, and a
    proxy there for any other URL a request names (a calendar_url): the run reaches
    nothing beyond this machine and waits for nothing."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, DEAD_URL)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    config = make_config(
        tmp_path, TRADOVATE_API_URL=DEAD_URL, TEXTBELT_URL=DEAD_URL, DISCORD_API_BASE=DEAD_URL
    )
    app = create_app(config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def world(app, api, make_account, make_strategy):
    """Rows for the generated ids to find (each table's ids start at 1): an account with
    an open position, a filled and a working order, a strategy and its trader."""
    account = make_account("Paper", starting_balance="25000.00")
    strategy = make_strategy("Fuzzed", symbol="MES1!")
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MES"), Decimal("6000.25"), datetime.now(UTC), "test")
    ticket = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
    assert api.post("/api/orders", ticket).status_code == 201
    resting = ticket | {"order_type": "limit", "limit_price": "5000"}
    assert api.post("/api/orders", resting).status_code == 201


def _counts(app) -> tuple[int, int]:
    """Orders that went, or may go, to a broker, and positions. A refusal at the risk gate
    or the kill switch is kept as a `rejected` order (its reject_code says why): that row
    is the record of the refusal, not an order, so it is not counted."""
    with app.app_context():
        placed = select(func.count()).where(Order.status != OrderStatus.REJECTED)
        orders = db.session.scalar(placed)
        positions = db.session.scalar(select(func.count()).select_from(Position))
        db.session.remove()
    return orders, positions


def assert_error_shape(body) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert isinstance(error["fields"], dict)


def _cases(operation):
    """Cases valid by the document and cases that break it; with path ids, also valid
    cases aimed at the world's rows (a free id almost never names one)."""
    takes_input = bool(operation.path_parameters or operation.query or operation.body)
    branches = [operation.as_strategy(GenerationMode.POSITIVE)] * 2
    if takes_input:
        branches.append(operation.as_strategy(GenerationMode.NEGATIVE))
    names = [parameter.name for parameter in operation.path_parameters]
    for row_id in (1, 2):
        if names:
            fixed = {name: row_id for name in names}
            branches.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
    return st.one_of(branches)


def _operations(schema, shard: int) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    found = [op for op in found if (op.method.upper(), op.path) not in SKIPPED]
    found.sort(key=lambda op: op.path.endswith(LAST))
    return found[shard::SHARDS]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_requests_never_fail_and_refuse_in_shape(app, api_token, world, shard):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_token}"}
    sent: Counter = Counter()
    started = time.monotonic()
    for operation in _operations(schema, shard):

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_cases(operation))
        def run(case):
            write = case.method.upper() in WRITES
            before = _counts(app) if write else None
            response = case.call(headers=headers)
            sent[response.status_code] += 1
            assert response.status_code < 500, (case.method, case.formatted_path, case.body)
            if response.status_code >= 400:
                assert_error_shape(response.json())
                if write:
                    assert _counts(app) == before, "a refused request placed an order"

        run()
    total = sum(sent.values())
    seconds = time.monotonic() - started
    print(f"\nshard {shard}: {total} requests in {seconds:.0f} s, by status {dict(sent)}")
    assert total >= MIN_REQUESTS // SHARDS


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": "fuzz"}, "not json", {"engaged": False, "x": [1, None]}]
)
def test_the_kill_switch_engages_whatever_comes_with_it(api, world, body):
    """The skipped operation, by hand: whatever the body, engaging answers 200 and the
    state, again while engaged, and re-arming answers 200."""
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = api.client.post("/api/kill-switch", headers=api.headers, **kwargs)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["engaged"] is True
    assert api.post("/api/kill-switch").get_json()["engaged"] is True
    assert api.delete("/api/kill-switch").get_json()["engaged"] is False


tickets = st.fixed_dictionaries(
    {
        "account_id": st.just(1),
        "symbol": st.sampled_from(["MES1!", "CME_MINI:MES1!", "MNQ1!"]),
        "side": st.sampled_from(["buy", "sell"]),
        "qty": st.integers(1, 3),
    },
    optional={"stop_loss": st.fixed_dictionaries({"ticks": st.integers(4, 40)})},
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(ticket=tickets)
def test_while_the_kill_switch_is_engaged_every_order_is_refused_in_shape(app, api, world, ticket):
    """Orders that would fill at once if the switch were off."""
    api.post("/api/kill-switch")  # engaged once; again is a no-op
    before = _counts(app)
    response = api.post("/api/orders", ticket)
    assert 400 <= response.status_code < 500, response.get_json()
    assert_error_shape(response.get_json())
    assert _counts(app) == before, "an order was placed while the switch was engaged"
