"""How old the market data is: each symbol's last quote's age, and which held symbols' feeds
are quiet while their market is open — the status header's `market_data` (DESIGN §5.5) in
the shape /readyz gives it (§5.7).

The one rule for quiet, which the silence watchdog (protection/silence_watch) tells of:
a symbol with an open position whose last quote is MARKET_DATA_QUIET_SECONDS old or more,
or that has none, while its CME session is open. A closed market is quiet by nature; the
session look-up is a cached calendar read, so this costs one query and a dictionary copy.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Position
from app.services.market import prices, sessions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataAge:
    ages: dict[str, int | None]  # symbol -> whole seconds since its last quote; None: none yet
    quiet: tuple[str, ...]  # held symbols whose feed is quiet inside their session


def data_age(now: datetime, quiet_after: timedelta) -> DataAge:
    """The age of every quoted or held symbol's last quote, and the held ones gone quiet."""
    held = set(db.session.scalars(select(Position.symbol).where(Position.quantity != 0)))
    quotes = prices.snapshot()
    ages: dict[str, int | None] = {}
    for symbol in sorted(held | quotes.keys()):
        quote = quotes.get(symbol)
        ages[symbol] = None if quote is None else max(int((now - quote.time).total_seconds()), 0)
    quiet = tuple(
        symbol
        for symbol in sorted(held)
        if (ages[symbol] is None or ages[symbol] >= quiet_after.total_seconds())
        and sessions.session_at(sessions.calendar_for(symbol, now.date()), now) is not None
    )
    return DataAge(ages, quiet)
