"""/api/logs: the audit log, newest first, paged with `next`."""

from flask import Blueprint, jsonify, request, url_for

from app.api.params import int_arg
from app.api.serialize import iso
from app.domain.vocabulary import AuditCategory
from app.errors import InvalidInput
from app.models import AuditEntry
from app.services.records import audit

bp = Blueprint("logs", __name__, url_prefix="/logs")

PAGE_SIZE = 100


def entry_json(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "created_at": iso(entry.created_at),
        "category": entry.category,
        "severity": entry.severity,
        "message": entry.message,
        "data": entry.data,
        "actor": entry.actor,
        "account_id": entry.account_id,
        "strategy_id": entry.strategy_id,
    }


@bp.get("")
def list_entries():
    category = request.args.get("category") or None
    if category and category not in {c.value for c in AuditCategory}:
        raise InvalidInput("Unknown log category.", {"category": "is not a log category"})
    entries = audit.recent_entries(
        category=category,
        account_id=int_arg("account_id"),
        strategy_id=int_arg("strategy_id"),
        before_id=int_arg("before"),
        limit=PAGE_SIZE,
    )
    body: dict = {"items": [entry_json(e) for e in entries]}
    if len(entries) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.logs.list_entries", before=entries[-1].id, **args)
    return jsonify(body)
