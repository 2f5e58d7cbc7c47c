"""/api/news and /api/sentiment: the trader's feeds, their articles with a sentiment, and a
symbol's sentiment over time (DESIGN §5.4)."""

from datetime import UTC, datetime, timedelta

from flask import Blueprint, jsonify, request

from app.api.params import time_arg
from app.api.schemas import NewsFetch, NewsSourceCreate, NewsSourceFields, parse_body
from app.api.serialize import decimal, iso
from app.domain.sentiment import BUCKETS
from app.domain.vocabulary import SentimentLabel
from app.errors import InvalidInput
from app.services.insight import news, news_fetch

bp = Blueprint("news", __name__, url_prefix="/news")
sentiment_bp = Blueprint("sentiment", __name__, url_prefix="/sentiment")

# The dashboard's badge: the mean over this last stretch of news.
LATEST_WINDOW = timedelta(hours=24)
LABELS = frozenset(label.value for label in SentimentLabel)


def source_json(source) -> dict:
    return {
        "id": source.id,
        "name": source.name,
        "url": source.url,
        "enabled": source.enabled,
        "weight": decimal(source.weight),
        "last_fetched_at": iso(source.last_fetched_at),
        "last_error": source.last_error,
        "failures": source.failures,
        "retry_at": iso(source.retry_at),
        "created_at": iso(source.created_at),
    }


def article_json(article) -> dict:
    return {
        "id": article.id,
        "source": article.source.name if article.source is not None else None,
        "source_id": article.source_id,
        "title": article.title,
        "summary": article.summary,
        "url": article.url,
        "published_at": iso(article.published_at),
        "tickers": article.tickers or [],
        "sentiment": {
            "score": decimal(article.sentiment_score),
            "label": article.sentiment_label.value,
            "confidence": decimal(article.sentiment_confidence),
        },
    }


@bp.get("/sources")
def list_sources():
    return jsonify(items=[source_json(s) for s in news.list_sources()])


@bp.post("/sources")
def create_source():
    """A feed to follow: `name`, `url` (http or https), [`enabled`, `weight` 0–100]."""
    return jsonify(source_json(news.create_source(parse_body(NewsSourceCreate)))), 201


@bp.put("/sources/<id:source_id>")
def update_source(source_id: int):
    return jsonify(source_json(news.update_source(source_id, parse_body(NewsSourceFields))))


@bp.delete("/sources/<id:source_id>")
def delete_source(source_id: int):
    """The source goes; the articles it brought stay."""
    news.delete_source(source_id)
    return "", 204


@bp.post("/fetch")
def fetch():
    """Fetch now: every due source, or `source_id` alone whatever its backoff."""
    fields = parse_body(NewsFetch, optional=True)
    report = news_fetch.fetch(datetime.now(UTC), fields.get("source_id"))
    return jsonify(
        fetched=report.fetched, new=report.new, duplicates=report.duplicates, errors=report.errors
    )


def _root(required: bool) -> str | None:
    symbol = request.args.get("symbol", "").strip()
    if not symbol:
        if required:
            raise InvalidInput("symbol is required.", {"symbol": "is required"})
        return None
    return news.root_of(symbol[:40], datetime.now(UTC))


@bp.get("")
def list_articles():
    """The newest articles (at most 200), narrowed by `symbol` (any form: ES, MES1!,
    MESZ6 — matched by root), `label` and `since`."""
    label = request.args.get("label") or None
    if label is not None and label not in LABELS:
        shown = ", ".join(SentimentLabel)
        raise InvalidInput(f"label must be one of {shown}.", {"label": f"must be one of {shown}"})
    articles = news.list_articles(
        _root(required=False), SentimentLabel(label) if label else None, time_arg("since")
    )
    return jsonify(items=[article_json(a) for a in articles])


@sentiment_bp.get("")
def sentiment_series():
    """`symbol` (required), `bucket` 1h|4h|1d|1w (default 1h), `since`: the source-weighted
    mean score per period, oldest first; `latest` is the mean of the last 24 hours."""
    bucket = request.args.get("bucket") or "1h"
    if bucket not in BUCKETS:
        shown = "|".join(BUCKETS)
        raise InvalidInput(f"bucket must be one of {shown}.", {"bucket": f"must be {shown}"})
    root, now = _root(required=True), datetime.now(UTC)
    found = news.series(root, bucket, time_arg("since"), now)
    latest = news.latest(root, LATEST_WINDOW, now)
    return jsonify(
        symbol=root,
        bucket=bucket,
        items=[
            {"time": iso(b.time), "score": _score(b.score), "articles": b.articles}
            for b in found.buckets
        ],
        latest=latest and {**latest, "score": _score(latest["score"])},
    )


def _score(value: float) -> str:
    """A score as a JSON string with VADER's four decimals at most, like the stored ones."""
    return format(round(value, 4), "f").rstrip("0").rstrip(".") if value else "0"
