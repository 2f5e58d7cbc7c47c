"""News through the API against feeds on 127.0.0.1: sources kept and validated, RSS and
Atom fetched, conditional requests answered 304, a failing or slow source backed off
without stopping the others, articles kept once by URL and by content, and scores,
tickers and series that come out the same on every run."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import NewsArticle, NewsSource
from app.services.insight import news_fetch
from app.workers import news_fetch as news_job
from app.workers.scheduler import JOB_REGISTRATIONS
from tests.fakes.rss_feed import Item, atom, rss

RALLY = "Stocks rallied strongly, a great day for investors!"  # VADER compound 0.7574
CRASH = "The market crashed; terrible losses."  # VADER compound −0.7003

S_AND_P = Item(
    "S&P 500 futures: " + RALLY, "https://news.example/a1", published="2026-12-04T14:05:00Z"
)
CRUDE = Item("Oil prices fall", "https://news.example/a2", CRASH, "2026-12-04T15:30:00Z")
GOLD = Item(
    "$GC steady", "https://news.example/a3", "Gold holds its ground.", "2026-12-04T16:00:00Z"
)


def add_source(api, url: str, name: str = "Wire", **fields) -> dict:
    response = api.post("/api/news/sources", {"name": name, "url": url, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(api, body=None) -> dict:
    response = api.post("/api/news/fetch", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def articles(api, query: str = "") -> list[dict]:
    response = api.get(f"/api/news{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_sources_are_added_changed_listed_and_deleted(api):
    made = add_source(api, "https://feeds.example/markets.xml", weight="2.5")
    assert made["enabled"] is True and made["weight"] == "2.5"
    assert made["last_fetched_at"] is None and made["last_error"] is None

    changed = api.put(f"/api/news/sources/{made['id']}", {"name": "Markets", "enabled": False})
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["enabled"]) == ("Markets", False)
    assert [s["name"] for s in api.get("/api/news/sources").get_json()["items"]] == ["Markets"]

    assert api.delete(f"/api/news/sources/{made['id']}").status_code == 204
    assert api.get("/api/news/sources").get_json()["items"] == []
    assert api.delete(f"/api/news/sources/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "ftp://feeds.example/a"}, "url"),
        ({"name": "x", "url": ""}, "url"),
        ({"name": "x"}, "url"),
        ({"name": "", "url": "https://feeds.example/a"}, "name"),
        ({"name": "x", "url": "https://feeds.example/a", "weight": -1}, "weight"),
        ({"name": "x", "url": "https://feeds.example/a", "weight": True}, "weight"),
        ({"name": "x", "url": "https://feeds.example/a", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_source_is_a_400_naming_the_field(api, body, field):
    response = api.post("/api/news/sources", body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_the_same_url_twice_is_a_409(api):
    add_source(api, "https://feeds.example/a")
    response = api.post("/api/news/sources", {"name": "again", "url": "https://feeds.example/a"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "duplicate_news_source"


def test_rss_and_atom_are_fetched_scored_and_tagged(api, feed_server):
    add_source(api, feed_server.serve("/rss", rss([S_AND_P, CRUDE])), "RSS wire")
    add_source(
        api,
        feed_server.serve("/atom", atom([GOLD]), content_type="application/atom+xml"),
        "Atom wire",
    )

    assert fetch(api) == {"fetched": 3, "new": 3, "duplicates": 0, "errors": []}

    got = articles(api)
    assert [a["title"] for a in got] == ["$GC steady", "Oil prices fall", S_AND_P.title]
    gold, crude, spx = got
    assert spx["sentiment"] == {"score": "0.7574", "label": "very_positive", "confidence": "0.448"}
    assert spx["tickers"] == ["ES", "MES"] and spx["source"] == "RSS wire"
    assert spx["published_at"] == "2026-12-04T14:05:00Z"
    # headline (neutral, 0.6) + summary (−0.7003, 0.4) = −0.2801
    assert crude["sentiment"]["score"] == "-0.2801"
    assert crude["sentiment"]["label"] == "negative"
    assert crude["tickers"] == ["CL", "MCL"]
    assert gold["tickers"] == ["GC", "MGC"] and gold["source"] == "Atom wire"
    sources = api.get("/api/news/sources").get_json()["items"]
    assert all(s["last_fetched_at"] and s["last_error"] is None for s in sources)


def test_articles_filter_by_symbol_label_and_since(api, feed_server):
    add_source(api, feed_server.serve("/rss", rss([S_AND_P, CRUDE, GOLD])))
    fetch(api)

    assert [a["title"] for a in articles(api, "?symbol=MES1!")] == [S_AND_P.title]
    assert [a["title"] for a in articles(api, "?symbol=CL")] == ["Oil prices fall"]
    assert [a["title"] for a in articles(api, "?label=negative")] == ["Oil prices fall"]
    assert [a["title"] for a in articles(api, "?since=2026-12-04T15:00:00Z")] == [
        "$GC steady", "Oil prices fall",
    ]  # fmt: skip
    assert articles(api, "?symbol=ZW") == []
    for query, field in (("?label=great", "label"), ("?symbol=AAPL", "symbol"),
                         ("?since=yesterday", "since")):  # fmt: skip
        response = api.get(f"/api/news{query}")
        assert response.status_code == 400 and field in response.get_json()["error"]["fields"]


def test_an_unchanged_feed_answers_304_and_brings_nothing(api, feed_server):
    etagged = feed_server.serve("/etag", rss([S_AND_P]), etag='"v1"')
    dated = feed_server.serve("/dated", atom([GOLD]), last_modified="Fri, 04 Dec 2026 16:00:00 GMT")
    add_source(api, etagged, "ETag")
    add_source(api, dated, "Dated")
    assert fetch(api)["new"] == 2

    assert fetch(api) == {"fetched": 0, "new": 0, "duplicates": 0, "errors": []}
    assert feed_server.asked("/etag")[1]["If-None-Match"] == '"v1"'
    assert feed_server.asked("/dated")[1]["If-Modified-Since"] == "Fri, 04 Dec 2026 16:00:00 GMT"
    assert "If-None-Match" not in feed_server.asked("/etag")[0]

    feed_server.serve("/etag", rss([S_AND_P, CRUDE]), etag='"v2"')  # the feed changed
    assert fetch(api) == {"fetched": 2, "new": 1, "duplicates": 1, "errors": []}


def test_duplicates_by_url_and_by_content_are_kept_once_also_within_one_fetch(api, feed_server):
    copy_elsewhere = Item(S_AND_P.title.upper(), "https://other.example/copy")  # same story
    same_url = Item("A different title", S_AND_P.link)
    add_source(api, feed_server.serve("/one", rss([S_AND_P, copy_elsewhere])), "One")
    add_source(api, feed_server.serve("/two", atom([same_url, GOLD])), "Two")

    assert fetch(api) == {"fetched": 4, "new": 2, "duplicates": 2, "errors": []}
    assert [a["url"] for a in articles(api)] == [GOLD.link, S_AND_P.link]
    assert fetch(api)["duplicates"] == 4  # no validators: fetched again, nothing new


def test_a_failing_and_a_slow_source_back_off_and_the_good_one_is_fetched(app, api, feed_server):
    app.config["NEWS_FETCH_TIMEOUT_SECONDS"] = 0.3
    broken = add_source(api, feed_server.serve("/down", status=500), "Down")
    add_source(api, feed_server.serve("/slow", rss([GOLD]), delay=1.0), "Slow")
    add_source(api, feed_server.serve("/good", rss([S_AND_P])), "Good")

    report = fetch(api)

    assert (report["fetched"], report["new"]) == (1, 1)
    assert [(e["source"], e["message"]) for e in report["errors"]] == [
        ("Down", "127.0.0.1 answered HTTP 500 INTERNAL SERVER ERROR"),
        ("Slow", "127.0.0.1 did not answer within 0.3 s"),
    ]
    shown = {s["name"]: s for s in api.get("/api/news/sources").get_json()["items"]}
    assert shown["Down"]["failures"] == 1 and shown["Down"]["retry_at"]
    assert shown["Slow"]["last_error"] == "127.0.0.1 did not answer within 0.3 s"
    assert shown["Good"]["last_error"] is None
    assert "/down" not in shown["Down"]["last_error"]

    # backed off: the next run does not ask them; a fetch of one source asks at once
    before = len(feed_server.asked("/down"))
    fetch(api)
    assert len(feed_server.asked("/down")) == before
    again = fetch(api, {"source_id": broken["id"]})
    assert [e["source_id"] for e in again["errors"]] == [broken["id"]]
    assert api.get("/api/news/sources").get_json()["items"][0]["failures"] == 2
    assert len(feed_server.asked("/slow")) == 1  # still backed off


def test_backoff_doubles_from_15_minutes_to_a_day_and_a_success_clears_it(app, feed_server):
    url = feed_server.serve("/flaky", status=503)
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    with app.app_context():
        db.session.add(NewsSource(name="Flaky", url=url))
        db.session.commit()
        waits = []
        for _ in range(9):
            news_fetch.fetch(now)
            source = db.session.scalar(select(NewsSource))
            waits.append(source.retry_at - now)
            now = source.retry_at
        assert waits[:4] == [timedelta(minutes=m) for m in (15, 30, 60, 120)]
        assert waits[-1] == timedelta(days=1)

        feed_server.serve("/flaky", rss([CRUDE]))
        assert news_fetch.fetch(now).new == 1
        source = db.session.scalar(select(NewsSource))
        assert (source.failures, source.retry_at, source.last_error) == (0, None, None)


def test_a_body_that_is_no_feed_is_an_error_of_that_source(api, feed_server):
    add_source(api, feed_server.serve("/html", b"<html>hello</html>", content_type="text/html"))
    assert fetch(api)["errors"][0]["message"] == "not an RSS or Atom feed (text/html)"


def test_a_feed_beyond_the_size_cap_is_an_error_of_that_source(api, feed_server, monkeypatch):
    monkeypatch.setattr(news_fetch, "MAX_FEED_BYTES", 1_000_000)
    big = [Item(f"Gold story {n} " + "x" * 2000, f"https://n.example/{n}") for n in range(600)]
    host = add_source(api, feed_server.serve("/big", rss(big)), "Big")
    [error] = fetch(api)["errors"]
    assert error["source_id"] == host["id"]
    assert error["message"] == "the feed at 127.0.0.1 is larger than 1 MB"
    assert api.get("/api/news").get_json()["items"] == []


def test_an_unknown_source_id_is_a_404(api):
    assert api.post("/api/news/fetch", {"source_id": 999}).status_code == 404


def test_sentiment_series_per_bucket_weighted_by_source(api, feed_server):
    later = Item(
        "S&P slumps: " + CRASH, "https://news.example/b1", published="2026-12-04T14:40:00Z"
    )
    add_source(api, feed_server.serve("/heavy", rss([S_AND_P])), "Heavy", weight="3")
    add_source(api, feed_server.serve("/light", rss([later])), "Light", weight="1")
    fetch(api)
    slump = articles(api, "?label=very_negative")[0]["sentiment"]["score"]

    hourly = api.get("/api/sentiment?symbol=ES&bucket=1h&since=2026-12-01T00:00:00Z").get_json()
    expected = round((3 * 0.7574 + 1 * float(slump)) / 4, 4)
    assert hourly["symbol"] == "ES"
    assert hourly["items"] == [
        {"time": "2026-12-04T14:00:00Z", "score": str(expected), "articles": 2}
    ]
    weekly = api.get("/api/sentiment?symbol=MESZ6&bucket=1w&since=2026-11-01T00:00:00Z")
    assert weekly.get_json()["items"][0]["time"] == "2026-11-30T00:00:00Z"
    assert api.get("/api/sentiment?symbol=GC&since=2026-11-01T00:00:00Z").get_json()["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "symbol"), ("?symbol=ES&bucket=2h", "bucket"), ("?symbol=XYZ", "symbol")],
)
def test_a_bad_sentiment_query_is_a_400(api, query, field):
    response = api.get(f"/api/sentiment{query}")
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_the_job_is_registered_and_fetches_the_due_sources(app, feed_server):
    assert news_job.register in JOB_REGISTRATIONS
    with app.app_context():
        db.session.add(NewsSource(name="Wire", url=feed_server.serve("/rss", rss([GOLD]))))
        db.session.commit()
        news_job.fetch()
        assert db.session.scalar(select(NewsArticle.title)) == "$GC steady"
