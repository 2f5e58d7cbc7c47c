"""An account the broker refuses outright (locked, closed, liquidation-only) is halted at once.

Such a refusal (AccountLocked) is final: halting the account as soon as it is recorded
means the next alert is refused by the risk gate before anything reaches the broker, so
nothing is retried. Halts belong to services.protection, which sits above trading; so
protection registers its halter here when the app is built (as it does the protections,
protections.py), and trading calls it without importing the layer above.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from app.brokers.errors import AccountLocked
from app.models.base import utcnow

logger = logging.getLogger(__name__)

Halter = Callable[[int, str, datetime], object]  # account id, the broker's words, now

_halt: Halter | None = None


def register_halter(halter: Halter) -> None:
    """Called once by create_app; the same function for every app in the process."""
    global _halt
    _halt = halter


def account_locked(account_id: int, refusal: AccountLocked) -> None:
    """Halt the account the broker refused (the refused order is already recorded)."""
    if _halt is None:
        raise RuntimeError("no broker-lock halter registered (create_app registers one)")
    _halt(account_id, refusal.message, utcnow())
