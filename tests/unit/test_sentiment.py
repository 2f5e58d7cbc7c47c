"""Article sentiment from VADER's numbers: the headline outweighs the summary, five labels
at stated thresholds, a confidence, and per-period series weighted by source."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.articles import content_hash, plain_text
from app.domain.sentiment import Point, Polarity, bucket_start, judge, label_for, series
from app.domain.sentiment import weighted_mean as mean
from app.domain.vocabulary import SentimentLabel as L

# VADER on the two sentences of libraries.md §5 (the lexicon of vaderSentiment 3.3.2)
RALLY = Polarity(neg=0.0, neu=0.435, pos=0.565, compound=0.7574)
CRASH = Polarity(neg=0.659, neu=0.341, pos=0.0, compound=-0.7003)
FLAT = Polarity(neg=0.0, neu=1.0, pos=0.0, compound=0.0)


def test_the_fixture_sentences_are_very_positive_and_very_negative():
    assert judge(RALLY) == judge(RALLY, None)
    assert (judge(RALLY).score, judge(RALLY).label) == (0.7574, L.VERY_POSITIVE)
    assert (judge(CRASH).score, judge(CRASH).label) == (-0.7003, L.VERY_NEGATIVE)
    assert judge(RALLY).confidence == 0.565  # 1 − neu: the share of the text that speaks
    assert (judge(FLAT).label, judge(FLAT).confidence) == (L.NEUTRAL, 1.0)


def test_the_headline_weighs_0_6_and_the_summary_0_4():
    assert judge(RALLY, FLAT).score == round(0.6 * 0.7574, 4)  # 0.4544: positive
    assert judge(FLAT, RALLY).score == round(0.4 * 0.7574, 4)  # 0.303
    assert judge(RALLY, FLAT).label is L.POSITIVE


def test_a_summary_that_contradicts_the_headline_lowers_the_confidence():
    agreeing = judge(RALLY, RALLY)
    contradicting = judge(RALLY, CRASH)
    assert agreeing.confidence == 0.565
    assert contradicting.score == round(0.6 * 0.7574 - 0.4 * 0.7003, 4)
    # speaks 0.6·0.565 + 0.4·0.659 = 0.6026, agreement 1 − |0.7574 + 0.7003| / 2 = 0.27115
    assert contradicting.confidence == round(0.6026 * 0.27115, 4)


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (-1.0, L.VERY_NEGATIVE), (-0.5, L.VERY_NEGATIVE), (-0.4999, L.NEGATIVE),
        (-0.0501, L.NEGATIVE), (-0.05, L.NEUTRAL), (0.0, L.NEUTRAL), (0.05, L.NEUTRAL),
        (0.0501, L.POSITIVE), (0.4999, L.POSITIVE), (0.5, L.VERY_POSITIVE),
        (1.0, L.VERY_POSITIVE),
    ],
)  # fmt: skip
def test_labels_at_their_thresholds(score, label):
    assert label_for(score) is label


T = datetime(2026, 12, 3, 14, 35, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("bucket", "start"),
    [
        ("1h", datetime(2026, 12, 3, 14, tzinfo=UTC)),
        ("4h", datetime(2026, 12, 3, 12, tzinfo=UTC)),
        ("1d", datetime(2026, 12, 3, tzinfo=UTC)),
        ("1w", datetime(2026, 11, 30, tzinfo=UTC)),  # the Monday
    ],
)
def test_buckets_start_on_utc_boundaries(bucket, start):
    assert bucket_start(T, bucket) == start
    assert bucket_start(start, bucket) == start


def test_a_series_weights_each_article_by_its_source():
    points = [
        Point(T, 0.8, 2.0),
        Point(T + timedelta(minutes=10), -0.4, 1.0),  # same hour
        Point(T + timedelta(hours=1), 0.2, 0.5),
        Point(T - timedelta(hours=2), 0.1, 0.0),  # a muted source still counts an article
    ]
    got = [(b.time.hour, b.score, b.articles) for b in series(points, "1h")]
    assert got == [(12, 0.0, 1), (14, round((1.6 - 0.4) / 3, 4), 2), (15, 0.2, 1)]
    assert [(b.score, b.articles) for b in series(points, "1d")] == [
        (round((1.6 - 0.4 + 0.1) / 3.5, 4), 4)
    ]
    assert series([], "1w") == []
    assert mean(points) == round((1.6 - 0.4 + 0.1) / 3.5, 4)
    assert mean([Point(T, 0.5, 0.0)]) is None


def test_text_is_stripped_of_markup_and_the_hash_ignores_case_and_spacing():
    assert plain_text("<p>Gold &amp; oil<br/>rise</p>") == "Gold & oil rise"
    assert plain_text(None) == ""
    assert content_hash("Gold rises", "On  haven demand") == content_hash(
        "GOLD RISES ", "on haven\ndemand"
    )
    assert content_hash("Gold rises", "") != content_hash("Gold", "rises")
    assert len(content_hash("a", "b")) == 64
