"""Broker accounts and their risk limits: create, change, delete, with an audit trail."""

import logging
import uuid
from decimal import Decimal

from flask import current_app
from sqlalchemy import exists, select

from app.domain.vocabulary import AuditCategory, BrokerKind, Environment
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import BrokerAccount, Order, RiskLimits
from app.services.records import audit
from app.services.setup.crypto import decrypt_json, encrypt_json

logger = logging.getLogger(__name__)

TRADOVATE_REQUIRED = ("username", "password", "app_id", "cid", "sec")


def list_accounts() -> list[BrokerAccount]:
    return list(db.session.scalars(select(BrokerAccount).order_by(BrokerAccount.name)))


def get_account(account_id: int) -> BrokerAccount:
    account = db.session.get(BrokerAccount, account_id)
    if account is None:
        raise NotFound(f"No account with id {account_id}.")
    return account


def _ensure_unique_name(name: str, exclude_id: int | None = None) -> None:
    query = select(BrokerAccount.id).where(BrokerAccount.name == name)
    if exclude_id is not None:
        query = query.where(BrokerAccount.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"An account named {name!r} already exists.", {"name": "is taken"})


def _complete_tradovate_credentials(credentials: dict) -> dict:
    missing = [key for key in TRADOVATE_REQUIRED if not credentials.get(key)]
    if missing:
        raise InvalidInput(
            "Tradovate credentials are incomplete.",
            {f"credentials.{key}": "is required" for key in missing},
        )
    completed = dict(credentials)
    completed.setdefault("app_version", "1.0")
    # Tradovate ties sessions to a device; a stable id per account avoids new-device prompts.
    completed.setdefault("device_id", str(uuid.uuid4()))
    return completed


def create_account(data: dict) -> BrokerAccount:
    """Create a paper or Tradovate account with empty (unlimited) risk limits."""
    _ensure_unique_name(data["name"])
    broker = BrokerKind(data["broker"])
    credentials = data.get("credentials")
    account = BrokerAccount(
        name=data["name"],
        broker=broker,
        environment=data.get("environment") or Environment.DEMO,
        enabled=data.get("enabled", True),
        broker_account_id=data.get("broker_account_id"),
    )
    if broker is BrokerKind.PAPER:
        if credentials:
            raise InvalidInput(
                "A paper account takes no credentials.", {"credentials": "not allowed for paper"}
            )
        balance = data.get("starting_balance")
        if balance is None:
            balance = Decimal(current_app.config["PAPER_STARTING_BALANCE"])
        account.starting_balance = balance
        account.cash_balance = balance
    else:
        if data.get("starting_balance") is not None:
            raise InvalidInput(
                "Only paper accounts take a starting balance.",
                {"starting_balance": "not allowed for tradovate"},
            )
        if not credentials:
            raise InvalidInput(
                "Tradovate accounts need credentials.", {"credentials": "is required"}
            )
        account.credentials_encrypted = encrypt_json(_complete_tradovate_credentials(credentials))
    account.risk_limits = RiskLimits()
    db.session.add(account)
    db.session.flush()
    audit.record(
        AuditCategory.SYSTEM,
        f"account {account.name!r} created ({account.broker}, {account.environment})",
        account_id=account.id,
        data={"broker": account.broker, "environment": account.environment},
    )
    db.session.commit()
    return account


def update_account(account_id: int, changes: dict) -> BrokerAccount:
    """Change an account; credentials given are merged into the stored ones."""
    account = get_account(account_id)
    before = account_summary(account)
    if "broker" in changes and changes["broker"] != account.broker:
        raise InvalidInput(
            "An account's broker cannot change; create a new account.", {"broker": "is fixed"}
        )
    if "name" in changes and changes["name"] != account.name:
        _ensure_unique_name(changes["name"], exclude_id=account.id)
        account.name = changes["name"]
    for field in ("environment", "enabled", "broker_account_id"):
        if field in changes and changes[field] is not None:
            setattr(account, field, changes[field])
    if "broker_account_id" in changes and changes["broker_account_id"] is None:
        account.broker_account_id = None
    credentials_changed = False
    if changes.get("credentials"):
        if account.broker == BrokerKind.PAPER:
            raise InvalidInput(
                "A paper account takes no credentials.", {"credentials": "not allowed for paper"}
            )
        stored = (
            decrypt_json(account.credentials_encrypted) if account.credentials_encrypted else {}
        )
        merged = _complete_tradovate_credentials({**stored, **changes["credentials"]})
        account.credentials_encrypted = encrypt_json(merged)
        credentials_changed = True
    if changes.get("starting_balance") is not None:
        if account.broker != BrokerKind.PAPER:
            raise InvalidInput(
                "Only paper accounts take a starting balance.",
                {"starting_balance": "not allowed for tradovate"},
            )
        account.starting_balance = changes["starting_balance"]
    diff = audit.changed_fields(before, account_summary(account))
    if credentials_changed:
        diff["credentials"] = ["(hidden)", "(changed)"]
    audit.record(
        AuditCategory.SYSTEM, f"account {account.name!r} updated", account_id=account.id, data=diff
    )
    db.session.commit()
    return account


def delete_account(account_id: int) -> None:
    """Delete an account that never traded; one with order history can only be disabled."""
    account = get_account(account_id)
    has_orders = db.session.scalar(select(exists().where(Order.account_id == account.id)))
    if has_orders:
        raise Conflict(
            f"Account {account.name!r} has order history and cannot be deleted; "
            "disable it instead.",
            code="account_in_use",
        )
    audit.record(AuditCategory.SYSTEM, f"account {account.name!r} deleted", account_id=account.id)
    db.session.delete(account)
    db.session.commit()


def account_summary(account: BrokerAccount) -> dict:
    """The audit-safe view of an account: no credentials."""
    return {
        "name": account.name,
        "environment": account.environment,
        "enabled": account.enabled,
        "broker_account_id": account.broker_account_id,
        "starting_balance": str(account.starting_balance)
        if account.starting_balance is not None
        else None,
    }


def seed_paper_account() -> BrokerAccount | None:
    """Give a fresh install one paper account so everything can be tried at once."""
    if db.session.scalar(select(BrokerAccount.id).limit(1)) is not None:
        return None
    return create_account({"name": "Paper", "broker": BrokerKind.PAPER})
