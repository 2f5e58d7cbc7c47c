"""The last-price cache: quotes, subscribers that cannot break an update, thread safety."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.services.market import prices
from app.services.market.prices import PriceCache, Quote

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def test_the_last_update_of_a_symbol_is_its_quote():
    cache = PriceCache()
    assert cache.last("MESZ6") is None
    cache.update("MESZ6", D("6000.25"), T0, "paper-feed")
    quote = cache.update("MESZ6", D("6000.50"), T0 + timedelta(seconds=1), "alert")
    assert cache.last("MESZ6") == quote == Quote(D("6000.50"), T0 + timedelta(seconds=1), "alert")
    assert cache.snapshot() == {"MESZ6": quote}
    assert cache.last("ESZ6") is None


def test_subscribers_hear_each_update_after_the_cache_holds_it():
    cache = PriceCache()
    heard = []
    cache.subscribe(
        lambda symbol, price, time: heard.append((symbol, price, time, cache.last(symbol)))
    )
    cache.update("ESZ6", D(6000), T0, "test")
    assert heard == [("ESZ6", D(6000), T0, Quote(D(6000), T0, "test"))]


def test_a_failing_subscriber_is_logged_and_breaks_neither_the_update_nor_the_others(caplog):
    cache = PriceCache()
    heard = []

    def broken(symbol, price, time):
        raise RuntimeError("boom")

    cache.subscribe(broken)
    cache.subscribe(lambda symbol, price, time: heard.append(price))
    cache.update("ESZ6", D(6000), T0, "test")
    assert heard == [D(6000)] and cache.last("ESZ6").price == D(6000)
    assert "price subscriber" in caplog.text and "boom" in caplog.text


def test_subscribing_twice_calls_once_and_clear_keeps_subscribers():
    cache = PriceCache()
    heard = []

    def listen(symbol, price, time):
        heard.append(price)

    cache.subscribe(listen)
    cache.subscribe(listen)
    cache.update("ESZ6", D(1), T0, "test")
    cache.clear()
    assert cache.last("ESZ6") is None
    cache.update("ESZ6", D(2), T0, "test")
    assert heard == [D(1), D(2)]


@pytest.mark.parametrize(
    ("price", "time"),
    [(6000.25, T0), (D("NaN"), T0), (D(0), T0), (D(-1), T0), (D(1), T0.replace(tzinfo=None))],
)
def test_a_price_that_is_not_a_positive_decimal_at_an_aware_time_is_refused(price, time):
    cache = PriceCache()
    with pytest.raises(ValueError):
        cache.update("ESZ6", price, time, "test")
    assert cache.last("ESZ6") is None


def test_concurrent_updates_reach_subscribers_one_at_a_time_and_in_order():
    cache = PriceCache()
    active, most, seen = [0], [0], {}
    guard = threading.Lock()

    def listen(symbol, price, time):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        seen.setdefault(symbol, []).append(price)
        with guard:
            active[0] -= 1

    cache.subscribe(listen)

    def publish(symbol):
        for step in range(1, 201):
            cache.update(symbol, D(step), T0, "test")

    threads = [threading.Thread(target=publish, args=(f"S{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert all(seen[f"S{n}"] == [D(step) for step in range(1, 201)] for n in range(8))
    assert all(cache.last(f"S{n}").price == D(200) for n in range(8))


def test_the_module_functions_share_one_process_wide_cache():
    prices.clear()
    try:
        prices.update("NQZ6", D("21000"), T0, "test")
        assert prices.last("NQZ6").price == D("21000")
        assert prices.snapshot()["NQZ6"].source == "test"
    finally:
        prices.clear()
