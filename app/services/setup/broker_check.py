"""Test a broker account's connection: log in, list what the login sees, say what is wrong.

Behind the "Test connection" button and `POST /api/accounts/<id>/test`. The answer is
always a result, never an error: `ok`, the accounts the login sees, and one message a
trader can act on (which field to fix, how long to wait, where to log in). A test goes
through the same process-wide Tradovate session as trading, so testing does not open an
extra session; it only retries a refused login at once instead of waiting out the hold.
Nothing secret is ever part of the answer.
"""

import logging
from dataclasses import dataclass, field

from sqlalchemy import update

from app.brokers.errors import BrokerAuthError, BrokerError, RateLimited, TemporaryBrokerError
from app.brokers.tradovate import wire
from app.brokers.tradovate.rest import TradovateRest, base_url_for, credentials_of
from app.domain.vocabulary import AuditCategory, BrokerKind, Environment, Severity
from app.extensions import db
from app.models import BrokerAccount
from app.services.records import audit
from app.services.setup.access import access_of
from app.services.setup.accounts import get_account

logger = logging.getLogger(__name__)

PAPER_NOTE = (
    "Paper accounts trade on DeskPilot's built-in simulator: there is nothing to connect to."
)
API_KEY_HINT = (
    "Check the API key fields: cid is the key's number, sec its secret (shown once when the "
    "key was made on Tradovate's site), app id the application name given with the key."
)
PASSWORD_HINT = (  # nosec B105 # advice, not a password
    "Check the username and password: they are those of your Tradovate login."
)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    accounts: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ok": self.ok, "accounts": self.accounts, "message": self.message}


def check_connection(account_id: int) -> ConnectionCheck:
    """Test the account's broker connection now; the result is recorded in the audit log."""
    account = get_account(account_id)
    if account.broker == BrokerKind.PAPER:
        result = ConnectionCheck(True, PAPER_NOTE)
    else:
        result = _check_tradovate(account)
    audit.record(
        AuditCategory.SYSTEM,
        f"connection test of {account.name!r}: " + ("ok" if result.ok else "failed"),
        severity=Severity.INFO if result.ok else Severity.WARNING,
        account_id=account.id,
        data={"message": result.message},
    )
    db.session.commit()
    return result


def _check_tradovate(account: BrokerAccount) -> ConnectionCheck:
    try:
        credentials = credentials_of(access_of(account))
    except BrokerAuthError as exc:  # missing fields, or credentials that cannot be read
        return ConnectionCheck(False, exc.message)
    rest = TradovateRest(base_url_for(account.environment), credentials)
    live = account.environment == Environment.LIVE
    try:
        grant = rest.sign_in(ignore_hold=True)
        seen = wire.parse_accounts(rest.get("account/list"))
    except wire.LoginRefused as exc:
        return ConnectionCheck(False, _explain_refusal(exc))
    except (wire.CaptchaRequired, RateLimited) as exc:
        return ConnectionCheck(False, exc.message)
    except TemporaryBrokerError as exc:
        return ConnectionCheck(
            False, f"Tradovate did not answer ({exc.message}); check the network and try again."
        )
    except BrokerError as exc:
        return ConnectionCheck(False, exc.message)
    except (KeyError, TypeError, ValueError) as exc:
        return ConnectionCheck(
            False, f"Tradovate answered in a shape DeskPilot cannot read ({type(exc).__name__})."
        )
    listed = [{"id": a.id, "name": a.name, "active": a.active} for a in seen]
    if live and grant.has_live is False:
        return ConnectionCheck(
            False,
            "The login works, but it has no live access (Tradovate says hasLive is false): "
            "set the account's environment to demo, or enable live trading with Tradovate.",
            listed,
        )
    try:
        chosen = wire.choose_account(seen, account.broker_account_id)
    except BrokerAuthError as exc:
        return ConnectionCheck(False, exc.message, listed)
    for item in listed:
        item["selected"] = item["id"] == chosen.id
    _store_spec(account, chosen.name)
    environment = "live" if live else "demo"
    message = (
        f"Connected to Tradovate {environment} as {grant.name or credentials.username}; "
        f"orders go to {chosen.name} (#{chosen.id})"
    )
    others = [f"{a.name} (#{a.id})" for a in seen if a.id != chosen.id]
    if others:
        message += "; the login also sees " + ", ".join(others)
    message += "."
    if live and not credentials.device_id:
        message += (
            " No device id is set: live trading refuses orders from an unapproved device, so "
            "set one and keep it."
        )
    return ConnectionCheck(True, message, listed)


def _explain_refusal(exc: wire.LoginRefused) -> str:
    """Tradovate's words, then which fields they point at."""
    text = (exc.tradovate_text or "").lower()
    if not exc.tradovate_text:
        return (
            f"{exc.message}. Log in on Tradovate's site to see why (a locked account or an "
            "unconfirmed e-mail stops API logins)."
        )
    if "password" in text or "username" in text:
        return f"{exc.message} {PASSWORD_HINT}"
    if any(word in text for word in ("cid", "sec", "key", "app")):
        return f"{exc.message} {API_KEY_HINT}"
    if "device" in text:
        return f"{exc.message} Check the device id: keep one stable id per installation."
    return f"{exc.message} Check the username, password, app id, cid and sec."


def _store_spec(account: BrokerAccount, name: str) -> None:
    if account.broker_account_spec != name:
        db.session.execute(
            update(BrokerAccount)
            .where(BrokerAccount.id == account.id)
            .values(broker_account_spec=name)
        )
