"""The paper feed: seeded prices on the grid into the price cache, replays, resuming, the job."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app import create_app
from app.brokers.base import OrderRequest
from app.brokers.paper import feed as paper_feed
from app.brokers.paper.broker import PaperBroker, reset_venues
from app.domain.price_feeds import FeedError, SimulatedFeed
from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.extensions import db
from app.models import Fill, Order
from app.services.market import prices
from app.workers import paper_feed as paper_feed_job
from app.workers.jobs import job_status, run_job
from tests.conftest import front, make_config

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
MES_TICKS = {"MES": D("0.25"), "CL": D("0.01")}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def clean_prices():
    prices.clear()
    yield
    prices.clear()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def twin_walk(symbols: list[str], steps: int, seed: int = 7) -> list[list]:
    feed = SimulatedFeed(seed, MES_TICKS)
    for symbol in symbols:
        feed.subscribe(symbol)
    return [[(u.symbol, u.price) for u in feed.step(at(n))] for n in range(1, steps + 1)]


def test_subscribing_publishes_the_start_price_at_once(ctx):
    paper_feed.subscribe("MESZ6")
    quote = prices.last("MESZ6")
    assert (quote.price, quote.source) == (D(6000), paper_feed.FEED_SOURCE)
    assert paper_feed.current().symbols == ("MESZ6",)


def test_ticks_are_the_seeded_walk_on_the_tick_grid_and_reach_the_cache(ctx):
    feed = paper_feed.current()
    feed.subscribe("MESZ6", at(0))
    feed.subscribe("CLF7", at(0))
    published = [[(u.symbol, u.price) for u in paper_feed.tick(at(n))] for n in range(1, 31)]
    assert published == twin_walk(["MESZ6", "CLF7"], 30)
    assert all(price % D("0.25") == 0 for step in published for s, price in step if s == "MESZ6")
    assert all(price % D("0.01") == 0 for step in published for s, price in step if s == "CLF7")
    assert prices.last("MESZ6") == prices.Quote(published[-1][0][1], at(30), "paper-feed")
    assert len({price for step in published for _, price in step}) > 10  # it does move


def test_another_seed_walks_another_way(tmp_path):
    app = create_app(make_config(tmp_path, PAPER_FEED_SEED=8))
    with app.app_context():
        paper_feed.subscribe("MESZ6")
        walked = [paper_feed.tick(at(n))[0].price for n in range(1, 21)]
        db.engine.dispose()
    assert walked != [price for ((_, price),) in twin_walk(["MESZ6"], 20)]


def test_the_walk_continues_from_an_alert_price_snapped_to_the_grid(ctx):
    paper_feed.subscribe("MESZ6")
    prices.update("MESZ6", D("5012.30"), at(1), "alert")
    (update,) = paper_feed.tick(at(2))
    assert abs(update.price - D("5012.25")) <= 6 * D("0.25")
    assert prices.last("MESZ6").source == "paper-feed"


def test_a_replay_feed_plays_one_recorded_moment_per_tick(tmp_path):
    recording = tmp_path / "prices.csv"
    recording.write_text(
        "time,symbol,price\n"
        "2026-01-05T15:00:00Z,MESZ6,6000.25\n"
        "2026-01-05T15:00:00Z,ESZ6,6000.50\n"
        "2026-01-05T15:00:07Z,MESZ6,6001\n"
    )
    app = create_app(make_config(tmp_path, PAPER_FEED=f"replay:{recording}"))
    with app.app_context():
        first = paper_feed.tick(at(100))
        assert [(u.symbol, u.price) for u in first] == [
            ("MESZ6", D("6000.25")),
            ("ESZ6", D("6000.50")),
        ]
        assert prices.last("ESZ6").time == at(100)  # the tick's time, never the file's
        assert first[0].recorded_at == T0  # the recording's time rides beside it
        assert [u.price for u in paper_feed.tick(at(101))] == [D(6001)]
        assert paper_feed.tick(at(102)) == []
        db.engine.dispose()


def test_a_bad_feed_setting_fails_when_the_feed_is_first_needed(tmp_path):
    app = create_app(make_config(tmp_path, PAPER_FEED="random"))
    with app.app_context():
        with pytest.raises(FeedError, match="simulated"):
            paper_feed.tick(at(1))
        db.engine.dispose()


def place(account_id: int, client_order_id: str, side: Side, qty: int, **fields) -> None:
    order_type = fields.pop("order_type", OrderType.MARKET)
    db.session.add(
        Order(
            account_id=account_id,
            client_order_id=client_order_id,
            symbol="MESZ6",
            side=side.value,
            quantity=qty,
            order_type=order_type.value,
            role="entry",
            status=OrderStatus.PENDING.value,
            limit_price=fields.get("limit_price"),
        )
    )
    db.session.commit()
    request = OrderRequest(client_order_id, "MESZ6", side, qty, order_type, **fields)
    PaperBroker(account_id).place_order(request)


def test_feed_ticks_fill_resting_paper_orders(app, make_account):
    account = make_account("Paper", starting_balance="10000")
    lowest = min(price for ((_, price),) in twin_walk(["MESZ6"], 25))
    with app.app_context():
        reset_venues()
        paper_feed.subscribe("MESZ6")
        place(account["id"], "dip", Side.BUY, 1, order_type=OrderType.LIMIT, limit_price=lowest)
        for n in range(1, 26):
            paper_feed.tick(at(n))
        row = db.session.scalar(select(Order).where(Order.client_order_id == "dip"))
        assert (row.status, row.avg_fill_price) == ("filled", lowest)


def test_after_a_restart_the_first_tick_resumes_symbols_paper_accounts_still_need(
    app, make_account
):
    account = make_account("Paper", starting_balance="10000")
    with app.app_context():
        reset_venues()
        prices.update("MESZ6", D("5000"), at(0), "alert")
        place(account["id"], "long", Side.BUY, 1)
        # A restart: no prices, no feed, no books.
        prices.clear()
        paper_feed.reset()
        reset_venues()
        (update,) = paper_feed.tick(at(1))
        assert update.symbol == "MESZ6"
        assert abs(update.price - D(5000)) <= 6 * D("0.25")  # resumed from the last fill
        assert paper_feed.current().resumed


def test_the_job_runs_in_an_app_context_and_records_failures(app, monkeypatch, caplog):
    with app.app_context():
        paper_feed.subscribe("MESZ6")
    run_job(app, "paper_feed", paper_feed_job.tick)
    status = job_status(app)["paper_feed"]
    assert status.last_error is None and status.last_success is not None
    assert prices.last("MESZ6").time > T0  # stepped at the wall clock

    def broken(now):
        raise RuntimeError("feed exploded")

    monkeypatch.setattr(paper_feed, "tick", broken)
    run_job(app, "paper_feed", paper_feed_job.tick)
    assert job_status(app)["paper_feed"].last_error == "RuntimeError: feed exploded"
    assert "job paper_feed failed" in caplog.text and "Traceback" in caplog.text


def test_replayed_prices_fill_at_the_real_clock_whatever_the_file_says(app, api, tmp_path):
    """A replay recorded in the past: fills, the trade and the cache are dated when they
    happen, so an exit is never dated before its entry."""
    mes = front("MES")
    recording = tmp_path / "old.csv"
    recording.write_text(
        "time,symbol,price\n"
        f"2020-06-01T14:30:00Z,{mes},5000\n"
        f"2020-06-01T14:30:01Z,{mes},4998\n"
        f"2020-06-01T14:30:02Z,{mes},4990\n"
    )
    app.config["PAPER_FEED"] = f"replay:{recording}"
    account = api.post("/api/accounts", {"name": "Replay", "broker": "paper"}).get_json()
    started = datetime.now(UTC)
    run_job(app, "paper_feed", paper_feed_job.tick)  # 5000
    entry = api.post(
        "/api/orders",
        {
            "account_id": account["id"],
            "symbol": "MES1!",
            "side": "buy",
            "qty": 1,
            "order_type": "limit",
            "limit_price": "4998",
            "stop_loss": {"points": 4},
        },
    )
    assert entry.status_code == 201 and entry.get_json()["status"] == "working"
    run_job(app, "paper_feed", paper_feed_job.tick)  # 4998: the entry fills
    run_job(app, "paper_feed", paper_feed_job.tick)  # 4990: the stop fills
    finished = datetime.now(UTC)
    [trade] = api.get(f"/api/trades?account_id={account['id']}").get_json()["items"]
    assert trade["exit_reason"] == "stop_loss"
    assert (D(trade["entry_price"]), D(trade["exit_price"])) == (D(4998), D(4990))
    entry_time = datetime.fromisoformat(trade["entry_time"])
    exit_time = datetime.fromisoformat(trade["exit_time"])
    assert started <= entry_time <= exit_time <= finished
    with app.app_context():
        fills = db.session.scalars(select(Fill).order_by(Fill.id)).all()
        assert [f.price for f in fills] == [D(4998), D(4990)]
        assert all(started <= f.filled_at <= finished for f in fills)
    assert started <= prices.last(mes).time <= finished
