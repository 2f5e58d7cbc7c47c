"""The Tradovate market-data client against a fake md WebSocket server on 127.0.0.1."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from app.brokers.tradovate import market_data
from app.brokers.tradovate.market_data import MarketDataClient
from app.services.market import prices
from tests.conftest import make_config
from tests.fakes.tradovate_md import (  # noqa: F401  (fake_md and heard are fixtures)
    DEFAULT_TOKEN,
    FakeMarketDataServer,
    fake_md_server,
    heard_quotes,
)

MES, MNQ = 3570918, 3570921
wait_for = FakeMarketDataServer.wait_for


@pytest.fixture
def make_client():
    """Build clients with test-sized intervals; every one is stopped after the test."""
    made: list[MarketDataClient] = []

    def make(url: str, token: str = DEFAULT_TOKEN, **options) -> MarketDataClient:
        settings = {
            "heartbeat_interval": 0.1,
            "stale_after": 5.0,
            "backoff_initial": 0.05,
            "backoff_max": 0.4,
            "request_timeout": 2.0,
            "silence_timeout": 5.0,
            **options,
        }
        client = MarketDataClient(url, lambda: token, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


def requests_of(server: FakeMarketDataServer, connection: int) -> list[tuple[str, str, str]]:
    """(endpoint, query, body) of every request on one connection, heartbeats left out."""
    found = []
    for received in server.sent(connection):
        if received.request is not None:
            endpoint, _id, query, body = received.request
            found.append((endpoint, query, body))
    return found


def test_authorizes_with_the_token_then_subscribes_by_contract_id(fake_md, make_client):
    client = make_client(fake_md.url)
    client.subscribe("MESZ6", MES)
    client.start()

    assert wait_for(lambda: fake_md.subscribed(MES))
    assert requests_of(fake_md, 1) == [
        ("authorize", "", DEFAULT_TOKEN),
        ("md/subscribeQuote", "", json.dumps({"symbol": MES}, separators=(",", ":"))),
    ]
    ids = [r.request[1] for r in fake_md.sent(1) if r.request is not None]
    assert len(set(ids)) == len(ids)
    status = client.status()
    assert status["connected"] is True
    assert status["state"] == "connected"
    assert status["subscriptions"] == ["MESZ6"]
    assert status["last_error"] is None
    assert status["last_message_at"] is not None


def test_last_trades_go_to_the_listeners_as_exact_decimals(fake_md, make_client, heard):
    client = make_client(fake_md.url)
    client.start()
    client.subscribe("MESZ6", MES)
    client.subscribe("MNQZ6", MNQ)
    assert wait_for(lambda: fake_md.subscribed(MES) and fake_md.subscribed(MNQ))

    fake_md.push_quote(MES, trade="5012.25", bid="5012.00", ask="5012.50")
    fake_md.push_quote(MNQ, trade="18405.123456789012345678", timestamp="2026-11-20T15:30:01Z")
    assert wait_for(lambda: len(heard) == 2)

    quotes = {symbol: (price, time, source) for symbol, price, time, source in heard}
    price, time, source = quotes["MESZ6"]
    assert price == D("5012.25") and str(price) == "5012.25" and source == "tradovate"
    assert time == datetime(2026, 11, 20, 15, 30, 0, 250000, tzinfo=UTC)
    assert quotes["MNQZ6"][0] == D("18405.123456789012345678")
    assert client.last_price("MNQZ6") == D("18405.123456789012345678")
    book = client.top_of_book("MESZ6")
    assert (book.bid, book.ask, book.last) == (D("5012.00"), D("5012.50"), D("5012.25"))

    # A quote without a trade moves the book, not the last price, and is not handed on.
    fake_md.push_quote(MES, bid="5012.25", ask="5012.75")
    assert wait_for(lambda: client.top_of_book("MESZ6").bid == D("5012.25"))
    assert client.last_price("MESZ6") == D("5012.25")
    assert len(heard) == 2


def test_heartbeats_are_sent_at_the_interval(fake_md, make_client):
    assert MarketDataClient("ws://unused", lambda: "t").heartbeat_interval == 2.5
    client = make_client(fake_md.url, heartbeat_interval=0.1)
    client.start()

    assert wait_for(lambda: len(fake_md.heartbeats(1)) >= 5)
    beats = fake_md.heartbeats(1)
    gaps = [later - earlier for earlier, later in zip(beats, beats[1:], strict=False)]
    assert all(0.05 <= gap <= 0.25 for gap in gaps), gaps
    assert all(r.text == "[]" for r in fake_md.sent(1, endpoint="[]"))


def test_dropped_connection_reconnects_reauthorizes_and_resubscribes(fake_md, make_client):
    client = make_client(fake_md.url, backoff_initial=0.1)
    client.subscribe("MESZ6", MES)
    client.subscribe("MNQZ6", MNQ)
    client.start()
    assert wait_for(lambda: fake_md.subscribed(MES, 1) and fake_md.subscribed(MNQ, 1))

    dropped_at = time.monotonic()
    fake_md.drop()
    assert wait_for(lambda: fake_md.subscribed(MES, 2) and fake_md.subscribed(MNQ, 2))

    first_request = fake_md.sent(2)[0]
    assert first_request.at - dropped_at >= 0.1  # waited its backoff before reconnecting
    endpoints = [endpoint for endpoint, _, _ in requests_of(fake_md, 2)]
    assert endpoints == ["authorize", "md/subscribeQuote", "md/subscribeQuote"]
    assert requests_of(fake_md, 2)[0][2] == DEFAULT_TOKEN
    fake_md.push_quote(MNQ, trade="18400.50")
    assert wait_for(lambda: client.last_price("MNQZ6") is not None)
    assert client.last_price("MNQZ6") == D("18400.50")
    status = client.status()
    assert status["connected"] and status["reconnects"] == 1


def test_rejected_authorize_is_reported_and_retried_with_backoff(fake_md, make_client):
    client = make_client(fake_md.url, token="expired", backoff_initial=0.03, backoff_max=0.24)
    client.subscribe("MESZ6", MES)
    started = time.monotonic()
    client.start()

    assert wait_for(lambda: client.status()["failures"] >= 3)
    status = client.status()
    assert status["connected"] is False
    assert status["last_error"] == "authorize refused: 401 Invalid access token"
    time.sleep(max(0, started + 0.6 - time.monotonic()))
    attempts = [r.at for r in fake_md.sent(endpoint="authorize")]
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    # Waits of 0.03, 0.06, 0.12, then 0.24 (the cap): about five tries in 0.6 s, not a storm.
    assert 4 <= len(attempts) <= 6, gaps
    assert gaps[0] >= 0.03 and gaps[1] >= 0.06 and gaps[2] >= 0.12, gaps
    assert all(gap < 0.24 + 0.15 for gap in gaps), gaps
    assert not fake_md.sent(endpoint="md/subscribeQuote")

    fake_md.token = "expired"  # the server accepts the client's token from now on
    assert wait_for(lambda: fake_md.subscribed(MES))
    assert client.status()["last_error"] is None
    assert client.status()["failures"] == 0


def test_stale_flag_turns_on_after_silence_and_off_on_the_next_quote(fake_md, make_client):
    client = make_client(fake_md.url, stale_after=0.3)
    client.subscribe("MESZ6", MES)
    client.start()
    assert wait_for(lambda: fake_md.subscribed(MES))
    fake_md.push_quote(MES, trade="5000.25")
    assert wait_for(lambda: not client.is_stale("MESZ6"))
    fresh_at = time.monotonic()

    assert wait_for(lambda: client.is_stale("MESZ6"), timeout=2)
    assert time.monotonic() - fresh_at >= 0.25
    assert client.status()["stale"] == ["MESZ6"]
    assert client.status()["connected"] is True  # heartbeats keep the socket, not the quote

    fake_md.push_quote(MES, trade="5000.50")
    assert wait_for(lambda: not client.is_stale("MESZ6"))
    assert client.status()["stale"] == []
    assert client.is_stale("ESZ6")  # never subscribed: nothing fresh to trust


def test_a_symbol_that_never_quotes_turns_stale(fake_md, make_client):
    client = make_client(fake_md.url, stale_after=0.2)
    client.subscribe("MESZ6", MES)
    client.start()
    assert wait_for(lambda: fake_md.subscribed(MES))
    assert wait_for(lambda: client.status()["stale"] == ["MESZ6"], timeout=2)


def test_shutdown_event_ends_the_session_and_is_reported(fake_md, make_client):
    client = make_client(fake_md.url, backoff_initial=0.05)
    client.subscribe("MESZ6", MES)
    client.start()
    assert wait_for(lambda: fake_md.subscribed(MES, 1))

    fake_md.send_shutdown("Maintenance", "back soon")
    assert wait_for(lambda: client.status()["shutdown_reason"] == "Maintenance")
    assert wait_for(lambda: fake_md.subscribed(MES, 2))  # it came back and resubscribed
    assert wait_for(lambda: len(fake_md.live()) == 1)  # the client closed the old one
    assert client.status()["connected"] is True


def test_quota_shutdown_waits_the_longest_backoff(fake_md, make_client):
    client = make_client(fake_md.url, backoff_initial=0.05, backoff_max=0.5)
    client.start()
    assert wait_for(lambda: client.status()["connected"])

    fake_md.send_shutdown("ConnectionQuotaReached")
    assert wait_for(lambda: client.status()["state"] == "waiting")
    assert client.status()["retry_in"] > 0.3
    assert client.status()["last_error"] == "server shutdown: ConnectionQuotaReached"


def test_close_frame_and_silence_both_lead_to_a_reconnect(make_client):
    server = FakeMarketDataServer(heartbeat_interval=0.03).start()
    try:
        client = make_client(server.url, silence_timeout=0.25)
        client.subscribe("MESZ6", MES)
        client.start()
        assert wait_for(lambda: server.subscribed(MES, 1))
        time.sleep(0.35)  # longer than silence_timeout: `h` frames keep a quiet session
        assert len(server.connections) == 1

        server.send_close(3000, "Go away!")
        assert wait_for(lambda: server.subscribed(MES, 2))
        assert client.status()["last_disconnect"] == (
            'the server closed the session: [3000, "Go away!"]'
        )

        server.heartbeat_interval = None  # the server goes silent
        assert wait_for(lambda: server.subscribed(MES, 3), timeout=2)
        assert client.status()["last_disconnect"] == "the server sent nothing for 0.25 s"
        assert client.status()["last_error"] is None  # authorized again
    finally:
        client.stop()
        server.stop()


def test_refused_subscription_is_reported(fake_md, make_client):
    fake_md.refuse_subscription(MNQ, 404, "Unknown contract")
    client = make_client(fake_md.url)
    client.subscribe("MESZ6", MES)
    client.subscribe("MNQZ6", MNQ)
    client.start()

    assert wait_for(lambda: client.status()["subscription_errors"])
    assert client.status()["subscription_errors"] == {
        "MNQZ6": "md/subscribeQuote: 404 Unknown contract"
    }
    assert fake_md.subscribed(MES)


def test_unsubscribe_stops_the_quotes(fake_md, make_client):
    client = make_client(fake_md.url)
    client.subscribe("MESZ6", MES)
    client.start()
    assert wait_for(lambda: fake_md.subscribed(MES))

    client.unsubscribe("MESZ6")
    assert wait_for(lambda: not fake_md.subscribed(MES))
    assert requests_of(fake_md, 1)[-1] == ("md/unsubscribeQuote", "", f'{{"symbol":{MES}}}')
    assert client.status()["subscriptions"] == []


def test_stop_closes_the_socket_and_ends_the_thread(fake_md, make_client):
    client = make_client(fake_md.url)
    client.start()
    assert wait_for(lambda: client.status()["connected"])

    client.stop()
    assert client.status()["state"] == "stopped"
    assert client.status()["connected"] is False
    assert wait_for(lambda: not fake_md.live())


def test_unreachable_server_is_reported_and_retried():
    client = MarketDataClient(
        "ws://127.0.0.1:9/v1/websocket", lambda: "t", backoff_initial=0.05, backoff_max=0.1
    )
    client.start()
    try:
        assert wait_for(lambda: client.status()["failures"] >= 2)
        assert client.status()["last_error"].startswith("cannot connect to ws://127.0.0.1:9")
    finally:
        client.stop()


@pytest.fixture
def registry():
    yield market_data
    market_data.shutdown()


def test_registry_skips_until_a_contract_lookup_is_registered(registry, caplog):
    account = SimpleNamespace(id=3, name="DEMO123", environment="demo")
    assert registry.subscribe(account, "MESZ6") is False
    assert "no contract lookup registered" in caplog.text
    assert registry.client() is None
    assert registry.status()["state"] == "off"
    assert registry.last_price("MESZ6") is None


def test_registry_subscribes_through_the_adapters_lookup(fake_md, registry, tmp_path):
    from app import create_app

    app = create_app(
        make_config(tmp_path, TRADOVATE_MD_URL=fake_md.url, TRADOVATE_STALE_SECONDS=7.5)
    )
    account = SimpleNamespace(id=3, name="DEMO123", environment="demo")
    registry.register(
        token_provider=lambda: DEFAULT_TOKEN,
        contract_id_lookup={"MESZ6": MES}.get,
    )
    with app.app_context():
        assert registry.subscribe(account, "MESZ6") is True
        assert registry.subscribe(account, "ZZZZ9") is False  # unknown at Tradovate

    assert wait_for(lambda: fake_md.subscribed(MES))
    running = registry.client()
    assert running.url == fake_md.url and running.stale_after == 7.5
    assert registry.last_price("MESZ6") is None
    fake_md.push_quote(MES, trade="4999.75")
    assert wait_for(lambda: registry.last_price("MESZ6") is not None)
    assert registry.last_price("MESZ6") == D("4999.75")
    # The app connected the adapters to the services: the trade is in the price cache.
    quote = prices.last("MESZ6")
    assert (quote.price, quote.source) == (D("4999.75"), "tradovate")
    assert registry.status()["subscriptions"] == ["MESZ6"]
    assert registry.is_stale("MESZ6") is False


def test_the_default_url_is_tradovates_md_socket():
    assert market_data.md_url("demo") == "wss://md.tradovateapi.com/v1/websocket"
    assert market_data.md_url("live") == "wss://md.tradovateapi.com/v1/websocket"
    assert market_data.md_url("live", "ws://127.0.0.1:1/x") == "ws://127.0.0.1:1/x"


def test_a_delayed_subscription_marks_its_quotes_until_answered_real_time(fake_md, make_client):
    fake_md.serve_delayed(MES)
    heard: list[tuple] = []
    client = make_client(
        fake_md.url,
        on_quote=lambda symbol, price, time, source, *, delayed: heard.append(
            (symbol, price, delayed)
        ),
    )
    client.subscribe("MESZ6", MES)
    client.subscribe("MNQZ6", MNQ)
    client.start()
    assert wait_for(lambda: client.is_delayed("MESZ6"))
    assert wait_for(lambda: fake_md.subscribed(MNQ))  # a quote before it would be lost

    fake_md.push_quote(MES, trade="5012.25")
    fake_md.push_quote(MNQ, trade="18405")
    assert wait_for(lambda: len(heard) == 2)
    assert sorted(heard) == [("MESZ6", D("5012.25"), True), ("MNQZ6", D("18405"), False)]
    assert client.status()["delayed"] == ["MESZ6"] and not client.is_delayed("MNQZ6")

    # The user buys the subscription: the resubscription after a reconnect is real-time.
    fake_md.serve_delayed(MES, False)
    fake_md.drop()
    assert wait_for(lambda: fake_md.subscribed(MES, connection=2))
    assert wait_for(lambda: not client.is_delayed("MESZ6"))
    fake_md.push_quote(MES, trade="5012.50")
    assert wait_for(lambda: len(heard) == 3)
    assert heard[-1] == ("MESZ6", D("5012.50"), False)
    assert client.status()["delayed"] == []
