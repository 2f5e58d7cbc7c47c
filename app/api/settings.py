"""/api/settings: the owner's preferences and password (secrets are never returned).

Saving a new `calendar_url` fetches it at once; the answer's `calendar_fetch` tells how it
went, and a calendar that cannot be fetched does not make the save fail (the job retries).
"""

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify
from flask_login import current_user, login_user

from app.api import step_up
from app.api.schemas import PasswordChange, SettingsUpdate, parse_body
from app.api.serialize import iso
from app.errors import Conflict
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
        "two_factor_method": two_factor.method(user),
        "two_factor_enabled_at": iso(user.totp_enabled_at),
        "backup_codes_left": two_factor.backup_codes_left(user),
    }


@bp.get("")
def get_settings():
    return jsonify(settings_json(current_user))


@bp.route("", methods=["PUT", "PATCH"])
def update_settings():
    changes = parse_body(SettingsUpdate)
    _step_up_for_credentials(changes)
    previous_url = current_user.calendar_url
    channel_settings.update_channel_settings(current_user, changes)
    user = settings.update_settings(current_user, changes)
    answer = settings_json(user)
    if user.calendar_url and user.calendar_url != previous_url:
        answer["calendar_fetch"] = _fetch_json(calendar_feed.fetch_calendar(user.calendar_url))
    return jsonify(answer)


def _step_up_for_credentials(changes: dict) -> None:
    """A channel's secret is a credential; the SMS numbers, while SMS is the second factor,
    are where that factor goes: changing either needs a step-up, and neither may be
    cleared while SMS is the factor (the next login could not be texted a code)."""
    by_sms = two_factor.method(current_user) == two_factor.SMS
    if by_sms and (
        ("sms_to" in changes and not changes["sms_to"])
        or ("textbelt_key" in changes and not changes["textbelt_key"])
    ):
        raise Conflict(
            "SMS is your second factor: keep a TextBelt key and a number, or turn "
            "two-factor login off first.",
            code="sms_second_factor",
        )
    secrets = sorted(field for field in channel_settings.SECRETS if field in changes)
    if secrets:
        step_up.require(f"changing {', '.join(secrets)}")
    if "webhook_allowlist" in changes and list(changes["webhook_allowlist"] or []) != list(
        current_user.webhook_allowlist or []
    ):
        step_up.require("changing the webhook allowlist")  # a defence, loosened or not
    if by_sms and "sms_to" in changes and changes["sms_to"] != list(current_user.sms_to or []):
        step_up.require("changing the phone numbers SMS codes go to")


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
@step_up.step_up_required("changing the password")
def change_password():
    body = parse_body(PasswordChange)
    user = current_user._get_current_object()
    auth.change_password(user, body["current_password"], body["new_password"], datetime.now(UTC))
    if g.get("auth_method") == "session":
        login_user(user)  # re-issue this session under the new nonce; the others are out
    return jsonify(settings_json(user))
