"""GET /api/analytics's execution quality on trades made through the real webhook on a
paper account: each trade joined to its opening alert's price and time and its contract's
tick (a fixed number of queries), and the MAE / MFE worked out from the stored bars."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Trade
from app.services.insight.analytics import records_of
from app.services.insight.excursions import fill_excursions
from app.services.market import bars, prices
from tests.conftest import front


@pytest.fixture
def desk(app, api, make_account, make_strategy):
    """A paper account filling every market order one tick against the trader, and a
    strategy routed to it; `alert` sends a webhook, `price` moves the market."""
    app.config["PAPER_SLIPPAGE_TICKS"] = 1
    account = make_account("Paper", starting_balance="10000")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    class Desk:
        sent = 0

        def price(self, value: str) -> None:
            prices.update(front("MES"), Decimal(value), datetime.now(UTC), "test")

        def alert(self, **payload) -> None:
            self.sent += 1  # an id of its own, or a repeat of the same body is a duplicate
            response = api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps({"symbol": "MES1!", "id": f"alert-{self.sent}", **payload}),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()

    found = Desk()
    found.account, found.strategy = account, strategy
    return found


def test_slippage_and_fill_delay_come_from_each_trade_s_opening_alert(api, desk):
    desk.price("6000")
    desk.alert(action="buy", price="6000")  # fills 6000.25: 1 tick worse
    desk.price("6004")
    desk.alert(action="sell", price="6004")  # closes the long at 6003.75
    desk.alert(action="sell", price="6004")  # a short at 6003.75: 1 tick worse
    desk.price("6001")
    desk.alert(action="buy", price="6001")  # closes it

    answer = api.get(f"/api/analytics?strategy_id={desk.strategy['id']}").get_json()

    assert answer["trades"] == 2
    assert answer["execution_trades"] == 2
    assert answer["avg_slippage_ticks"] == 1.0  # both filled one tick worse
    assert answer["slippage"] == "2.50"  # 1 tick × $1.25, twice
    assert answer["avg_fill_delay_ms"] is not None and answer["avg_fill_delay_ms"] >= 0
    assert answer["max_fill_delay_ms"] >= answer["avg_fill_delay_ms"]
    assert answer["avg_mae"] is None and answer["excursion_trades"] == 0  # bars not in yet
    by_strategy = api.get("/api/analytics/breakdown?by=strategy").get_json()["items"]
    assert by_strategy[0]["avg_slippage_ticks"] == 1.0


def test_the_join_takes_a_fixed_number_of_queries(app, desk):
    """Three round trips or six: the same two queries (the fills, then their alerts)."""

    def queries_for_records() -> int:
        count = 0

        reader = threading.get_ident()

        def counted(_connection, _cursor, statement, *_rest):
            nonlocal count
            if threading.get_ident() != reader:  # the app's own threads (bars, jobs) run too
                return
            count += statement.lstrip().upper().startswith("SELECT")  # not a PRAGMA on connect

        with app.app_context():
            rows = list(db.session.scalars(select(Trade).order_by(Trade.id)))
            event.listen(db.engine, "before_cursor_execute", counted)
            try:
                records = records_of(rows)
            finally:
                event.remove(db.engine, "before_cursor_execute", counted)
        assert all(r.alert_price is not None and r.tick_size for r in records)
        return count

    def round_trip(price: str) -> None:
        desk.price(price)
        desk.alert(action="buy", price=price)
        desk.alert(action="sell", price=price)

    for price in ("6000", "6001", "6002"):
        round_trip(price)
    few = queries_for_records()
    for price in ("6003", "6004", "6005"):
        round_trip(price)
    assert queries_for_records() == few == 2


def within_one_minute() -> None:
    """Start early enough in a minute that the few alerts below share it, so both trades
    are open across the same one bar."""
    second = datetime.now(UTC).second
    if second >= 50:
        time.sleep(61 - second)


def test_mae_and_mfe_come_from_the_bars_once_they_are_in(app, api, desk):
    within_one_minute()
    desk.price("6000")
    desk.alert(action="buy", price="6000")  # a long at 6000.25
    for price in ("6002", "5998", "6005", "6003"):
        desk.price(price)
    desk.alert(action="sell", price="6003")
    desk.alert(action="sell", price="6003")  # a short at 6002.75 (nothing moves after)
    desk.alert(action="buy", price="6003")
    later = datetime.now(UTC) + timedelta(minutes=2)
    with app.app_context():
        bars.flush(later)  # every minute seen has closed by then
        rows = list(db.session.scalars(select(Trade).order_by(Trade.id)))
        assert fill_excursions(rows, datetime.now(UTC)) == 0  # the exit minute is still open
        assert fill_excursions(rows, later) == 2
        long, short = db.session.scalars(select(Trade).order_by(Trade.id))
        # Long from 6000.25, MES $5 a point: lowest 5998, highest 6005, both minutes whole.
        assert (long.mae, long.mfe) == (Decimal("11.25"), Decimal("23.75"))
        # Short from 6002.75 over the same minute's bar: up to 6005 against, 5998 for.
        assert (short.mae, short.mfe) == (Decimal("11.25"), Decimal("23.75"))

    answer = api.get(f"/api/analytics?strategy_id={desk.strategy['id']}").get_json()
    assert answer["excursion_trades"] == 2
    assert (answer["avg_mae"], answer["avg_mfe"]) == ("11.25", "23.75")


def test_a_trade_without_bars_keeps_no_excursion(app, desk):
    desk.alert(action="buy", price="6000")
    desk.alert(action="sell", price="6001")
    bars.book.clear()  # the prices never reached a stored bar

    with app.app_context():
        rows = list(db.session.scalars(select(Trade)))
        assert fill_excursions(rows, datetime.now(UTC) + timedelta(minutes=5)) == 0
        assert [(row.mae, row.mfe) for row in rows] == [(None, None)]
