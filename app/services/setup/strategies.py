"""Strategies: what a TradingView alert addresses, reached by a secret webhook token."""

import hashlib
import hmac
import json
import logging
import secrets

from sqlalchemy import exists, select

from app.domain.numbers import shown
from app.domain.vocabulary import AuditCategory, StrategyMode
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Order, Strategy
from app.services.records import audit
from app.services.setup.crypto import SecretUnreadable, decrypt_text, encrypt_text

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="  # X-Signature: sha256=<hex>, as GitHub's webhooks sign

SETTABLE = (
    "name",
    "symbol",
    "quantity",
    "order_type",
    "take_profit",
    "stop_loss",
    "trailing_stop",
    "break_even",
    "max_alert_age_seconds",
    "mode",
    "enabled",
    "require_approval",
    "trade_symbol",
    "quantity_ratio",
    "entry_timeout_seconds",
    "exit_after_minutes",
    "expect_alert_every_minutes",
    "description",
)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def list_strategies() -> list[Strategy]:
    return list(db.session.scalars(select(Strategy).order_by(Strategy.name)))


def get_strategy(strategy_id: int) -> Strategy:
    strategy = db.session.get(Strategy, strategy_id)
    if strategy is None:
        raise NotFound(f"No strategy with id {strategy_id}.")
    return strategy


def strategy_for_token(token: str) -> Strategy | None:
    """Find a strategy by webhook token; the lookup is by hash, so its timing leaks nothing."""
    return db.session.scalar(
        select(Strategy).where(Strategy.webhook_token_hash == token_digest(token))
    )


def webhook_token(strategy: Strategy) -> str:
    return decrypt_text(strategy.webhook_token_encrypted)


def passphrase_matches(strategy: Strategy, given: str | None) -> bool:
    """True when the strategy needs no passphrase or `given` is it (constant-time). One this
    ENCRYPTION_KEY cannot read refuses every alert, as a wrong one does."""
    if strategy.passphrase_encrypted is None:
        return True
    try:
        expected = decrypt_text(strategy.passphrase_encrypted).encode()
    except SecretUnreadable:
        logger.error("passphrase of strategy %s is unreadable; alerts refused", strategy.id)
        return False
    # surrogatepass: JSON may carry a lone surrogate ("\ud800"), which is simply wrong.
    return given is not None and hmac.compare_digest(
        expected, given.encode("utf-8", "surrogatepass")
    )


def signature_matches(strategy: Strategy, raw: bytes, header: str | None) -> bool:
    """True when the strategy has no signing secret, or `header` is ``sha256=<hex>`` of the
    HMAC-SHA256 of the raw body bytes under it (DESIGN §5.2), compared in constant time.
    A secret this ENCRYPTION_KEY cannot read refuses every alert: unsigned would fail open."""
    if strategy.signing_secret_encrypted is None:
        return True
    try:
        secret = decrypt_text(strategy.signing_secret_encrypted)
    except SecretUnreadable:
        logger.error("signing secret of strategy %s is unreadable; alerts refused", strategy.id)
        return False
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    given = (header or "").strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given)


