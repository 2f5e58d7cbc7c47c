"""The CME calendar: sessions, a holiday and an early close of 2026, from the library."""

from datetime import UTC, date, datetime

from app.domain.contracts import SPECS
from app.services.market.sessions import CALENDARS, calendar_for, next_session, session_at


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_regular_session_opens_at_five_and_closes_at_four_chicago_time():
    session = session_at("CME_Equity", at("2026-12-03 15:00"))
    assert session.trading_day == date(2026, 12, 3)
    assert (session.opens, session.closes) == (at("2026-12-02 23:00"), at("2026-12-03 22:00"))
    assert not session.early_close
    assert session_at("CME_Equity", at("2026-12-03 22:30")) is None  # the daily break
    assert session_at("CME_Equity", at("2026-12-05 18:00")) is None  # Saturday


def test_christmas_2026_is_a_holiday_after_an_early_close():
    eve = session_at("CME_Equity", at("2026-12-24 15:00"))
    assert eve.early_close and eve.closes == at("2026-12-24 18:00")  # 12:00 Chicago
    assert session_at("CME_Equity", at("2026-12-25 16:00")) is None
    after = next_session("CME_Equity", at("2026-12-24 19:00"))
    assert after.trading_day == date(2026, 12, 28)  # no session for the 25th


def test_each_product_trades_by_its_own_calendar():
    assert calendar_for("MES1!", date(2026, 12, 3)) == "CME_Equity"
    assert calendar_for("MCLF7", date(2026, 12, 3)) == "CMEGlobex_Crude"
    assert calendar_for("XYZ", date(2026, 12, 3)) == "CME_Equity"  # unknown: equity's
    crude = session_at("CMEGlobex_Crude", at("2026-12-24 17:00"))
    assert crude.closes == at("2026-12-24 18:45")  # its own early close


def test_every_product_has_its_calendar():
    assert set(CALENDARS) == set(SPECS)
