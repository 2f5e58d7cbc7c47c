"""CME's trading day and week: when "today" and "this week" begin for P&L and limits.

The Globex day opens at 17:00 Chicago time the evening before; the week opens on Sunday
at 17:00. A loss taken Monday at 18:00 Chicago time is Tuesday's.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
SUNDAY = 6


def trading_day_start(now: datetime) -> datetime:
    """The 17:00 Chicago time that opened the trading day `now` is in."""
    chicago = now.astimezone(CHICAGO)
    opening = chicago.replace(hour=17, minute=0, second=0, microsecond=0)
    if chicago < opening:
        opening -= timedelta(days=1)
    return opening.astimezone(UTC)


def trading_day_of(day: date) -> datetime:
    """The start of the CME trading day named `day` (it opens the evening before): where
    a daily bar dated `day` begins, whoever dated it."""
    return trading_day_start(datetime.combine(day, time(12), CHICAGO))


def trading_week_start(now: datetime) -> datetime:
    """The Sunday 17:00 Chicago time that opened the trading week `now` is in."""
    opening = trading_day_start(now).astimezone(CHICAGO)
    back = (opening.weekday() - SUNDAY) % 7
    return (opening - timedelta(days=back)).replace(hour=17).astimezone(UTC)


# Tradovate's maintenance windows, Chicago time (reference "Maintenance windows"): weekday →
# (start, end) hours; Friday's start as the earlier of its two published versions.
TRADOVATE_MAINTENANCE = {
    0: ((16, 0), (17, 0)),
    1: ((16, 0), (17, 0)),
    2: ((16, 0), (17, 0)),
    3: ((16, 0), (17, 0)),
    4: ((16, 0), (20, 0)),
}


def in_tradovate_maintenance(now: datetime) -> bool:
    """Whether Tradovate may be down for maintenance at `now`: Monday–Thursday 16:00–17:00,
    Friday 16:00–20:00, Saturday 22:00 to Sunday 06:30, Chicago time."""
    local = now.astimezone(CHICAGO)
    minutes = local.hour * 60 + local.minute
    if local.weekday() == 5:  # Saturday
        return minutes >= 22 * 60
    if local.weekday() == SUNDAY:
        return minutes < 6 * 60 + 30
    (start_h, start_m), (end_h, end_m) = TRADOVATE_MAINTENANCE[local.weekday()]
    return start_h * 60 + start_m <= minutes < end_h * 60 + end_m
