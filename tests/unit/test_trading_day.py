"""CME's trading day and week open at 17:00 Chicago time (the week on Sunday)."""

from datetime import UTC, datetime

from app.domain.trading_day import (
    in_tradovate_maintenance,
    trading_day_start,
    trading_week_start,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_day_opens_the_evening_before_at_five_in_chicago():
    assert trading_day_start(at("2026-12-03 15:00")) == at("2026-12-02 23:00")  # CST
    assert trading_day_start(at("2026-12-03 23:30")) == at("2026-12-03 23:00")
    assert trading_day_start(at("2026-07-01 23:30")) == at("2026-07-01 22:00")  # CDT


def test_the_week_opens_on_sunday_evening():
    assert trading_week_start(at("2026-12-03 15:00")) == at("2026-11-29 23:00")
    assert trading_week_start(at("2026-12-06 22:59")) == at("2026-11-29 23:00")  # Sunday
    assert trading_week_start(at("2026-12-06 23:00")) == at("2026-12-06 23:00")
    assert trading_week_start(at("2026-11-02 12:00")) == at("2026-11-01 23:00")  # DST ended


def test_tradovates_maintenance_windows():
    assert in_tradovate_maintenance(at("2026-12-03 22:30"))  # Thursday 16:30 Chicago
    assert not in_tradovate_maintenance(at("2026-12-03 23:00"))  # 17:00: the session opens
    assert in_tradovate_maintenance(at("2026-12-05 01:30"))  # Friday 19:30
    assert not in_tradovate_maintenance(at("2026-12-05 03:00"))  # Friday 21:00
    assert in_tradovate_maintenance(at("2026-12-06 04:30"))  # Saturday 22:30
    assert in_tradovate_maintenance(at("2026-12-06 12:00"))  # Sunday 06:00
    assert not in_tradovate_maintenance(at("2026-12-06 13:00"))  # Sunday 07:00
