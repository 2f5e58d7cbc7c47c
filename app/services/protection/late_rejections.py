"""Orders the broker rejected after it had accepted them.

A protective stop rejected once working leaves its position unguarded while DeskPilot
believed it guarded: the account is halted (a `manual` halt, the trader's to lift once
they have looked) and the trader told, as a critical event `order_rejected_late`. Any
other order rejected late is told as a warning. Each is acted on once (the ledger stamps
`rejected_late_at`; this marks it handled).
"""

from datetime import datetime

from sqlalchemy import select

from app.domain.vocabulary import AuditCategory, HaltKind, OrderRole, Severity
from app.extensions import db
from app.models import Order
from app.services.protection import halts
from app.services.records import audit, events
from app.services.setup.accounts import get_account


def act(now: datetime) -> list[int]:
    """Act on the late rejections not acted on yet; the accounts halted."""
    rows = list(
        db.session.scalars(
            select(Order)
            .where(Order.rejected_late_at.is_not(None), Order.late_rejection_handled.is_(False))
            .order_by(Order.id)
        )
    )
    halted: list[int] = []
    for row in rows:
        row.late_rejection_handled = True
        protective = row.role == OrderRole.STOP_LOSS
        what = f"{row.symbol} {row.role.replace('_', ' ')} order {row.id}"
        message = (
            f"{what} was rejected by the broker after it had accepted it"
            f" ({row.reason or 'no reason given'})"
        )
        change = None
        if protective:
            account = get_account(row.account_id)
            reason = f"protective stop rejected after acceptance: {what}; check the position"
            change = halts.set_halt(account, HaltKind.MANUAL, reason[:255], now, "monitor")
            if change is not None:
                halted.append(row.account_id)
        audit.record(
            AuditCategory.ORDER,
            message + ("; the account is halted" if protective else ""),
            severity=Severity.CRITICAL if protective else Severity.WARNING,
            account_id=row.account_id,
            strategy_id=row.strategy_id,
            data={"order_id": row.id, "client_order_id": row.client_order_id},
        )
        if change is not None:
            halts.announce([change])
        events.publish_after_commit(
            db.session(),
            "order_rejected_late",
            {
                "order_id": row.id,
                "account_id": row.account_id,
                "symbol": row.symbol,
                "role": row.role,
                "reason": row.reason,
                "halted": change is not None,
                "at": now.isoformat(),
            },
        )
        db.session.commit()
    return halted
