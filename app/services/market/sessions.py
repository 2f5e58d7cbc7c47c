"""CME Globex sessions per product: when a trading day opens and closes, with the
exchange's holidays and early closes, from a maintained calendar (pandas_market_calendars)
rather than a list written here.

A session runs from the Globex open (17:00 Chicago time the evening before, for most
products) to that day's close (16:00, or earlier on an early close); a holiday has none.
Schedules are read a month at a time and kept, since a read costs tens of milliseconds.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas_market_calendars as mcal

from app.domain.contracts import UnknownSymbol, resolve_symbol

DEFAULT_CALENDAR = "CME_Equity"
# The calendar each product trades by (pandas_market_calendars' names).
CALENDARS = {
    **dict.fromkeys(("ES", "MES", "NQ", "MNQ", "RTY", "M2K"), "CME_Equity"),
    **dict.fromkeys(("YM", "MYM"), "CBOT_Equity"),
    **dict.fromkeys(("CL", "MCL"), "CMEGlobex_Crude"),
    "NG": "CMEGlobex_NatGas",
    **dict.fromkeys(("GC", "MGC"), "CMEGlobex_Gold"),
    "SI": "CMEGlobex_Silver",
    "HG": "CMEGlobex_Copper",
    **dict.fromkeys(("ZB", "ZN", "ZF"), "CBOT_Bond"),
    **dict.fromkeys(("ZC", "ZS", "ZW"), "CMEGlobex_Grains"),
    **dict.fromkeys(("6E", "6J", "6B"), "CMEGlobex_FX"),
}


@dataclass(frozen=True)
class Session:
    trading_day: date
    opens: datetime  # UTC
    closes: datetime  # UTC
    early_close: bool  # closes before the calendar's regular close


def calendar_for(symbol: str, today: date) -> str:
    """The calendar of the product `symbol` is (MES1!, MESZ6, MES); CME equity's else."""
    try:
        root = resolve_symbol(symbol, today).spec.root
    except UnknownSymbol:
        return DEFAULT_CALENDAR
    return CALENDARS.get(root, DEFAULT_CALENDAR)


def session_at(calendar: str, now: datetime) -> Session | None:
    """The session `now` falls in; None while the market is closed (the daily break, a
    weekend, a holiday)."""
    for session in _around(calendar, now):
        if session.opens <= now < session.closes:
            return session
    return None


def next_session(calendar: str, now: datetime) -> Session | None:
    """The first session that opens after `now` (within the next three weeks)."""
    for session in _around(calendar, now, ahead=21):
        if session.opens > now:
            return session
    return None


def _around(calendar: str, now: datetime, ahead: int = 3) -> list[Session]:
    start, end = (now - timedelta(days=3)).date(), (now + timedelta(days=ahead)).date()
    months = {(day.year, day.month) for day in (start, end, start + (end - start) / 2)}
    found = [s for year, month in sorted(months) for s in _month(calendar, year, month)]
    return sorted({s.trading_day: s for s in found}.values(), key=lambda s: s.opens)


@functools.lru_cache(maxsize=256)
def _month(calendar: str, year: int, month: int) -> tuple[Session, ...]:
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    exchange = mcal.get_calendar(calendar)
    schedule = exchange.schedule(start_date=first.isoformat(), end_date=last.isoformat())
    early = set(exchange.early_closes(schedule).index) if len(schedule) else set()
    return tuple(
        Session(
            trading_day=day.date(),
            opens=row.market_open.to_pydatetime(),
            closes=row.market_close.to_pydatetime(),
            early_close=day in early,
        )
        for day, row in schedule.iterrows()
    )
