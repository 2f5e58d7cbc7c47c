"""The owner's preferences: time zone and Discord direct messages."""

import logging

from app.domain.vocabulary import AuditCategory
from app.extensions import db
from app.models import User
from app.services.records import audit

logger = logging.getLogger(__name__)

SETTABLE = ("timezone", "discord_user_id", "discord_dm_enabled")


def settings_of(user: User) -> dict:
    return {field: getattr(user, field) for field in SETTABLE}


def update_settings(user: User, changes: dict) -> User:
    before = settings_of(user)
    for field in SETTABLE:
        if field in changes and changes[field] is not None:
            setattr(user, field, changes[field])
    if "discord_user_id" in changes and changes["discord_user_id"] is None:
        user.discord_user_id = None
    audit.record(
        AuditCategory.SYSTEM,
        "settings changed",
        data=audit.changed_fields(before, settings_of(user)),
    )
    db.session.commit()
    return user
