"""Price alerts' sentiment conditions read the news: the mean score of the rule's product
over the condition's window, looked at on each closed bar; no news, no firing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.extensions import db
from app.services.insight import news
from app.services.market import bars, price_alerts, prices
from tests.conftest import front
from tests.fakes.rss_feed import Item, rss

T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
RALLY = "Stocks rallied strongly, a great day for investors!"  # VADER compound 0.7574
CRASH = "The market crashed; terrible losses."  # VADER compound −0.7003


@pytest.fixture(autouse=True)
def fresh_memory():
    price_alerts.forget()
    yield
    price_alerts.forget()


def sentiment_rule(api, kind: str, value: str, **extra) -> dict:
    body = {"name": f"News {kind}", "symbol": "MES1!", "timeframe": "1m",
            "conditions": [{"kind": kind, "value": value, **extra}]}  # fmt: skip
    response = api.post("/api/price-alerts", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def closed_bar(app) -> None:
    """One 1-minute bar of the front MES closes at 14:31."""
    prices.update(front("MES"), D("6000"), T0 + timedelta(seconds=5), "test")
    with app.app_context():
        bars.flush(T0 + timedelta(minutes=1))


def news_at(api, feed_server, *items: Item) -> None:
    url = feed_server.serve("/wire", rss(list(items)))
    assert api.post("/api/news/sources", {"name": "Wire", "url": url}).status_code == 201
    assert api.post("/api/news/fetch").get_json()["new"] == len(items)


def watch(app) -> int:
    with app.app_context():
        kept = price_alerts.watch(T0 + timedelta(minutes=1, seconds=1), news.symbol_sentiment)
        db.session.remove()
        return kept


def triggers(api, rule: dict) -> list[dict]:
    return api.get(f"/api/price-alerts/{rule['id']}/triggers").get_json()["items"]


def test_sentiment_above_fires_on_the_mean_of_the_window(app, api, feed_server):
    news_at(
        api, feed_server,
        Item("S&P 500: " + RALLY, "https://n.example/1", published="2026-12-04T14:00:00Z"),
        Item("Micro S&P: " + RALLY, "https://n.example/2", published="2026-12-04T13:50:00Z"),
        Item("S&P 500: " + CRASH, "https://n.example/3", published="2026-12-04T11:00:00Z"),
    )  # fmt: skip
    above = sentiment_rule(api, "sentiment_above", "0.5")  # default window: 60 minutes
    wide = sentiment_rule(api, "sentiment_above", "0.5", window_minutes=240)
    closed_bar(app)

    assert watch(app) == 1
    [fired] = triggers(api, above)
    assert fired["values"]["conditions"][0] == {
        "condition": 0, "kind": "sentiment_above", "seen": "0.7574", "met": True,
    }  # fmt: skip
    assert triggers(api, wide) == []  # four hours reach the crash: (0.7574·2 − 0.7003) / 3


def test_sentiment_below_and_no_news_in_the_window(app, api, feed_server):
    news_at(api, feed_server, Item("S&P 500: " + CRASH, "https://n.example/1",
                                   published="2026-12-04T14:20:00Z"))  # fmt: skip
    below = sentiment_rule(api, "sentiment_below", "-0.5", window_minutes=30)
    quiet = sentiment_rule(api, "sentiment_below", "0", window_minutes=5)  # no news in it
    closed_bar(app)

    assert watch(app) == 1
    assert triggers(api, below)[0]["values"]["conditions"][0]["seen"] == "-0.7003"
    assert triggers(api, quiet) == []


def test_a_news_only_rule_is_looked_at_without_any_bar(app, api, feed_server):
    """No price was ever seen for the product (no bar): a rule of sentiment conditions only
    is still looked at when its minute closes; a rule that also needs a price is not."""
    news_at(api, feed_server, Item("S&P 500: " + CRASH, "https://n.example/1",
                                   published="2026-12-04T14:20:00Z"))  # fmt: skip
    news_only = sentiment_rule(api, "sentiment_below", "-0.5")
    body = {"name": "News and price", "symbol": "MES1!", "timeframe": "1m",
            "conditions": [{"kind": "sentiment_below", "value": "-0.5"},
                           {"kind": "price_below", "value": "7000"}]}  # fmt: skip
    with_price = api.post("/api/price-alerts", body).get_json()

    assert watch(app) == 1
    assert triggers(api, news_only)[0]["values"]["conditions"][0]["seen"] == "-0.7003"
    assert triggers(api, with_price) == []
