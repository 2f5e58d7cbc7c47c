"""CME's trading day and week: when "today" and "this week" begin for P&L and limits.

The Globex day opens at 17:00 Chicago time the evening before; the week opens on Sunday
at 17:00. A loss taken Monday at 18:00 Chicago time is Tuesday's.
"""

from datetime import UTC, datetime, timedelta
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


def trading_week_start(now: datetime) -> datetime:
    """The Sunday 17:00 Chicago time that opened the trading week `now` is in."""
    opening = trading_day_start(now).astimezone(CHICAGO)
    back = (opening.weekday() - SUNDAY) % 7
    return (opening - timedelta(days=back)).replace(hour=17).astimezone(UTC)
