"""Bar history from Tradovate's chart request (issue 15 item 1): the market-data client's
`md/getChart` against the fake md socket, and the backfill of a Tradovate account's
subscribed symbol through to GET /api/bars."""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.brokers.errors import BrokerError, TemporaryBrokerError
from app.brokers.tradovate import broker as tradovate_broker
from app.brokers.tradovate import market_data
from app.brokers.tradovate.market_data import MarketDataClient
from app.domain.bars import Bar
from app.domain.trading_day import trading_day_of
from app.services.market import bars
from tests.conftest import TRADOVATE_CREDENTIALS, front
from tests.fakes.tradovate_md import (  # noqa: F401  (fake_md is a fixture)
    DEFAULT_TOKEN,
    FakeMarketDataServer,
    fake_md_server,
)

MES = 3570918
wait_for = FakeMarketDataServer.wait_for


def wire_bar(stamp: str, o, h, low, c, up=10, down=5) -> dict:
    """A bar as Tradovate sends it; the numbers go into the JSON text as written."""
    return {"timestamp": stamp, "open": o, "high": h, "low": low, "close": c,
            "upVolume": up, "downVolume": down, "upTicks": 3, "downTicks": 2,
            "bidVolume": down, "offerVolume": up}  # fmt: skip


@pytest.fixture
def md(fake_md):
    made = MarketDataClient(
        fake_md.url,
        lambda: DEFAULT_TOKEN,
        heartbeat_interval=0.1,
        backoff_initial=0.05,
        backoff_max=0.2,
        request_timeout=2.0,
        chart_timeout=3.0,
    )
    made.start()
    yield made
    made.stop()


def chart_requests(server: FakeMarketDataServer) -> list[dict]:
    return [json.loads(r.request[3]) for r in server.sent(endpoint="md/getChart")]


def test_a_chart_is_asked_in_tradovates_shape_and_its_bars_come_back_exactly(fake_md, md):
    fake_md.chart_packet = 2  # the history comes in several chart events
    odd = "5012.123456789012345678"  # a float would not keep it
    fake_md.hold_bars(
        MES,
        "MinuteBar",
        [
            wire_bar("2026-11-20T15:28:00.000Z", "5011", "5012.5", "5010.75", "5012.25"),
            wire_bar("2026-11-20T15:29:00.000Z", "5012.25", "5013", "5012", "5012.5", 7, 0),
            wire_bar("2026-11-20T15:30:00.000Z", "5012", odd, "5011.75", "5012.1", "1.0", 2),
        ],
        realtime=[wire_bar("2026-11-20T15:31:00.000Z", "1", "1", "1", "1")],
    )

    found = md.get_chart(MES, "MinuteBar", as_much_as_elements=3)

    assert chart_requests(fake_md) == [
        {
            "symbol": MES,
            "chartDescription": {
                "underlyingType": "MinuteBar",
                "elementSize": 1,
                "elementSizeUnit": "UnderlyingUnits",
                "withHistogram": False,
            },
            "timeRange": {"asMuchAsElements": 3},
        }
    ]
    minute = datetime(2026, 11, 20, 15, 28, tzinfo=UTC)
    later = minute + timedelta(minutes=2)
    assert found == [  # the realtime id's bar is not history
        Bar(minute, D("5011"), D("5012.5"), D("5010.75"), D("5012.25"), 15),
        Bar(minute + timedelta(minutes=1), D("5012.25"), D("5013"), D("5012"), D("5012.5"), 7),
        Bar(later, D("5012"), D(odd), D("5011.75"), D("5012.1"), 3),
    ]
    assert str(found[0].high) == "5012.5" and str(found[2].close) == "5012.1"
    # The end of history ends the chart at Tradovate too.
    assert wait_for(lambda: fake_md.cancelled_charts() == [1001])


def test_a_time_range_since_a_timestamp_is_sent_as_utc(fake_md, md):
    fake_md.hold_bars(
        MES,
        "DailyBar",
        [
            wire_bar("2026-11-18T00:00:00.000Z", "5000", "5050", "4990", "5040", 900, 800),
            wire_bar("2026-11-19T00:00:00.000Z", "5040", "5060", "5001", "5010", 700, 750),
        ],
    )
    since = datetime(2026, 11, 19, tzinfo=UTC)

    found = md.get_chart("MESZ6", "DailyBar", as_far_as_timestamp=since)

    assert found == []  # the fake holds these bars under the contract id, not the code
    found = md.get_chart(MES, "DailyBar", as_far_as_timestamp=since)
    assert [request["timeRange"] for request in chart_requests(fake_md)] == [
        {"asFarAsTimestamp": "2026-11-19T00:00:00.000Z"}
    ] * 2
    assert found == [Bar(since, D("5040"), D("5060"), D("5001"), D("5010"), 1450)]


