"""/api/notifications: the outbox (newest first, paged with `next`), each channel's state,
a test on every channel that can send, and the owner's preferences (DESIGN §5.4)."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.api.params import int_arg
from app.api.schemas import NotificationPreferencesUpdate, parse_body
from app.api.serialize import iso
from app.api.step_up import step_up_required
from app.domain.vocabulary import NotificationChannel, NotificationStatus
from app.errors import InvalidInput, Unprocessable
from app.extensions import db
from app.models import Notification
from app.services.notify import outbox, preferences, status
from app.services.notify import settings as channel_settings
from app.services.notify.channels import sms
from app.services.notify.channels.base import DeliveryError

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PAGE_SIZE = 100


def notification_json(row: Notification) -> dict:
    return {
        "id": row.id,
        "channel": row.channel,
        "event_type": row.event_type,
        "title": row.title,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
    }


def _choice(name: str, allowed: type) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in {v.value for v in allowed}:
        raise InvalidInput(f"Unknown {name}.", {name: f"is not a notification {name}"})
    return value


@bp.get("")
def list_notifications():
    query = select(Notification).order_by(Notification.id.desc()).limit(PAGE_SIZE)
    channel = _choice("channel", NotificationChannel)
    status = _choice("status", NotificationStatus)
    before = int_arg("before")
    if channel:
        query = query.where(Notification.channel == channel)
    if status:
        query = query.where(Notification.status == status)
    if before:
        query = query.where(Notification.id < before)
    rows = list(db.session.scalars(query))
    body: dict = {"items": [notification_json(row) for row in rows]}
    if len(rows) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.notifications.list_notifications", before=rows[-1].id, **args)
    return jsonify(body)


@bp.get("/channels")
def channel_states():
    """Each channel: can it send (else why not), its last delivery and its last error."""
    states = status.channel_statuses(current_user, outbox.wired_channels())
    return jsonify({name.value: channel_state_json(name, s) for name, s in states.items()})


@bp.post("/sms/quota")
def sms_quota():
    """Ask TextBelt now for the key's remaining credit (it is also read from each SMS's
    answer); 422 `quota_unavailable` with TextBelt's words when it cannot tell."""
    settings = channel_settings.notify_settings(current_user)
    if not settings.textbelt_key:
        raise Unprocessable("No TextBelt key is set.", code="quota_unavailable")
    try:
        remaining = sms.quota(settings)
    except DeliveryError as exc:
        raise Unprocessable(str(exc), code="quota_unavailable") from exc
    return jsonify({"quota_remaining": remaining})


def channel_state_json(name: NotificationChannel, state: status.ChannelStatus) -> dict:
    body = {
        "ready": state.why_not is None,
        "why_not": state.why_not,
        "last_sent_at": iso(state.last_sent_at),
        "last_error": state.last_error,
        "last_error_at": iso(state.last_error_at),
        "retry_at": iso(state.retry_at),
    }
    if name is NotificationChannel.SMS:
        body["quota_remaining"] = state.quota_remaining
        body["quota_seen_at"] = iso(state.quota_seen_at)
    return body


@bp.post("/test")
def queue_test():
    """A test on every channel that can send, whatever the preferences and quiet hours;
    202 with the rows queued, 422 `no_channel_ready` saying why each cannot."""
    rows, unready = outbox.queue_test(datetime.now(UTC))
    if not rows:
        raise Unprocessable(
            "No notification channel can send yet: "
            + "; ".join(f"{channel}: {why}" for channel, why in unready.items())
            + ".",
            {channel: why for channel, why in unready.items()},
            code="no_channel_ready",
        )
    return jsonify({"items": [notification_json(row) for row in rows], "unready": unready}), 202


@bp.post("/webhook-secret")
@step_up_required("rotating the outgoing webhook's secret")
def new_webhook_secret():
    """A new signing secret for the outgoing webhook, shown this once; the old one stops
    verifying at once."""
    key = channel_settings.rotate_outgoing_webhook_secret(current_user._get_current_object())
    return jsonify({"secret": key}), 201


@bp.get("/preferences")
def get_preferences():
    return jsonify(preferences.to_json(preferences.current(current_user)))


@bp.put("/preferences")
def put_preferences():
    changes = parse_body(NotificationPreferencesUpdate)
    prefs = preferences.update(current_user, changes)
    return jsonify(preferences.to_json(prefs))
