"""Linking the owner's Discord account from Settings (OAuth2 `identify`): the redirect to
Discord's consent page and the callback it sends the trader back to."""

import logging

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_required

from app.services.notify import discord_link

logger = logging.getLogger(__name__)

bp = Blueprint("oauth", __name__, url_prefix="/oauth")

# The pending sign-in: its `state` and PKCE verifier. The session is a signed cookie, so
# only this browser carries them, and they are dropped at the first callback.
PENDING = "discord_oauth"
STATE_REFUSED = (
    "This Discord sign-in was not started from this browser's Settings page (the state does "
    "not match), so nothing was linked. Start again with “Link with Discord” in Settings."
)


@bp.before_request
@login_required
def _require_login():
    g.no_store = True


@bp.get("/discord/start")
def discord_start():
    if not discord_link.configured():
        flash(discord_link.NOT_CONFIGURED, "error")
        return _to_settings()
    authorization = discord_link.begin(_callback_url())
    session[PENDING] = {"state": authorization.state, "verifier": authorization.code_verifier}
    return redirect(authorization.url)


@bp.get("/discord/callback")
def discord_callback():
    pending = session.pop(PENDING, None) or {}
    if not discord_link.state_matches(pending.get("state"), request.args.get("state")):
        abort(400, STATE_REFUSED)
    error = request.args.get("error")
    if error == "access_denied":
        flash("Discord linking cancelled: you declined on Discord's page.", "info")
        return _to_settings()
    code = request.args.get("code")
    if error or not code:
        flash(f"Discord did not link the account ({(error or 'no code')[:64]}).", "error")
        return _to_settings()
    try:
        identity = discord_link.identify(code, pending["verifier"], _callback_url())
    except discord_link.LinkFailed as exc:
        flash(exc.message, "error")
        return _to_settings()
    discord_link.link(current_user, identity)
    flash(f"Linked Discord user {identity.username}", "info")
    return _to_settings()


def _callback_url() -> str:
    """The address Discord sends the trader back to, registered in its developer portal:
    PUBLIC_URL wins over the address the page used (behind a TLS proxy that is http://)."""
    path = url_for("oauth.discord_callback")
    base = current_app.config.get("PUBLIC_URL")
    return base.rstrip("/") + path if base else url_for("oauth.discord_callback", _external=True)


def _to_settings():
    return redirect(url_for("pages.settings_page"))
