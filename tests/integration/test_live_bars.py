"""The `bar` event (DESIGN §5.5): a symbol's open 1-minute bar, sent to the owner's room
when it has a new price, at most once a second per symbol, so an open chart moves."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.services.market import prices
from tests.conftest import front
from tests.integration.test_live import listen  # noqa: F401 - the fixture

MINUTE = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def tick(symbol: str, price: str, seconds: int) -> None:
    prices.update(symbol, Decimal(price), MINUTE + timedelta(seconds=seconds), "test")


def bars_of(listener, symbol: str) -> list[dict]:
    listener.take()
    return [p for n, p in listener.heard if n == "bar" and p["symbol"] == symbol]


def test_a_new_price_sends_the_symbol_s_open_minute(listen):  # noqa: F811
    mes, mnq = front("MES"), front("MNQ")
    listener = listen()
    for seconds, price in [(1, "6000"), (5, "6001.25"), (9, "5999.5"), (12, "6000.75")]:
        tick(mes, price, seconds)

    last = listener.wait_for("bar", lambda p: p["symbol"] == mes and p["volume"] == 4)
    assert last == {
        "symbol": mes,
        "timeframe": "1m",
        "time": "2026-12-04T14:30:00Z",
        "open": "6000",
        "high": "6001.25",
        "low": "5999.5",
        "close": "6000.75",
        "volume": 4,
    }
    assert bars_of(listener, mnq) == []  # no price, no bar

    tick(mes, "6002", 61)  # the next minute opens a new bar
    listener.wait_for("bar", lambda p: p["symbol"] == mes and p["time"] == "2026-12-04T14:31:00Z")


def test_bars_are_sent_at_most_once_a_second_per_symbol(listen):  # noqa: F811
    mes, mnq = front("MES"), front("MNQ")
    listener = listen()
    tick(mnq, "21000", 0)
    for step in range(1, 21):
        tick(mes, str(Decimal("6000") + Decimal("0.25") * step), step)
    listener.wait_for("bar", lambda p: p["symbol"] == mes and p["close"] == "6005")
    time.sleep(1.2)  # what the held-back second would still send
    sent = bars_of(listener, mes)
    assert 1 <= len(sent) <= 2
    assert sent[-1]["volume"] == 20
    assert [p["close"] for p in bars_of(listener, mnq)] == ["21000"]  # each symbol its own
