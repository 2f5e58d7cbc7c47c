"""The owner's preferences: time zone, Discord direct messages, the economic calendar's
URL (fetched by a job, workers/calendar_fetch) and the webhook allowlist."""

import logging

from app.domain.vocabulary import AuditCategory
from app.extensions import db
from app.models import User
from app.services.market.calendar_feed import shown_url
from app.services.records import audit

logger = logging.getLogger(__name__)

SETTABLE = ("timezone", "discord_user_id", "discord_dm_enabled", "calendar_url")
CLEARABLE = ("discord_user_id", "calendar_url")  # null turns them off


def settings_of(user: User) -> dict:
    return {
        **{field: getattr(user, field) for field in SETTABLE},
        "webhook_allowlist": list(user.webhook_allowlist or []),
    }


def update_settings(user: User, changes: dict) -> User:
    before = settings_of(user)
    for field in SETTABLE:
        if field in changes and changes[field] is not None:
            setattr(user, field, changes[field])
    for field in CLEARABLE:
        if field in changes and changes[field] is None:
            setattr(user, field, None)
    if "webhook_allowlist" in changes:  # canonical ranges (the schema's); null empties it
        user.webhook_allowlist = list(dict.fromkeys(changes["webhook_allowlist"] or []))
    audit.record(
        AuditCategory.SYSTEM,
        "settings changed",
        data=_audited(audit.changed_fields(before, settings_of(user))),
    )
    db.session.commit()
    return user


def _audited(changed: dict) -> dict:
    """The changes as the audit keeps them: the calendar URL without its token (a changed
    token shows as the same URL on both sides)."""
    if "calendar_url" in changed:
        changed["calendar_url"] = [
            shown_url(url) if url else None for url in changed["calendar_url"]
        ]
    return changed
