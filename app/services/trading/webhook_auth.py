"""Who may send an alert (DESIGN §5.2): the source address, the token, the signature and
the passphrase. Every refusal is the same 401 with the same words, so a caller learns
nothing about which check failed — not even whether the token exists; the audit log
tells the owner which one it was."""

import ipaddress
import logging
from typing import NoReturn

from flask import current_app

from app.domain.addresses import Network, address_in, parse_network
from app.domain.errors import DomainValidationError
from app.domain.vocabulary import AuditCategory, Severity
from app.errors import Unauthorized
from app.extensions import db
from app.models import Strategy
from app.services.records import audit
from app.services.setup.auth import owner
from app.services.setup.strategies import (
    passphrase_matches,
    signature_matches,
    strategy_for_token,
)

logger = logging.getLogger(__name__)

REFUSED = "The alert was not accepted: check its webhook URL, passphrase, signature and source."

# TradingView's published webhook senders (TRADINGVIEW_IP_ALLOWLIST=on).
TRADINGVIEW_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(a)
    for a in ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
)


def check_source(address: str | None) -> None:
    """Refuse an address outside the allowlist, when there is one: TradingView's addresses
    with TRADINGVIEW_IP_ALLOWLIST on, plus the owner's `webhook_allowlist`. A non-empty
    list of the owner's is enforced with the switch off too: "only these addresses" must
    mean it, and TradingView's are one switch away."""
    user = owner()
    entries = list(user.webhook_allowlist or []) if user is not None else []
    networks = _parsed(entries)
    if current_app.config["TRADINGVIEW_IP_ALLOWLIST"]:
        networks.extend(TRADINGVIEW_NETWORKS)
    elif not entries:
        return
    if not address_in(address, networks):
        _refuse("webhook refused: source address not in the allowlist", address)


def authenticate(
    token: str, raw: bytes, passphrase: str | None, signature: str | None, source_ip: str | None
) -> Strategy:
    """The strategy the token names, once its signature (over the raw body bytes) and its
    passphrase check out. An unknown token costs one indexed hash lookup, a known one a
    decryption more: nothing as slow as bcrypt that would tell them apart by time."""
    strategy = strategy_for_token(token)
    if strategy is None:
        _refuse("webhook refused: unknown token", source_ip)
    if not signature_matches(strategy, raw, signature):
        _refuse(
            f"webhook for strategy {strategy.name!r} refused: missing or wrong signature",
            source_ip,
            strategy.id,
        )
    if not passphrase_matches(strategy, passphrase):
        _refuse(
            f"webhook for strategy {strategy.name!r} refused: wrong passphrase",
            source_ip,
            strategy.id,
        )
    return strategy


def _parsed(entries: list) -> list[Network]:
    """The owner's ranges; an entry that no longer parses (the API stores only valid ones)
    matches nothing but still keeps the list enforced."""
    networks = []
    for text in entries:
        try:
            networks.append(parse_network(text))
        except DomainValidationError:
            logger.warning("webhook allowlist entry %r is not a range; ignored", text)
    return networks


def _refuse(message: str, source_ip: str | None, strategy_id: int | None = None) -> NoReturn:
    audit.record(
        AuditCategory.SIGNAL,
        message,
        severity=Severity.WARNING,
        data={"source_ip": source_ip},
        strategy_id=strategy_id,
        actor="webhook",
    )
    db.session.commit()
    raise Unauthorized(REFUSED)
