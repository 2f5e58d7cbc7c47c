"""The `status` event's market data (DESIGN §5.5, the shape of §5.7): every quoted or held
symbol's quote age, and the held symbols whose feed went quiet inside their session."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.market import prices, sessions
from app.services.market.data_age import data_age
from app.workers.live_status import status_of
from tests.conftest import front

QUIET = timedelta(seconds=120)


@pytest.fixture
def held(api, app, make_account) -> str:
    """A paper account long one front-month MES: the symbol it holds."""
    account = make_account("Feeds", starting_balance="50000.00")
    symbol = front("MES")
    with app.app_context():
        prices.update(symbol, Decimal("6000"), datetime.now(UTC), "test")
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
    assert api.post("/api/orders", body).status_code == 201
    return symbol


@pytest.fixture
def inside():
    """A moment two hours into the next CME equity session."""
    return sessions.next_session("CME_Equity", datetime.now(UTC)).opens + timedelta(hours=2)


def test_status_carries_the_age_of_each_quoted_symbol(app, held):
    with app.app_context():
        prices.update(front("NQ"), Decimal("21000"), datetime.now(UTC) - timedelta(seconds=30), "t")
        status = status_of(app, leader=False)
    assert status["market_data"].keys() == {held, front("NQ")}
    assert status["market_data"][held] <= 2
    assert 30 <= status["market_data"][front("NQ")] <= 32
    assert isinstance(status["market_data_quiet"], list)


def test_status_without_quotes_or_positions_has_no_market_data(app):
    with app.app_context():
        status = status_of(app, leader=True)
    assert (status["market_data"], status["market_data_quiet"]) == ({}, [])


def test_a_held_symbol_quiet_inside_its_session_is_named(app, held, inside):
    with app.app_context():
        prices.update(held, Decimal("6001"), inside - timedelta(seconds=119), "test")
        prices.update(front("NQ"), Decimal("21000"), inside - timedelta(hours=1), "test")
        fresh = data_age(inside, QUIET)
        later = data_age(inside + timedelta(seconds=1), QUIET)
    assert fresh.ages == {held: 119, front("NQ"): 3600}
    assert fresh.quiet == ()  # NQ is old but not held: nothing trails on it
    assert later.quiet == (held,)


def test_a_closed_market_is_never_quiet(app, held, inside):
    closed = sessions.next_session("CME_Equity", inside).opens - timedelta(minutes=30)
    assert sessions.session_at("CME_Equity", closed) is None
    with app.app_context():
        prices.update(held, Decimal("6001"), closed - timedelta(hours=1), "test")
        found = data_age(closed, QUIET)
    assert (found.ages, found.quiet) == ({held: 3600}, ())


def test_a_held_symbol_never_quoted_has_no_age_and_is_quiet_in_session(app, held, inside):
    with app.app_context():
        prices.clear()  # as after a restart: the position is held, no quote heard yet
        found = data_age(inside, QUIET)
        status = status_of(app, leader=True)
    assert (found.ages, found.quiet) == ({held: None}, (held,))
    assert status["market_data"] == {held: None}
