"""A news article's sentiment from VADER's polarity scores, and a symbol's series of it.

VADER (Hutto & Gilbert 2014) rates a text with `neg`, `neu` and `pos` (the shares of the
text that read negative, neutral, positive) and `compound`, a normalised sum in −1…+1.
The analyzer itself reads a lexicon file, so it lives in the service layer; this module
turns its numbers into what DeskPilot stores and shows.

- Score: the headline's compound × 0.6 + the summary's × 0.4. The headline is what the
  writer chose to say first and what moves a reader; a summary often restates it with
  hedges. Without a summary the headline's compound is the score.
- Label, by the score: ≤ −0.5 very_negative; < −0.05 negative; −0.05…+0.05 neutral
  (VADER's authors' own neutral band); < +0.5 positive; ≥ +0.5 very_positive.
- Confidence, 0…1: how much of the text speaks (1 − neu, weighted like the score; for a
  neutral label, neu itself: a text with no sentiment words is surely neutral) times the
  agreement of headline and summary (1 when they lean the same way or one is neutral,
  else 1 − |difference| / 2).
- Series: articles bucketed by UTC period (1h, 4h from midnight, 1d, 1w from Monday),
  each bucket's score the mean of its articles' scores weighted by their sources' weights.

Scores are statistics, so floats; they are rounded to VADER's four decimals.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.vocabulary import SentimentLabel

HEADLINE_WEIGHT = 0.6
SUMMARY_WEIGHT = 0.4
NEUTRAL_BAND = 0.05
VERY = 0.5
PLACES = 4

BUCKETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
}
_MONDAY = datetime(2026, 1, 5)  # a Monday at midnight: weeks are counted from one


@dataclass(frozen=True)
class Polarity:
    """VADER's answer for one text (`SentimentIntensityAnalyzer.polarity_scores`)."""

    neg: float
    neu: float
    pos: float
    compound: float

    @classmethod
    def of(cls, scores: dict) -> "Polarity":
        return cls(scores["neg"], scores["neu"], scores["pos"], scores["compound"])


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: SentimentLabel
    confidence: float


@dataclass(frozen=True)
class Point:
    """One article in a series: when, its score, its source's weight."""

    time: datetime
    score: float
    weight: float


@dataclass(frozen=True)
class Bucket:
    time: datetime  # the period's start
    score: float
    articles: int


def label_for(score: float) -> SentimentLabel:
    if score <= -VERY:
        return SentimentLabel.VERY_NEGATIVE
    if score < -NEUTRAL_BAND:
        return SentimentLabel.NEGATIVE
    if score <= NEUTRAL_BAND:
        return SentimentLabel.NEUTRAL
    if score < VERY:
        return SentimentLabel.POSITIVE
    return SentimentLabel.VERY_POSITIVE


def judge(headline: Polarity, summary: Polarity | None = None) -> Sentiment:
    """The article's score, label and confidence from its headline's and summary's VADER."""
    if summary is None:
        score, speaks, agreement = headline.compound, 1 - headline.neu, 1.0
    else:
        score = HEADLINE_WEIGHT * headline.compound + SUMMARY_WEIGHT * summary.compound
        speaks = HEADLINE_WEIGHT * (1 - headline.neu) + SUMMARY_WEIGHT * (1 - summary.neu)
        agreement = _agreement(headline.compound, summary.compound)
    label = label_for(round(score, PLACES))
    clarity = 1 - speaks if label is SentimentLabel.NEUTRAL else speaks
    confidence = min(1.0, max(0.0, clarity * agreement))
    return Sentiment(round(score, PLACES), label, round(confidence, PLACES))


def _agreement(headline: float, summary: float) -> float:
    if abs(headline) <= NEUTRAL_BAND or abs(summary) <= NEUTRAL_BAND:
        return 1.0
    if (headline > 0) == (summary > 0):
        return 1.0
    return 1 - abs(headline - summary) / 2


def bucket_start(time: datetime, bucket: str) -> datetime:
    """The start of the UTC period `time` falls in (time is tz-aware UTC)."""
    length = BUCKETS[bucket]
    origin = _MONDAY.replace(tzinfo=time.tzinfo)
    return origin + (time - origin) // length * length


def series(points: Iterable[Point], bucket: str) -> list[Bucket]:
    """Per period, oldest first: the weighted mean score and the number of articles.

    A bucket whose sources all weigh 0 still counts its articles, with a score of 0."""
    sums: dict[datetime, list[float]] = {}
    for point in points:
        held = sums.setdefault(bucket_start(point.time, bucket), [0.0, 0.0, 0])
        held[0] += point.score * point.weight
        held[1] += point.weight
        held[2] += 1
    return [
        Bucket(start, round(total / weight, PLACES) if weight else 0.0, int(count))
        for start, (total, weight, count) in sorted(sums.items())
    ]


def weighted_mean(points: Iterable[Point]) -> float | None:
    """The points' mean score weighted by source; None without any weight to go on."""
    total = weight = 0.0
    for point in points:
        total += point.score * point.weight
        weight += point.weight
    return round(total / weight, PLACES) if weight else None
