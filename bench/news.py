"""News benchmark (DESIGN §7: 1,000 news articles parsed, deduplicated and scored ≤ 2 s).

The articles are a seeded synthetic wire: market headlines with a summary each, written
into ten feeds of equal size, RSS 2.0 and Atom in turn, as bytes before any timing. One
in twenty entries repeats an earlier one's URL and one in twenty an earlier one's text
under a new URL, so the dedupe has work. A run takes every feed's bytes through what a
fetch does after the download (services/insight/news_fetch): feedparser, the text
cleaned and hashed, the dedupe against the database and the run so far, VADER on the
headline and the summary, the tickers, and the rows written to SQLite and committed.
Each run starts from an empty table (emptied outside the timing). NLTK's one-time import
and the lexicon's load happen before the runs and are printed on their own.

    .venv/bin/python bench/news.py [--articles 1000] [--feeds 10] [--repeat 5]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402
from timing import print_rows, timed  # noqa: E402 (bench/timing.py, beside this file)

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import NewsArticle, NewsSource  # noqa: E402
from app.schema import upgrade_to_head  # noqa: E402
from app.services.insight import news, news_fetch  # noqa: E402
from config import TestConfig  # noqa: E402
from tests.fakes.rss_feed import Item, atom, rss  # noqa: E402

TARGET_MS = 2000.0
NOW = datetime(2026, 12, 4, 21, tzinfo=UTC)
SUBJECTS = [
    "S&P 500 futures",
    "Nasdaq",
    "The Dow",
    "Crude oil",
    "Gold",
    "Treasuries",
    "The euro",
    "$ES",
    "/CL",
    "Russell 2000 small caps",
    "Wheat",
    "Natural gas",
]
MOVES = [
    "rally strongly on upbeat earnings",
    "slump as fears of recession grow",
    "hold steady ahead of the Fed",
    "surge to a record high",
    "crash on terrible data",
    "edge lower in thin trade",
    "gain as investors cheer strong jobs numbers",
    "fall sharply after a disappointing forecast",
]
SUMMARIES = [
    "Traders weighed the outlook for rates and growth.",
    "Analysts said the move was a great relief for bulls.",
    "Losses deepened in the afternoon as selling spread.",
    "Volume was light and the range narrow.",
    "A strong report lifted sentiment across markets.",
]


def synthetic_feeds(articles: int, feeds: int, seed: int) -> list[bytes]:
    """`articles` entries split over `feeds` documents, RSS and Atom in turn."""
    rng = random.Random(seed)
    items: list[Item] = []
    for n in range(articles):
        at = (NOW - timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if n and n % 20 == 0:  # an earlier story's URL again
            earlier = rng.choice(items)
            items.append(Item(f"Update {n}: {earlier.title}", earlier.link, "", at))
            continue
        if n and n % 20 == 10:  # an earlier story's text under a new URL
            earlier = rng.choice(items)
            items.append(Item(earlier.title, f"https://mirror.example/{n}", earlier.summary, at))
            continue
        title = f"{rng.choice(SUBJECTS)} {rng.choice(MOVES)} ({n})"
        summary = f"<p>{rng.choice(SUMMARIES)} {rng.choice(SUMMARIES)}</p>"
        items.append(Item(title, f"https://wire.example/{n}", summary, at))
    size = -(-articles // feeds)
    chunks = [items[i : i + size] for i in range(0, articles, size)]
    return [(rss if i % 2 == 0 else atom)(chunk) for i, chunk in enumerate(chunks)]


def run(bodies: list[bytes], source_id: int) -> tuple[int, int]:
    """What a fetch does with the downloaded bodies; (new, duplicates)."""
    seen, new, duplicates = news_fetch.Seen(), 0, 0
    source = db.session.get(NewsSource, source_id)
    for body in bodies:
        entries = news_fetch.parse_feed(body, "application/xml", NOW)
        kept, repeated = news_fetch.store(source, entries, seen)
        new, duplicates = new + kept, duplicates + repeated
        db.session.commit()
    return new, duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bodies = synthetic_feeds(args.articles, args.feeds, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-news-"))
    try:
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = create_engine(url)
        upgrade_to_head(engine)
        engine.dispose()
        config = type("BenchConfig", (TestConfig,), {"DATABASE_URL": url, "INSTANCE_DIR": folder})
        app = create_app(config)
        with app.app_context():
            started = time.perf_counter()
            news.judge("warm up", "")  # NLTK's import and the lexicon, once per process
            load_ms = (time.perf_counter() - started) * 1000
            source = NewsSource(name="Wire", url="https://wire.example/rss")
            db.session.add(source)
            db.session.commit()

            def fresh_run():
                db.session.query(NewsArticle).delete()  # emptied before the clock starts
                db.session.commit()
                started_at, used = time.perf_counter(), time.process_time()
                answer = run(bodies, source.id)
                cpu = (time.process_time() - used) * 1000
                return answer, (time.perf_counter() - started_at) * 1000, cpu

            runs = [fresh_run() for _ in range(args.repeat)]
            walls = sorted(ms for _, ms, _ in runs)
            (new, duplicates), _, _ = runs[-1]
            median_ms, best_ms = walls[len(walls) // 2], walls[0]
            cpu_ms = sorted(cpu for _, _, cpu in runs)[len(runs) // 2]
            parse_median, parse_best, parse_cpu, _ = timed(
                lambda: [news_fetch.parse_feed(b, "application/xml", NOW) for b in bodies],
                args.repeat,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    verdict = "met" if median_ms <= TARGET_MS else "NOT MET"
    load = os.getloadavg()[0]
    print_rows(
        f"{args.articles:,} articles in {args.feeds} feeds, {args.repeat} runs, load average "
        f"{load:.1f}; NLTK import and VADER lexicon load (once per process): {load_ms:.0f} ms",
        [
            (
                "parsed, deduplicated, scored, tagged and stored",
                median_ms, best_ms, cpu_ms,
                f"{new} new, {duplicates} duplicates",
                f"≤ {TARGET_MS:.0f} ms: {verdict}",
            ),
            ("of which feedparser alone", parse_median, parse_best, parse_cpu, "", "none"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
