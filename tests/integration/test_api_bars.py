"""/api/bars and /api/bars/import (DESIGN §5.4): stored bars read back exactly, each chart
style through the API, and bad input refused with the field named."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.services.market import bars, prices
from tests.conftest import front

T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
CSV = """time,open,high,low,close,volume
2026-12-04T14:30:00Z,6000,6002.5,5999.25,6001,120
2026-12-04T14:31:00Z,6001,6004,6000.75,6003.5,95
2026-12-04T14:32:00Z,6003.5,6003.5,5997,5998,210
"""


def span(**extra) -> str:
    query = {"symbol": front("MES"), "start": "2026-12-04T14:30:00Z",
             "end": "2026-12-04T15:30:00Z", **extra}  # fmt: skip
    return "&".join(f"{k}={v}" for k, v in query.items())


def imported(api, text: str = CSV, timeframe: str = "1m"):
    return api.client.post(
        f"/api/bars/import?symbol={front('MES')}&timeframe={timeframe}",
        data=text,
        headers={"Content-Type": "text/csv", **api.headers},
    )


def test_imported_bars_read_back_exactly(api):
    response = imported(api, CSV + "2026-12-04T14:31:00Z,1,1,1,1,1\n")  # a repeated minute
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"imported": 3, "skipped": 1}
    read = api.get(f"/api/bars?{span()}").get_json()
    assert read["symbol"] == front("MES") and read["timeframe"] == "1m"
    assert read["items"] == [
        {"time": "2026-12-04T14:30:00Z", "open": "6000", "high": "6002.5", "low": "5999.25",
         "close": "6001", "volume": 120},
        {"time": "2026-12-04T14:31:00Z", "open": "6001", "high": "6004", "low": "6000.75",
         "close": "6003.5", "volume": 95},
        {"time": "2026-12-04T14:32:00Z", "open": "6003.5", "high": "6003.5", "low": "5997",
         "close": "5998", "volume": 210},
    ]  # fmt: skip
    five = api.get(f"/api/bars?{span(timeframe='5m')}").get_json()["items"]
    assert five == [
        {"time": "2026-12-04T14:30:00Z", "open": "6000", "high": "6004", "low": "5997",
         "close": "5998", "volume": 425},
    ]  # fmt: skip


def test_json_import_and_a_continuous_symbol_name_the_same_contract(api):
    body = {"symbol": "MES1!", "timeframe": "1m",
            "items": [{"time": "2026-12-04T14:30:00Z", "open": 6000, "high": "6001",
                       "low": "5999", "close": "6000.5", "volume": 3}]}  # fmt: skip
    assert api.post("/api/bars/import", body).get_json() == {"imported": 1, "skipped": 0}
    items = api.get(f"/api/bars?{span(symbol='MES1!')}").get_json()["items"]
    assert [item["close"] for item in items] == ["6000.5"]


def test_prices_seen_become_bars_the_api_reads(app, api):
    for seconds, value in [(0, "6000"), (30, "6001.25"), (61, "6000.5")]:
        prices.update(front("MES"), D(value), T0 + timedelta(seconds=seconds), "test")
    with app.app_context():
        bars.flush(T0 + timedelta(seconds=62))
    items = api.get(f"/api/bars?{span()}").get_json()["items"]
    assert [(i["time"], i["open"], i["close"], i["volume"]) for i in items] == [
        ("2026-12-04T14:30:00Z", "6000", "6001.25", 2),
        ("2026-12-04T14:31:00Z", "6000.5", "6000.5", 1),  # the open minute, live
    ]


@pytest.mark.parametrize(
    ("style", "extra", "first"),
    [
        ("heikin-ashi", {}, {"open": "6000.5", "close": "6000.75"}),
        ("renko", {"box": "1"}, {"open": "6002", "close": "6003", "direction": "up"}),
        ("kagi", {"reversal": "2"}, {"price": "6001"}),
        ("point-and-figure", {"box": "1", "reversal": "1"}, {"direction": "X"}),
    ],
)
def test_each_style_is_drawn_from_the_stored_bars(api, style, extra, first):
    imported(api)
    answer = api.get(f"/api/bars?{span(style=style, **extra)}").get_json()
    assert answer["style"] == style and answer["items"], answer
    assert {k: answer["items"][0][k] for k in first} == first


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"style": "sparkles"}, "style"),
        ({"style": "renko", "box": "-1"}, "box"),
        ({"style": "point-and-figure"}, "box"),
        ({"style": "kagi", "reversal": "abc"}, "reversal"),
        ({"timeframe": "2m"}, "timeframe"),
        ({"symbol": "NOPE1!"}, "symbol"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-01-01T00:00:00Z"}, "start"),  # too long a span of minutes
    ],
)
def test_bad_reads_are_400_with_the_field(api, query, field):
    response = api.get(f"/api/bars?{span(**query)}")
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("2026-12-04T14:33:00Z,6000,5990,5995,5992,1", "items[3].high"),  # high below low
        ("2026-12-04T14:33:00Z,6000,6001,5999,6003,1", "items[3].close"),  # outside the range
        ("2026-12-04T14:33:30Z,6000,6001,5999,6000,1", "items[3].time"),  # not a minute start
        ("2026-12-04T14:33:00Z,-1,6001,5999,6000,1", "items[3].open"),
        ("2026-12-04T14:33:00Z,6000,6001,5999,6000,-4", "items[3].volume"),
        ("when,6000,6001,5999,6000,1", "items[3].time"),
    ],
)
def test_a_bad_row_refuses_the_whole_import_naming_it(api, row, field):
    response = imported(api, CSV + row + "\n")
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert api.get(f"/api/bars?{span()}").get_json()["items"] == []  # nothing kept


def test_daily_bars_are_named_by_their_trading_day(api):
    response = imported(api, "2026-12-03,5990,6010,5980,6005,100000\n", timeframe="1d")
    assert response.status_code == 200, response.get_json()
    query = span(timeframe="1d", start="2026-12-01T00:00:00Z", end="2026-12-04T00:00:00Z")
    [day] = api.get(f"/api/bars?{query}").get_json()["items"]
    assert day["time"] == "2026-12-02T23:00:00Z"  # 17:00 Chicago the evening before
