"""Traders: a strategy routed to an account, with its sizing and an on/off switch."""

import logging
from decimal import Decimal

from sqlalchemy import select

from app.domain.vocabulary import AuditCategory
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import BrokerAccount, Strategy, Trader
from app.services.records import audit

logger = logging.getLogger(__name__)


def list_traders(strategy_id: int | None = None, account_id: int | None = None) -> list[Trader]:
    query = select(Trader).order_by(Trader.id)
    if strategy_id is not None:
        query = query.where(Trader.strategy_id == strategy_id)
    if account_id is not None:
        query = query.where(Trader.account_id == account_id)
    return list(db.session.scalars(query))


def get_trader(trader_id: int) -> Trader:
    trader = db.session.get(Trader, trader_id)
    if trader is None:
        raise NotFound(f"No trader with id {trader_id}.")
    return trader


def _require(model: type, ident: int, field: str, noun: str) -> None:
    if db.session.get(model, ident) is None:
        raise NotFound(f"No {noun} with id {ident}.", {field: f"no {noun} with id {ident}"})


def _check_sizing(multiplier: Decimal | None, fixed: int | None) -> None:
    if multiplier is not None and fixed is not None:
        raise InvalidInput(
            "Give quantity_multiplier or fixed_quantity, not both.",
            {"fixed_quantity": "conflicts with quantity_multiplier"},
        )


def create_trader(data: dict) -> Trader:
    _require(Strategy, data["strategy_id"], "strategy_id", "strategy")
    _require(BrokerAccount, data["account_id"], "account_id", "account")
    _check_sizing(data.get("quantity_multiplier"), data.get("fixed_quantity"))
    duplicate = db.session.scalar(
        select(Trader.id).where(
            Trader.strategy_id == data["strategy_id"], Trader.account_id == data["account_id"]
        )
    )
    if duplicate is not None:
        raise Conflict(
            "This strategy already trades on this account.",
            {"account_id": f"already assigned (trader {duplicate})"},
        )
    trader = Trader(
        strategy_id=data["strategy_id"],
        account_id=data["account_id"],
        quantity_multiplier=data.get("quantity_multiplier") or Decimal(1),
        fixed_quantity=data.get("fixed_quantity"),
        enabled=data.get("enabled", True),
    )
    db.session.add(trader)
    db.session.flush()
    audit.record(
        AuditCategory.SYSTEM,
        f"trader {trader.id} created: strategy {trader.strategy.name!r} on account "
        f"{trader.account.name!r}",
        account_id=trader.account_id,
        strategy_id=trader.strategy_id,
        data=trader_summary(trader),
    )
    db.session.commit()
    return trader


def update_trader(trader_id: int, changes: dict) -> Trader:
    """Change sizing or the switch; setting one sizing mode clears the other."""
    trader = get_trader(trader_id)
    before = trader_summary(trader)
    _check_sizing(changes.get("quantity_multiplier"), changes.get("fixed_quantity"))
    if changes.get("fixed_quantity") is not None:
        trader.fixed_quantity = changes["fixed_quantity"]
        trader.quantity_multiplier = Decimal(1)
    elif "fixed_quantity" in changes:
        trader.fixed_quantity = None
    if changes.get("quantity_multiplier") is not None:
        trader.quantity_multiplier = changes["quantity_multiplier"]
        trader.fixed_quantity = None
    if changes.get("enabled") is not None:
        trader.enabled = changes["enabled"]
    audit.record(
        AuditCategory.SYSTEM,
        f"trader {trader.id} updated",
        account_id=trader.account_id,
        strategy_id=trader.strategy_id,
        data=audit.changed_fields(before, trader_summary(trader)),
    )
    db.session.commit()
    return trader


def delete_trader(trader_id: int) -> None:
    trader = get_trader(trader_id)
    audit.record(
        AuditCategory.SYSTEM,
        f"trader {trader.id} deleted",
        account_id=trader.account_id,
        strategy_id=trader.strategy_id,
    )
    db.session.delete(trader)
    db.session.commit()


def trader_summary(trader: Trader) -> dict:
    return {
        "quantity_multiplier": str(trader.quantity_multiplier),
        "fixed_quantity": trader.fixed_quantity,
        "enabled": trader.enabled,
    }