def _ensure_unique_name(name: str, exclude_id: int | None = None) -> None:
    query = select(Strategy.id).where(Strategy.name == name)
    if exclude_id is not None:
        query = query.where(Strategy.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A strategy named {name!r} already exists.", {"name": "is taken"})


def _set_token(strategy: Strategy) -> None:
    token = _new_token()
    strategy.webhook_token_hash = token_digest(token)
    strategy.webhook_token_encrypted = encrypt_text(token)


def create_strategy(data: dict) -> Strategy:
    """Create a strategy with a fresh webhook token."""
    _ensure_unique_name(data["name"])
    strategy = Strategy()
    for field in SETTABLE:
        if data.get(field) is not None:
            setattr(strategy, field, data[field])
    if data.get("passphrase"):
        strategy.passphrase_encrypted = encrypt_text(data["passphrase"])
    _set_token(strategy)
    db.session.add(strategy)
    db.session.flush()
    audit.record(
        AuditCategory.SYSTEM,
        f"strategy {strategy.name!r} created",
        strategy_id=strategy.id,
        data=strategy_summary(strategy),
    )
    db.session.commit()
    return strategy


def update_strategy(strategy_id: int, changes: dict) -> Strategy:
    """Change a strategy; a null clears an optional field, an empty passphrase removes it."""
    strategy = get_strategy(strategy_id)
    before = strategy_summary(strategy)
    if "name" in changes and changes["name"] != strategy.name:
        _ensure_unique_name(changes["name"], exclude_id=strategy.id)
    for field in SETTABLE:
        if field not in changes:
            continue
        value = changes[field]
        if value is None and field in _REQUIRED_DEFAULTS:
            value = _REQUIRED_DEFAULTS[field]
        setattr(strategy, field, value)
    if "passphrase" in changes:
        passphrase = changes["passphrase"]
        strategy.passphrase_encrypted = encrypt_text(passphrase) if passphrase else None
    diff = audit.changed_fields(before, strategy_summary(strategy))
    audit.record(
        AuditCategory.SYSTEM,
        f"strategy {strategy.name!r} updated",
        strategy_id=strategy.id,
        data=diff,
    )
    db.session.commit()
    return strategy


_REQUIRED_DEFAULTS = {
    "quantity": 1,
    "order_type": "market",
    "max_alert_age_seconds": 60,
    "mode": StrategyMode.ORDERS,
    "enabled": True,
    "require_approval": False,
}


def rotate_token(strategy_id: int) -> Strategy:
    """Replace the webhook token; alerts sent to the old URL are refused from now on."""
    strategy = get_strategy(strategy_id)
    _set_token(strategy)
    audit.record(
        AuditCategory.SYSTEM,
        f"webhook token of strategy {strategy.name!r} rotated",
        strategy_id=strategy.id,
    )
    db.session.commit()
    return strategy


def set_signing_secret(strategy_id: int) -> tuple[Strategy, str]:
    """Create or replace the strategy's signing secret; the caller shows it this once. From
    now on its alerts must carry X-Signature, and the old secret's signatures fail."""
    strategy = get_strategy(strategy_id)
    rotated = strategy.signing_secret_encrypted is not None
    secret = secrets.token_urlsafe(32)
    strategy.signing_secret_encrypted = encrypt_text(secret)
    audit.record(
        AuditCategory.SYSTEM,
        f"signing secret of strategy {strategy.name!r} {'rotated' if rotated else 'created'}",
        strategy_id=strategy.id,
    )
    db.session.commit()
    return strategy, secret


def remove_signing_secret(strategy_id: int) -> Strategy:
    """Stop requiring signatures: the strategy accepts unsigned alerts again."""
    strategy = get_strategy(strategy_id)
    if strategy.signing_secret_encrypted is not None:
        strategy.signing_secret_encrypted = None
        audit.record(
            AuditCategory.SYSTEM,
            f"signing secret of strategy {strategy.name!r} removed",
            strategy_id=strategy.id,
        )
        db.session.commit()
    return strategy


def delete_strategy(strategy_id: int) -> None:
    """Delete a strategy that never placed an order (its alert log goes with it)."""
    strategy = get_strategy(strategy_id)
    has_orders = db.session.scalar(select(exists().where(Order.strategy_id == strategy.id)))
    if has_orders:
        raise Conflict(
            f"Strategy {strategy.name!r} has placed orders and cannot be deleted; "
            "disable it instead.",
            code="strategy_in_use",
        )
    audit.record(
        AuditCategory.SYSTEM, f"strategy {strategy.name!r} deleted", strategy_id=strategy.id
    )
    db.session.delete(strategy)
    db.session.commit()


def strategy_summary(strategy: Strategy) -> dict:
    """The audit-safe view of a strategy: no token, no passphrase."""
    summary = {field: getattr(strategy, field) for field in SETTABLE}
    if strategy.quantity_ratio is not None:  # the audit's JSON holds decimals as text
        summary["quantity_ratio"] = shown(strategy.quantity_ratio)
    summary["has_passphrase"] = strategy.passphrase_encrypted is not None
    summary["signed"] = strategy.signing_secret_encrypted is not None
    return summary


def example_alert_message(strategy: Strategy) -> str:
    """A TradingView alert message ready to paste, using TradingView's placeholders."""
    message: dict = {}
    if strategy.passphrase_encrypted:
        message["passphrase"] = "<your passphrase>"  # nosec B105 # a placeholder shown
    if strategy.mode == StrategyMode.POSITION_SYNC:
        message["market_position"] = "{{strategy.market_position}}"
        message["position_size"] = "{{strategy.position_size}}"
    else:
        message["action"] = "{{strategy.order.action}}"
        message["quantity"] = "{{strategy.order.contracts}}"
    message["symbol"] = "{{ticker}}"
    message["price"] = "{{close}}"
    message["time"] = "{{timenow}}"
    return json.dumps(message, indent=2)
