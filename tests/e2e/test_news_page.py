"""The news page in a real browser: sources added, fetched, edited and deleted (a failing
one shows its error), articles filtered by label and symbol with the symbol's sentiment
chart, and the sentiment badge beside an open position on the dashboard."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from app.services.market import prices
from tests.conftest import front
from tests.e2e.helpers import accept_dialogs, add_paper_account, add_strategy, api, send_alert
from tests.fakes.rss_feed import Item, rss

RALLY = "Stocks rallied strongly, a great day for investors!"  # VADER compound 0.7574
CRASH = "The market crashed; terrible losses."  # VADER compound −0.7003


def hours_ago(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def wire(feed_server) -> str:
    return feed_server.serve(
        "/wire",
        rss([
            Item("S&P 500 futures: " + RALLY, "https://n.example/1", published=hours_ago(1)),
            Item("Oil prices fall", "https://n.example/2", CRASH, published=hours_ago(2)),
        ]),
    )  # fmt: skip


def test_sources_are_managed_and_articles_filtered_with_a_sentiment_chart(
    logged_in_page: Page, console_errors, feed_server, shoot
):
    page = logged_in_page
    page.goto("/news")
    expect(page.get_by_role("heading", name="News", exact=True)).to_be_visible()
    expect(page.get_by_test_id("news-feed")).to_contain_text("No article passes the filters")

    form = page.get_by_test_id("source-form")
    form.get_by_label("Name").fill("Wire")
    form.get_by_label("Feed URL").fill(wire(feed_server))
    form.get_by_role("button", name="Add source").click()
    sources = page.get_by_test_id("news-sources")
    expect(sources.locator("tr[data-source-id]")).to_have_count(1)
    api(page, "POST", "/api/news/sources",
        {"name": "Broken", "url": feed_server.serve("/down", status=500)})  # fmt: skip
    page.reload()

    sources.get_by_role("button", name="Fetch all now").click()
    report = sources.locator('[data-role="fetch-report"]')
    # The first fetch of a process imports NLTK (about 2 s on a busy machine).
    expect(report).to_contain_text("Fetched 2 articles: 2 new, 0 already kept.", timeout=20_000)
    expect(report).to_contain_text("Broken: 127.0.0.1 answered HTTP 500")
    broken = sources.locator("tr[data-source-id]", has_text="Broken")
    expect(broken.get_by_test_id("last-error")).to_contain_text("answered HTTP 500")
    expect(broken.get_by_test_id("last-error")).to_contain_text("1 failure; next try after")
    good = sources.locator("tr[data-source-id]", has_text="Wire")
    expect(good.get_by_test_id("last-error")).to_have_text("")
    expect(good.get_by_test_id("last-fetched")).not_to_have_text("never")

    feed = page.get_by_test_id("news-feed")
    expect(feed.locator("tr[data-article-id]")).to_have_count(2)
    first = feed.locator("tr[data-article-id]").first
    expect(first).to_contain_text("very positive 0.7574")
    expect(first.get_by_test_id("tickers")).to_have_text("ES MES")

    filters = page.get_by_test_id("news-filters")
    filters.get_by_label("Sentiment").select_option("negative")
    filters.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"[?&]label=negative"))
    expect(feed.locator("tr[data-article-id]")).to_have_count(1)
    expect(feed).to_contain_text("Oil prices fall")
    expect(feed.locator("tr[data-article-id]").first).to_have_attribute("data-label", "negative")

    filters.get_by_label("Sentiment").select_option("")
    filters.get_by_label("Symbol").fill("MES1!")
    filters.get_by_label("Chart bucket").select_option("1d")
    filters.get_by_role("button", name="Show").click()
    expect(feed.locator("tr[data-article-id]")).to_have_count(1)
    chart = page.get_by_test_id("sentiment-chart")
    expect(chart).to_have_attribute("data-points", "1")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(page.get_by_role("heading", name="Sentiment of MES per 1d")).to_be_visible()
    shoot(page, "news", screens=("1366", "phone"))

    page.goto("/news")
    good.get_by_text("Fetch now").wait_for()
    page.get_by_text("Edit Wire").click()
    edit = page.locator("details[open] form")
    edit.get_by_label("Name").fill("Markets wire")
    edit.get_by_label("Weight").fill("2.5")
    edit.get_by_role("button", name="Save").click()
    renamed = sources.locator("tr[data-source-id]", has_text="Markets wire")
    expect(renamed).to_contain_text("2.5")

    asked = accept_dialogs(page)
    broken.get_by_role("button", name="Delete").click()
    expect(sources.locator("tr[data-source-id]")).to_have_count(1)
    assert asked == ["Delete source Broken? Its articles stay."]
    assert console_errors == []


def test_a_bad_symbol_filter_says_why(logged_in_page: Page, console_errors):
    page = logged_in_page
    page.goto("/news?symbol=AAPL")
    expect(page.locator('[data-role="filter-error"]')).to_contain_text("AAPL")
    assert [e for e in console_errors if "status of 400" not in e] == []


def test_the_dashboard_shows_the_news_sentiment_beside_a_position(
    logged_in_page: Page, console_errors, feed_server
):
    page = logged_in_page
    api(page, "POST", "/api/news/sources", {"name": "Wire", "url": wire(feed_server)})
    assert api(page, "POST", "/api/news/fetch")["new"] == 2
    account = add_paper_account(page)
    strategy = add_strategy(page, "Trend", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    send_alert(page, strategy["webhook_token"], symbol="MES1!", action="buy", price="6000")

    page.goto("/")
    row = page.get_by_test_id("positions").locator(f'tr[data-symbol="{front("MES")}"]')
    badge = row.locator('[data-role="sentiment"]')
    expect(badge).to_have_text("very positive 0.7574")
    expect(badge).to_have_class("tag sentiment sentiment-very_positive")
    expect(badge).to_have_attribute("title", "News sentiment of the last 24 h: mean score "
                                             "0.7574 over 1 article")  # fmt: skip
    assert console_errors == []
