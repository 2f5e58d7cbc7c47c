"""News blackout windows and the calendar's CSV form."""

from datetime import UTC, datetime, timedelta

from app.domain.news import BlackoutRule, Impact, NewsEvent, blocking, parse_csv

CPI = NewsEvent(datetime(2026, 12, 10, 13, 30, tzinfo=UTC), "CPI m/m", Impact.HIGH, "USD")
CLAIMS = NewsEvent(datetime(2026, 12, 10, 13, 30, tzinfo=UTC), "Jobless claims", Impact.MEDIUM)


def test_an_entry_is_blocked_from_before_to_after_a_high_impact_event():
    rule = BlackoutRule(before_minutes=5, after_minutes=10)
    at = CPI.starts_at
    assert blocking(rule, [CPI], at - timedelta(minutes=6)) is None
    assert blocking(rule, [CPI], at - timedelta(minutes=5)) == CPI
    assert blocking(rule, [CPI], at + timedelta(minutes=10)) == CPI
    assert blocking(rule, [CPI], at + timedelta(minutes=10, seconds=1)) is None
    assert blocking(rule, [CLAIMS], at) is None  # below the rule's impact
    assert blocking(BlackoutRule(5, 10, Impact.MEDIUM), [CLAIMS], at) == CLAIMS


def test_the_csv_form_with_a_header_offsets_and_bad_lines():
    events, skipped = parse_csv(
        "time,title,impact,currency\n"
        "2026-12-10T13:30:00Z,CPI m/m,High,usd\n"
        "2026-12-10T09:30:00-05:00,Retail sales,medium,\n"
        "tomorrow,FOMC,high,USD\n"
        "2026-12-11T19:00:00Z,FOMC,huge,USD\n"
    )
    assert [(e.title, e.impact, e.currency) for e in events] == [
        ("CPI m/m", Impact.HIGH, "USD"),
        ("Retail sales", Impact.MEDIUM, None),
    ]
    assert events[1].starts_at == datetime(2026, 12, 10, 14, 30, tzinfo=UTC)
    assert [line.split(":")[0] for line in skipped] == ["line 4", "line 5"]
