"""Every price becomes bars in the database (issue 15): prices from the paper feed, from
Tradovate market data through the fake md socket, and alert prices; minutes merged across
processes, imported bars kept, longer bars rolled up on read with the open minute."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app.brokers.paper import feed as paper_feed
from app.brokers.tradovate.market_data import MarketDataClient
from app.domain.bars import Bar
from app.domain.vocabulary import BarSource, Timeframe
from app.extensions import db
from app.models import Bar as BarRow
from app.services.market import bars, prices
from tests.fakes.tradovate_md import (  # noqa: F401  (fake_md is a fixture)
    DEFAULT_TOKEN,
    FakeMarketDataServer,
    fake_md_server,
)

T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def stored(symbol: str) -> list[tuple]:
    rows = db.session.scalars(
        select(BarRow).where(BarRow.symbol == symbol).order_by(BarRow.start)
    ).all()
    return [(r.start, r.open, r.high, r.low, r.close, r.volume, r.source) for r in rows]


def price(symbol: str, value: str, seconds: float) -> None:
    prices.update(symbol, D(value), T0 + timedelta(seconds=seconds), "test")


def test_prices_become_one_row_per_closed_minute(ctx):
    for value, seconds in [("6000", 1), ("6003", 20), ("5998.5", 40), ("6001", 59), ("6002", 61)]:
        price("MESZ6", value, seconds)
    assert bars.flush(T0 + timedelta(seconds=62)) == 1  # the open minute waits
    assert stored("MESZ6") == [
        (T0, D("6000"), D("6003"), D("5998.5"), D("6001"), 4, BarSource.PRICES)
    ]
    assert bars.flush(T0 + timedelta(seconds=120)) == 1  # its minute passed by the clock
    assert [row[0] for row in stored("MESZ6")] == [T0, T0 + timedelta(minutes=1)]


def test_the_paper_feed_s_ticks_become_bars(ctx):
    feed = paper_feed.current()
    feed.subscribe("MESZ6", T0)
    walked = [paper_feed.tick(T0 + timedelta(seconds=n))[0].price for n in range(1, 130)]
    bars.flush(T0 + timedelta(minutes=3))
    rows = stored("MESZ6")
    first_minute = [D(6000), *walked[:59]]  # the subscription's start price, then ticks 1-59
    assert rows[0][1:6] == (
        first_minute[0],
        max(first_minute),
        min(first_minute),
        first_minute[-1],
        60,
    )
    assert [row[0] for row in rows] == [T0 + timedelta(minutes=n) for n in range(3)]
    assert sum(row[5] for row in rows) == 130


def test_tradovate_market_data_becomes_bars(ctx, fake_md):
    client = MarketDataClient(
        fake_md.url, lambda: DEFAULT_TOKEN, heartbeat_interval=0.1, request_timeout=2.0
    )
    try:
        client.start()
        client.subscribe("MESZ6", 3570918)
        assert FakeMarketDataServer.wait_for(lambda: fake_md.subscribed(3570918))
        for trade, stamp in [("6000.25", "14:30:05"), ("6001", "14:30:30"), ("5999", "14:31:10")]:
            fake_md.push_quote(3570918, trade=trade, timestamp=f"2026-12-04T{stamp}Z")
        assert FakeMarketDataServer.wait_for(
            lambda: prices.last("MESZ6") is not None and prices.last("MESZ6").price == D("5999")
        )
    finally:
        client.stop()
    bars.flush(T0 + timedelta(minutes=5))
    assert [row[1:6] for row in stored("MESZ6")] == [
        (D("6000.25"), D("6001"), D("6000.25"), D("6001"), 2),
        (D("5999"), D("5999"), D("5999"), D("5999"), 1),
    ]


def test_two_processes_writing_one_minute_merge_it(ctx):
    price("MESZ6", "6000", 1)
    price("MESZ6", "6004", 10)
    bars.flush(T0 + timedelta(minutes=1))
    price("MESZ6", "5990", 30)  # another process's prices of the same minute, written later
    price("MESZ6", "6001", 50)
    bars.flush(T0 + timedelta(minutes=1))
    assert stored("MESZ6") == [
        (T0, D("6000"), D("6004"), D("5990"), D("6001"), 4, BarSource.PRICES)
    ]


def test_an_imported_bar_is_kept_over_prices_of_its_minute(ctx):
    imported = Bar(T0, D("6000"), D("6010"), D("5995"), D("6005"), 1200)
    bars.store("MESZ6", Timeframe.M1, [imported], BarSource.IMPORT)
    price("MESZ6", "6100", 5)
    bars.flush(T0 + timedelta(minutes=1))
    assert stored("MESZ6") == [
        (T0, D("6000"), D("6010"), D("5995"), D("6005"), 1200, BarSource.IMPORT)
    ]


def test_reading_rolls_minutes_up_and_includes_the_open_minute(ctx):
    for seconds, value in [(0, "10"), (70, "12"), (130, "9"), (301, "11")]:
        price("ESZ6", value, seconds)
    bars.flush(T0 + timedelta(seconds=302))  # minutes 0-2 written; 5 still open
    five = bars.read("ESZ6", Timeframe.M5, T0, T0 + timedelta(minutes=10))
    assert [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in five] == [
        (T0, D("10"), D("12"), D("9"), D("9"), 3),
        (T0 + timedelta(minutes=5), D("11"), D("11"), D("11"), D("11"), 1),
    ]


def test_old_bars_are_pruned_by_the_retention(ctx):
    price("MESZ6", "6000", 0)
    bars.flush(T0 + timedelta(minutes=1))
    assert bars.prune(T0 + timedelta(days=10), 30) == 0
    assert bars.prune(T0 + timedelta(days=31), 30) == 1
    assert stored("MESZ6") == []


@pytest.mark.postgres
def test_the_merging_upsert_runs_on_postgresql(postgres_engine):
    from sqlalchemy.orm import Session

    from app.schema import upgrade_to_head

    upgrade_to_head(postgres_engine)
    first = Bar(T0, D("6000"), D("6004"), D("5999"), D("6002"), 3)
    later = Bar(T0, D("6002"), D("6003"), D("5990"), D("5995"), 2)
    imported = Bar(T0 + timedelta(minutes=1), D("1"), D("2"), D("1"), D("2"), 9)
    with Session(postgres_engine) as session:
        for bar, source in [(first, BarSource.PRICES), (later, BarSource.PRICES)]:
            session.execute(bars._upsert(session, "MESZ6", Timeframe.M1, bar, source))
        session.execute(bars._upsert(session, "MESZ6", Timeframe.M1, imported, BarSource.IMPORT))
        priced = Bar(imported.time, D("7"), D("7"), D("7"), D("7"), 1)
        session.execute(bars._upsert(session, "MESZ6", Timeframe.M1, priced, BarSource.PRICES))
        session.commit()
        rows = session.execute(
            select(BarRow.open, BarRow.high, BarRow.low, BarRow.close, BarRow.volume).order_by(
                BarRow.start
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (D("6000"), D("6004"), D("5990"), D("5995"), 5),
        (D("1"), D("2"), D("1"), D("2"), 9),
    ]
