"""/api/settings: the owner's preferences and password (secrets are never returned).

Saving a new `calendar_url` fetches it at once; the answer's `calendar_fetch` tells how it
went, and a calendar that cannot be fetched does not make the save fail (the job retries).
"""

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify
from flask_login import current_user, login_user

from app.api.schemas import PasswordChange, SettingsUpdate, parse_body
from app.api.serialize import iso
from app.models import User
from app.services.market import calendar_feed
from app.services.notify import settings as channel_settings
from app.services.setup import auth, settings, two_factor

bp = Blueprint("settings", __name__, url_prefix="/settings")


def settings_json(user: User) -> dict:
    return {
        "username": user.username,
        **settings.settings_of(user),
        **channel_settings.channel_settings_of(user),
        "api_token_created_at": iso(user.api_token_created_at),
        "password_changed_at": iso(user.password_changed_at),
        "two_factor_enabled": two_factor.is_on(user),
        "two_factor_enabled_at": iso(user.totp_enabled_at),
        "backup_codes_left": two_factor.backup_codes_left(user),
    }


@bp.get("")
def get_settings():
    return jsonify(settings_json(current_user))


@bp.route("", methods=["PUT", "PATCH"])
def update_settings():
    changes = parse_body(SettingsUpdate)
    previous_url = current_user.calendar_url
    channel_settings.update_channel_settings(current_user, changes)
    user = settings.update_settings(current_user, changes)
    answer = settings_json(user)
    if user.calendar_url and user.calendar_url != previous_url:
        answer["calendar_fetch"] = _fetch_json(calendar_feed.fetch_calendar(user.calendar_url))
    return jsonify(answer)


def _fetch_json(outcome: calendar_feed.FetchOutcome) -> dict:
    report = outcome.report
    return {
        "result": outcome.result.value,
        "new": report.new if report else 0,
        "updated": report.updated if report else 0,
        "skipped": report.skipped if report else [],
        "error": outcome.error,
    }


@bp.post("/password")
def change_password():
    body = parse_body(PasswordChange)
    user = current_user._get_current_object()
    auth.change_password(user, body["current_password"], body["new_password"], datetime.now(UTC))
    if g.get("auth_method") == "session":
        login_user(user)  # re-issue this session under the new nonce; the others are out
    return jsonify(settings_json(user))
