"""Fetching the news sources (DESIGN §5.4 `POST /api/news/fetch`, the news_fetch job).

Each source is asked with its last ETag and Last-Modified, so an unchanged feed costs a
304 and brings nothing. The answer's bytes are parsed by feedparser (RSS 0.9x/1.0/2.0 and
Atom; feedparser never touches the network here). An entry is kept once: not when its URL
or its content hash (articles.py) is already stored, nor when an earlier entry of the
same fetch had either; an entry without a title or an http(s) link is passed over
uncounted. New articles are scored and their tickers found before they are stored.

A source that fails (no answer within NEWS_FETCH_TIMEOUT_SECONDS, a non-2xx, a body that
is no feed) is backed off — retried after 15 minutes, then 30, 60, … at most a day —
with the reason in `last_error`; the others are fetched all the same. A fetch asked for
one source (`source_id`) tries it at once whatever its backoff. Errors name the host,
never the whole URL, which may carry a token.
"""

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import feedparser
from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.domain.articles import content_hash, plain_text
from app.domain.tickers import find_tickers
from app.domain.vocabulary import AuditCategory, Severity
from app.extensions import db
from app.models import NewsArticle, NewsSource
from app.services.insight import news
from app.services.records import audit
from app.services.web_fetch import Fetched, FetchFailed, conditional_get, host_of

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=15)
BACKOFF_MAX = timedelta(days=1)
MAX_FEED_BYTES = 5_000_000
MAX_SUMMARY_CHARS = 10_000
_IN_CHUNK = 500  # values per IN (...): well under every database's parameter limit
_HEADERS = {
    "User-Agent": "DeskPilot news fetch",
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.1",
}
# The job and a "fetch now" may run at once: one fetch at a time, so the dedupe holds.
_one_at_a_time = threading.Lock()


@dataclass
class FetchReport:
    fetched: int = 0  # entries read from the feeds
    new: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)  # {source_id, source, message}


@dataclass(frozen=True)
class Entry:
    """A feed entry as it would be stored, before the dedupe."""

    url: str
    title: str
    summary: str
    published_at: datetime
    content_hash: str


@dataclass
class Seen:
    """The URLs and content hashes kept so far in one fetch (an entry in two feeds)."""

    urls: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)


def fetch(now: datetime, source_id: int | None = None) -> FetchReport:
    """Fetch the enabled sources that are not backed off (or the one named) and store
    what is new."""
    with _one_at_a_time:
        if source_id is not None:
            ids = [news.get_source(source_id).id]
        else:
            ids = list(
                db.session.scalars(
                    select(NewsSource.id)
                    .where(NewsSource.enabled.is_(True))
                    .where(or_(NewsSource.retry_at.is_(None), NewsSource.retry_at <= now))
                    .order_by(NewsSource.id)
                )
            )
        report, seen = FetchReport(), Seen()
        for one in ids:
            _fetch_source(db.session.get(NewsSource, one), now, report, seen)
        return report


def _fetch_source(source: NewsSource, now: datetime, report: FetchReport, seen: Seen) -> None:
    try:
        answer = _download(source)
        if answer is not None:
            entries = parse_feed(answer.body, answer.content_type, now)
            report.fetched += len(entries)
            new, duplicates = store(source, entries, seen)
            report.new, report.duplicates = report.new + new, report.duplicates + duplicates
            source.etag, source.last_modified = answer.etag, answer.last_modified
        _succeeded(source, now)
        db.session.commit()
    except FetchFailed as failure:
        _back_off(source, now, failure.why, report)
    except IntegrityError:  # another process stored one of these articles meanwhile
        _back_off(source, now, "an article was stored by another fetch; retrying", report)


def _download(source: NewsSource) -> Fetched | None:
    """The feed's bytes; None when the server says it has not changed (304)."""
    return conditional_get(
        source.url,
        headers=_HEADERS,
        etag=source.etag,
        last_modified=source.last_modified,
        timeout=float(current_app.config["NEWS_FETCH_TIMEOUT_SECONDS"]),
        max_bytes=MAX_FEED_BYTES,
        what=f"the feed at {host_of(source.url)}",
    )


