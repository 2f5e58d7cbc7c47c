"""/api/approvals: alerts held for the trader's click (a strategy's require_approval)."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from app.api.serialize import iso
from app.domain.vocabulary import ApprovalStatus
from app.errors import InvalidInput
from app.models import Approval
from app.services.trading import approvals

bp = Blueprint("approvals", __name__, url_prefix="/approvals")


def approval_json(row: Approval) -> dict:
    event = row.event
    return {
        "id": row.id,
        "event_id": row.webhook_event_id,
        "strategy_id": row.strategy_id,
        "status": row.status,
        "signal": event.signal,
        "received_at": iso(event.received_at),
        "expires_at": iso(row.expires_at),
        "decided_at": iso(row.decided_at),
        "decided_by": row.decided_by,
    }


@bp.get("")
def list_approvals():
    """Pending ones by default; `?status=` another, or `all`."""
    wanted = request.args.get("status", ApprovalStatus.PENDING.value)
    if wanted != "all" and wanted not in {s.value for s in ApprovalStatus}:
        allowed = ", ".join([*(s.value for s in ApprovalStatus), "all"])
        raise InvalidInput(f"status must be one of {allowed}.", {"status": "unknown status"})
    status = None if wanted == "all" else ApprovalStatus(wanted)
    rows = approvals.list_approvals(status, datetime.now(UTC))
    return jsonify(items=[approval_json(row) for row in rows])


@bp.post("/<id:approval_id>/approve")
def approve(approval_id: int):
    """Trade the held alert now: the alert's own answer (DESIGN §5.2)."""
    return jsonify(approvals.approve(approval_id, datetime.now(UTC)).to_json())


@bp.post("/<id:approval_id>/reject")
def reject(approval_id: int):
    return jsonify(approval_json(approvals.reject(approval_id, datetime.now(UTC))))