def test_a_bar_whose_high_is_below_its_low_is_left_out(fake_md, md, caplog):
    fake_md.hold_bars(
        MES,
        "MinuteBar",
        [
            wire_bar("2026-11-20T15:28:00.000Z", "5011", "5010", "5012", "5011"),
            wire_bar("2026-11-20T15:29:00.000Z", "5011", "5012", "5010", "5011"),
        ],
    )
    with caplog.at_level(logging.WARNING):
        found = md.get_chart(MES, "MinuteBar", as_much_as_elements=5)
    assert [bar.time.minute for bar in found] == [29]
    assert "1 of 3570918's MinuteBar bars were malformed and left out" in caplog.text


def test_a_refused_chart_is_a_broker_error_not_a_temporary_one(fake_md, md):
    fake_md.refuse_chart(MES, 404, "Unknown contract")
    with pytest.raises(BrokerError) as refused:
        md.get_chart(MES, "MinuteBar", as_much_as_elements=10)
    assert not isinstance(refused.value, TemporaryBrokerError)
    assert refused.value.message == "Tradovate refused the chart of 3570918: 404 Unknown contract"


def test_a_socket_dropped_mid_history_is_a_temporary_error_and_the_next_ask_works(fake_md, md):
    fake_md.hold_bars(MES, "MinuteBar", [wire_bar("2026-11-20T15:28:00Z", "1", "2", "1", "2")])
    fake_md.withhold_eoh()
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        asked = pool.submit(md.get_chart, MES, "MinuteBar", as_much_as_elements=10)
        assert wait_for(lambda: chart_requests(fake_md))
        time.sleep(0.1)  # the answer and the bars are on their way: no end comes
        fake_md.drop()
        with pytest.raises(TemporaryBrokerError, match="dropped before the end of the history"):
            asked.result(timeout=3)
    assert time.monotonic() - started < md.chart_timeout  # the drop, not the timeout

    fake_md.eoh_withheld = False
    assert len(md.get_chart(MES, "MinuteBar", as_much_as_elements=10)) == 1  # reconnected


def test_no_end_of_history_in_time_is_temporary_and_cancels_the_chart(fake_md, md):
    fake_md.withhold_eoh()
    md.chart_timeout = 0.4
    with pytest.raises(TemporaryBrokerError, match="no end of the MinuteBar history"):
        md.get_chart(MES, "MinuteBar", as_much_as_elements=10)
    assert wait_for(lambda: fake_md.cancelled_charts() == [1001])


# --- the backfill: a Tradovate account's subscription through to GET /api/bars -----------


@pytest.fixture
def desk(app, api, make_account, fake_tradovate, monkeypatch):
    """A Tradovate account whose market data is the fake md socket; the front MES contract
    priced, so the fake REST knows its id."""
    server = FakeMarketDataServer(token="md-token").start()
    fake_tradovate.md_token = "md-token"
    app.config["TRADOVATE_MD_URL"] = server.url
    monkeypatch.setattr(tradovate_broker, "_market_data", lambda: market_data)
    account = make_account(
        "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
    )
    symbol = front()
    fake_tradovate.set_price(symbol, "6000")
    yield server, account, symbol, fake_tradovate.contracts[symbol]["id"]
    market_data.shutdown()
    server.stop()


def subscribe(api, account, symbol) -> None:
    """The ticket's preview: it asks the account's market data to quote the symbol."""
    body = {"account_id": account["id"], "symbol": symbol, "side": "buy", "qty": 1,
            "order_type": "market"}  # fmt: skip
    assert api.post("/api/orders/preview", body).status_code in (200, 422)


def bars_of(api, symbol, timeframe, start: datetime, end: datetime) -> list[dict]:
    query = f"symbol={symbol}&timeframe={timeframe}&start={start:%Y-%m-%dT%H:%M:%SZ}"
    return api.get(f"/api/bars?{query}&end={end:%Y-%m-%dT%H:%M:%SZ}").get_json()["items"]


def recent_history(now: datetime) -> tuple[datetime, list[dict], list[dict]]:
    """Two minutes of an hour ago (and one older than a day, not asked for), and two days
    (and one older than a year)."""
    minute = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    stamp = lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    minutes = [
        wire_bar(stamp(minute - timedelta(days=2)), "5900", "5901", "5899", "5900"),
        wire_bar(stamp(minute), "6000", "6002.25", "5999.5", "6001.75", 12, 8),
        wire_bar(stamp(minute + timedelta(minutes=1)), "6001.75", "6003", "6001", "6002.5", 4, 6),
    ]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [
        wire_bar(stamp(today - timedelta(days=400)), "4000", "4100", "3900", "4050"),
        wire_bar(stamp(today - timedelta(days=2)), "5950", "6010", "5940", "6000", 900, 800),
        wire_bar(stamp(today - timedelta(days=1)), "6000", "6020.5", "5980", "6010.25", 500, 400),
    ]
    return minute, minutes, days