def parse_feed(body: bytes, content_type: str, now: datetime) -> list[Entry]:
    """The entries of an RSS or Atom document; FetchFailed when it is neither."""
    parsed = feedparser.parse(body, response_headers={"content-type": content_type})
    if not parsed.get("version") and not parsed.entries:
        kind = content_type.partition(";")[0].strip() or "no Content-Type"
        raise FetchFailed(f"not an RSS or Atom feed ({kind})")
    return [entry for raw in parsed.entries if (entry := _entry(raw, now)) is not None]


def _entry(raw: dict, now: datetime) -> Entry | None:
    url = (raw.get("link") or "").strip()
    title = plain_text(raw.get("title"))[:500]
    if not title or not url.startswith(("http://", "https://")) or len(url) > 2000:
        return None
    summary = plain_text(raw.get("summary"))[:MAX_SUMMARY_CHARS]
    stamp = raw.get("published_parsed") or raw.get("updated_parsed")
    # A feed's clock may run ahead; an article is never later than its fetch.
    published = min(datetime(*stamp[:6], tzinfo=UTC), now) if stamp else now
    return Entry(url, title, summary, published, content_hash(title, summary))


def store(source: NewsSource | None, entries: list[Entry], seen: Seen) -> tuple[int, int]:
    """Score and add the entries not yet stored nor seen in this fetch: (new, duplicates)."""
    stored_urls = _stored(NewsArticle.url, {e.url for e in entries})
    stored_hashes = _stored(NewsArticle.content_hash, {e.content_hash for e in entries})
    new = 0
    for entry in entries:
        if (
            entry.url in stored_urls or entry.url in seen.urls
            or entry.content_hash in stored_hashes or entry.content_hash in seen.hashes
        ):  # fmt: skip
            continue
        seen.urls.add(entry.url)
        seen.hashes.add(entry.content_hash)
        judged = news.judge(entry.title, entry.summary)
        db.session.add(
            NewsArticle(
                source_id=source.id if source is not None else None,
                url=entry.url,
                content_hash=entry.content_hash,
                title=entry.title,
                summary=entry.summary or None,
                published_at=entry.published_at,
                tickers=find_tickers(entry.title, entry.summary),
                sentiment_score=Decimal(str(judged.score)),
                sentiment_label=judged.label,
                sentiment_confidence=Decimal(str(judged.confidence)),
            )
        )
        new += 1
    db.session.flush()
    return new, len(entries) - new


def _stored(column, values: set[str]) -> set[str]:
    ordered, found = sorted(values), set()
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        found.update(db.session.scalars(select(column).where(column.in_(chunk))))
    return found


def _succeeded(source: NewsSource, now: datetime) -> None:
    if source.failures:
        logger.info("news source %r is answering again", source.name)
    source.last_fetched_at = now
    source.failures, source.retry_at, source.last_error = 0, None, None


def _back_off(source: NewsSource, now: datetime, why: str, report: FetchReport) -> None:
    """Record the failure and when to try again: 15 min × 2^(failures − 1), at most a day."""
    source_id = source.id
    db.session.rollback()  # nothing half-stored from this source
    source = db.session.get(NewsSource, source_id)
    source.failures += 1
    wait = min(BACKOFF_FIRST * 2 ** min(source.failures - 1, 16), BACKOFF_MAX)
    source.retry_at = now + wait
    source.last_error = why[:500]
    report.errors.append({"source_id": source.id, "source": source.name, "message": why})
    logger.warning("news source %r: %s; next try after %s", source.name, why, source.retry_at)
    if source.failures == 1:  # newly failing: audited once, not on every retry
        audit.record(
            AuditCategory.SYSTEM,
            f"news source {source.name!r} failed: {why}",
            severity=Severity.WARNING,
        )
    db.session.commit()
