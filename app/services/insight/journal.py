"""The trade journal: the trader's notes, tags and 1-5 rating of a closed trade.

These columns are the trader's, not the broker's: the ledger writes a trade's fills and
P&L once, and the journal only ever touches these three, so the two never race."""

import logging

from app.domain.vocabulary import AuditCategory
from app.errors import NotFound
from app.extensions import db
from app.models import Trade
from app.services.records import audit

logger = logging.getLogger(__name__)

JOURNAL_FIELDS = ("notes", "tags", "rating")


def annotate(trade_id: int, changes: dict) -> Trade:
    """Set the journal fields that `changes` names (None clears one), audited; a change
    that changes nothing writes nothing."""
    trade = db.session.get(Trade, trade_id)
    if trade is None:
        raise NotFound(f"No trade with id {trade_id}.")
    before = {name: getattr(trade, name) for name in JOURNAL_FIELDS}
    for name in JOURNAL_FIELDS:
        if name in changes:
            setattr(trade, name, changes[name])
    after = {name: getattr(trade, name) for name in JOURNAL_FIELDS}
    changed = audit.changed_fields(before, after)
    if not changed:  # nothing new: nothing to record
        return trade
    audit.record(
        AuditCategory.SYSTEM,
        f"trade {trade.id} journal updated",
        data=changed,
        account_id=trade.account_id,
        strategy_id=trade.strategy_id,
    )
    db.session.commit()
    return trade