def test_a_subscribed_symbol_s_history_is_stored_as_the_broker_s_bars(desk, api, app):
    server, account, symbol, contract_id = desk
    now = datetime.now(UTC)
    minute, minutes, days = recent_history(now)
    server.hold_bars(contract_id, "MinuteBar", minutes)
    server.hold_bars(contract_id, "DailyBar", days)

    subscribe(api, account, symbol)
    start, end = minute - timedelta(days=3), minute + timedelta(minutes=5)
    assert wait_for(lambda: len(bars_of(api, symbol, "1d", now - timedelta(days=30), now)) >= 2)

    asked = chart_requests(server)
    assert [(a["symbol"], a["chartDescription"]["underlyingType"]) for a in asked] == [
        (contract_id, "MinuteBar"),
        (contract_id, "DailyBar"),
    ]
    minute_since = datetime.fromisoformat(asked[0]["timeRange"]["asFarAsTimestamp"])
    daily_since = datetime.fromisoformat(asked[1]["timeRange"]["asFarAsTimestamp"])
    assert abs(minute_since - (now - timedelta(days=1))) < timedelta(seconds=30)
    assert abs(daily_since - (now - timedelta(days=365))) < timedelta(seconds=30)
    assert bars_of(api, symbol, "1m", start, end) == [
        {"time": minute.isoformat().replace("+00:00", "Z"), "open": "6000", "high": "6002.25",
         "low": "5999.5", "close": "6001.75", "volume": 20},
        {"time": (minute + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
         "open": "6001.75", "high": "6003", "low": "6001", "close": "6002.5", "volume": 10},
    ]  # fmt: skip
    assert wait_for(lambda: len(server.cancelled_charts()) == 2)

    # Each daily bar sits at the CME trading day its date names.
    daily = bars_of(api, symbol, "1d", now - timedelta(days=30), now)
    day_before = (now - timedelta(days=2)).date()
    assert [(item["time"], item["high"], item["volume"]) for item in daily[:2]] == [
        (_iso(trading_day_of(day_before)), "6010", 1700),
        (_iso(trading_day_of(day_before + timedelta(days=1))), "6020.5", 900),
    ]

    # Once per symbol and process: the next subscription asks nothing.
    subscribe(api, account, symbol)
    time.sleep(0.2)
    assert len(chart_requests(server)) == 2


def test_a_live_price_of_the_same_minute_does_not_overwrite_the_broker_s_bar(desk, api, app):
    server, account, symbol, contract_id = desk
    # Tradovate's history ends with the minute still open: this one, and the next in case
    # the clock turns a minute before the live price comes.
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    held = [minute + timedelta(minutes=n) for n in (-1, 0, 1)]
    server.hold_bars(
        contract_id,
        "MinuteBar",
        [wire_bar(_iso(at), "6000", "6001", "5999", "6000.5", 3, 4) for at in held],
    )
    subscribe(api, account, symbol)
    start, end = held[0], held[-1]
    assert wait_for(lambda: len(bars_of(api, symbol, "1m", start, end)) == 3)
    assert wait_for(lambda: server.subscribed(contract_id))

    server.push_quote(contract_id, trade="6100", timestamp=_iso(datetime.now(UTC)))
    live = lambda: bars.book.open_bar(symbol)  # noqa: E731
    assert wait_for(lambda: live() is not None and live().close == D("6100"))
    with app.app_context():
        assert bars.flush(held[-1] + timedelta(minutes=1)) >= 1  # the price's minute...

    assert bars_of(api, symbol, "1m", start, end) == [  # ...kept the broker's bar
        {"time": _iso(at), "open": "6000", "high": "6001", "low": "5999", "close": "6000.5",
         "volume": 7}
        for at in held
    ]  # fmt: skip


def test_a_failed_backfill_is_logged_once_and_asked_again_at_the_next_subscription(
    desk, api, caplog
):
    server, account, symbol, contract_id = desk
    minute, minutes, _days = recent_history(datetime.now(UTC))
    server.hold_bars(contract_id, "MinuteBar", minutes)
    server.refuse_chart(contract_id, 403, "No market data subscription")

    with caplog.at_level(logging.WARNING, logger="app.brokers.tradovate.backfill"):
        subscribe(api, account, symbol)
        assert wait_for(lambda: "no bar history" in caplog.text)
    [warning] = [r.getMessage() for r in caplog.records if "bar history" in r.getMessage()]
    assert warning == (
        f"market data: no bar history for {symbol} (Tradovate refused the chart of "
        f"{contract_id}: 403 No market data subscription); asked again at its next subscription"
    )

    del server.charts_refused[contract_id]
    subscribe(api, account, symbol)
    start, end = minute, minute + timedelta(minutes=5)
    assert wait_for(lambda: len(bars_of(api, symbol, "1m", start, end)) == 2)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
