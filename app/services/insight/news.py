"""News (DESIGN §3, §5.4): the trader's RSS/Atom sources, the articles kept from them with
their sentiment, and a symbol's sentiment over time. Fetching is news_fetch.py.

Sentiment is NLTK's VADER with the lexicon the vaderSentiment package ships (nothing is
downloaded at run time): NLTK ≥ 3.10 refuses a lexicon path outside `nltk.data.path`, so
that package's folder is put on the path and the file named relative to it
(reference/libraries.md §5). The analyzer is built once per process.
"""

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import String, cast, select

from app.domain import sentiment
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.sentiment import Point, Polarity, Sentiment
from app.domain.vocabulary import AuditCategory, SentimentLabel
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import NewsArticle, NewsSource
from app.services.records import audit

logger = logging.getLogger(__name__)

MAX_SOURCES = 200
MAX_ARTICLES = 200  # newest first on GET /api/news
# How far back a series reaches when `since` is not given: enough buckets to read a trend.
DEFAULT_SPAN = {
    "1h": timedelta(days=2),
    "4h": timedelta(days=7),
    "1d": timedelta(days=30),
    "1w": timedelta(weeks=26),
}
_analyzer_lock = threading.Lock()


@dataclass(frozen=True)
class Series:
    root: str
    buckets: list[sentiment.Bucket]


# --- sources -------------------------------------------------------------------------------


def list_sources() -> list[NewsSource]:
    return list(db.session.scalars(select(NewsSource).order_by(NewsSource.id)))


def get_source(source_id: int) -> NewsSource:
    source = db.session.get(NewsSource, source_id)
    if source is None:
        raise NotFound(f"News source {source_id} does not exist.")
    return source


def create_source(fields: dict) -> NewsSource:
    if len(list_sources()) >= MAX_SOURCES:
        raise Conflict(f"At most {MAX_SOURCES} news sources.", code="too_many_news_sources")
    _refuse_taken_url(fields["url"], None)
    source = NewsSource(name=fields["name"], url=fields["url"])
    _apply(source, fields)
    db.session.add(source)
    db.session.flush()
    audit.record(AuditCategory.SYSTEM, f"news source {source.name!r} added")
    db.session.commit()
    return source


def update_source(source_id: int, fields: dict) -> NewsSource:
    """Change what is sent; a new URL is a new feed: its validators and backoff start over."""
    source = get_source(source_id)
    if "url" in fields and fields["url"] != source.url:
        _refuse_taken_url(fields["url"], source.id)
        source.url = fields["url"]
        source.etag = source.last_modified = source.retry_at = source.last_error = None
        source.failures = 0
    _apply(source, fields)
    audit.record(AuditCategory.SYSTEM, f"news source {source.name!r} changed")
    db.session.commit()
    return source


def delete_source(source_id: int) -> None:
    """Remove the source; its articles stay (their source shows as none)."""
    source = get_source(source_id)
    audit.record(AuditCategory.SYSTEM, f"news source {source.name!r} deleted")
    db.session.delete(source)
    db.session.commit()


def _apply(source: NewsSource, fields: dict) -> None:
    for name in ("name", "enabled", "weight"):
        if name in fields:
            setattr(source, name, fields[name])
    if fields.get("enabled"):
        source.retry_at = None  # turned back on: fetched on the next run


def _refuse_taken_url(url: str, own_id: int | None) -> None:
    taken = db.session.scalar(select(NewsSource.id).where(NewsSource.url == url))
    if taken is not None and taken != own_id:
        raise Conflict(
            f"Source {taken} already reads that URL.",
            {"url": "is already a source"},
            code="duplicate_news_source",
        )


# --- sentiment of a text ----------------------------------------------------------------------


def _analyzer():
    """NLTK's VADER on vaderSentiment's lexicon, loaded by the first caller only (the job
    and a "fetch now" may score at once)."""
    with _analyzer_lock:
        return _load_analyzer()


@cache
def _load_analyzer():
    # Imported here, not at the top: NLTK's import takes 1-2 s, which only a process that
    # scores news should pay (not every web worker, CLI command or test process).
    import nltk
    import vaderSentiment
    from nltk.sentiment.vader import SentimentIntensityAnalyzer

    folder = os.path.dirname(vaderSentiment.__file__)
    if folder not in nltk.data.path:
        nltk.data.path.insert(0, folder)
    return SentimentIntensityAnalyzer(lexicon_file="vader_lexicon.txt")


def polarity(text: str) -> Polarity:
    return Polarity.of(_analyzer().polarity_scores(text))


def judge(title: str, summary: str) -> Sentiment:
    """The sentiment of an article's (plain-text) title and summary."""
    return sentiment.judge(polarity(title), polarity(summary) if summary else None)


# --- articles and series --------------------------------------------------------------------


def root_of(symbol: str, on: datetime) -> str:
    """The contract root a query names: `ES`, `MES1!`, `MESZ6`, `CME_MINI:MES1!` → the root."""
    try:
        return resolve_symbol(symbol, on.date()).spec.root
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None


def _about(root: str):
    """Rows whose tickers hold `root`: a text match on the JSON list (roots are [A-Z0-9],
    so no LIKE wildcard), confirmed in Python by the callers."""
    return cast(NewsArticle.tickers, String).like(f'%"{root}"%')


def list_articles(
    root: str | None, label: SentimentLabel | None, since: datetime | None
) -> list[NewsArticle]:
    """The newest articles (at most MAX_ARTICLES) about `root`, of `label`, since `since`."""
    query = select(NewsArticle).order_by(NewsArticle.published_at.desc(), NewsArticle.id.desc())
    if root is not None:
        query = query.where(_about(root))
    if label is not None:
        query = query.where(NewsArticle.sentiment_label == label)
    if since is not None:
        query = query.where(NewsArticle.published_at >= since)
    found = db.session.scalars(query.limit(MAX_ARTICLES)).all()
    return [a for a in found if root is None or root in (a.tickers or [])]


def points(root: str, since: datetime, until: datetime | None = None) -> list[Point]:
    """The articles about `root` published since `since`, as scores weighted by source (an
    article whose source was deleted weighs 1)."""
    query = (
        select(NewsArticle.published_at, NewsArticle.sentiment_score, NewsArticle.tickers,
               NewsSource.weight)
        .outerjoin(NewsSource, NewsSource.id == NewsArticle.source_id)
        .where(_about(root), NewsArticle.published_at >= since)
    )  # fmt: skip
    if until is not None:
        query = query.where(NewsArticle.published_at <= until)
    return [
        Point(at, float(score), float(weight if weight is not None else Decimal(1)))
        for at, score, tickers, weight in db.session.execute(query)
        if root in (tickers or [])
    ]


def series(root: str, bucket: str, since: datetime | None, now: datetime) -> Series:
    start = since if since is not None else now - DEFAULT_SPAN[bucket]
    return Series(root, sentiment.series(points(root, start), bucket))


def symbol_sentiment(symbol: str, window: timedelta, now: datetime) -> float | None:
    """The source-weighted mean score of the articles about `symbol`'s product (`MESZ6` →
    MES) in the last `window`; None when there are none (a price alert's sentiment
    condition is then not met)."""
    return sentiment.weighted_mean(points(root_of(symbol, now), now - window, now))


def latest(root: str, window: timedelta, now: datetime) -> dict | None:
    """The mean score of `root` over the last `window` with its label and article count
    (the dashboard's badge beside a position); None without articles."""
    found = points(root, now - window, now)
    score = sentiment.weighted_mean(found)
    if score is None:
        return None
    return {"score": score, "label": sentiment.label_for(score), "articles": len(found)}
