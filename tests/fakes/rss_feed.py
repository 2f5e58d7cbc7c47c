"""News feeds on 127.0.0.1: RSS 2.0 and Atom documents served by path, with the ETag and
Last-Modified a real feed host sends and the 304 it answers to a matching conditional
GET; a path can fail with a status or answer only after a delay (a slow host).

Tests set what each path serves (`serve`), then read `requests` (path, headers).
The `feed_server` fixture starts one.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest
from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    summary: str = ""
    published: str = "2026-12-04T14:00:00Z"  # RFC 3339, UTC


def rss(items: list[Item], title: str = "Markets") -> bytes:
    """An RSS 2.0 channel of the items (pubDate in RFC 822, as RSS writes it)."""
    body = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<description>{escape(i.summary)}</description>"
        f"<guid>{escape(i.link)}</guid><pubDate>"
        f"{format_datetime(datetime.fromisoformat(i.published.replace('Z', '+00:00')))}"
        "</pubDate></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<description>test</description>{body}</channel></rss>"
    ).encode()


def atom(items: list[Item], title: str = "Markets") -> bytes:
    """An Atom 1.0 feed of the items."""
    body = "".join(
        f'<entry><title>{escape(i.title)}</title><link href="{escape(i.link)}"/>'
        f"<id>{escape(i.link)}</id><updated>{i.published}</updated>"
        f"<summary>{escape(i.summary)}</summary></entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test:feed</id>"
        f"<updated>2026-12-04T14:00:00Z</updated>{body}</feed>"
    ).encode()


@dataclass
class Feed:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0


@dataclass
class FeedServer:
    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: list[tuple[str, dict]] = field(default_factory=list)
    base: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = LocalServer(self._wsgi, "rss-feeds")

    def start(self) -> "FeedServer":
        self.base = f"http://127.0.0.1:{self._server.start()}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def serve(self, path: str, body: bytes = b"", **fields) -> str:
        """Serve `body` at `path` (with Feed's fields); the URL to give DeskPilot."""
        self.feeds[path] = Feed(body, **fields)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def asked(self, path: str) -> list[dict]:
        """The headers of each request for `path`, in order."""
        with self._lock:
            return [headers for asked, headers in self.requests if asked == path]

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.requests.append((request.path, dict(request.headers)))
        feed = self.feeds.get(request.path)
        if feed is None:
            return Response("no such feed", status=404)(environ, start_response)
        if feed.delay:
            time.sleep(feed.delay)
        return self._answer(feed, request)(environ, start_response)

    @staticmethod
    def _answer(feed: Feed, request: Request) -> Response:
        validators = {}
        if feed.etag:
            validators["ETag"] = feed.etag
        if feed.last_modified:
            validators["Last-Modified"] = feed.last_modified
        unchanged = (feed.etag and request.headers.get("If-None-Match") == feed.etag) or (
            feed.last_modified and request.headers.get("If-Modified-Since") == feed.last_modified
        )
        if feed.status == 200 and unchanged:
            return Response(status=304, headers=validators)
        if feed.status != 200:
            return Response("the feed is down", status=feed.status)
        return Response(feed.body, status=200, content_type=feed.content_type, headers=validators)


@pytest.fixture
def feed_server():
    server = FeedServer().start()
    yield server
    server.stop()
