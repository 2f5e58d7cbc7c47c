"""The trader's own orders from the control center and the API: place, cancel, close.

Manual orders pass the same risk checks as alerts, with one difference: an order that
only reduces a position is always allowed, even on a halted account or while the kill
switch is engaged — the trader must be able to get out by hand.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain import exit_preview
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.errors import DomainValidationError
from app.domain.exit_preview import ExitPreview
from app.domain.exits import TrailingSpec
from app.domain.risk import ProposedOrder, check_order, reduces_only
from app.domain.vocabulary import (
    AuditCategory,
    OrderRole,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from app.errors import AppError, Conflict, InvalidInput, Locked, NotFound, Unprocessable
from app.extensions import db
from app.models import BrokerAccount, Order, Position
from app.services.records import audit
from app.services.setup.access import broker_for
from app.services.setup.accounts import get_account
from app.services.trading import gate, orders, protections
from app.services.trading.closing import close_at_market
from app.services.trading.locks import account_lock
from app.services.trading.orders import Attribution, OrderIntent
from app.services.trading.risk_limits import limits_for, measure_exposure, policy_of

logger = logging.getLogger(__name__)


def preview_exits(data: dict, now: datetime) -> tuple[str, ExitPreview]:
    """The symbol, and the prices the order's exits (take profit or targets, stop loss,
    trailing stop, break-even) would have, from its limit (or stop) price or the live
    price; an illogical exit is refused naming its field. Nothing is sent or stored."""
    account, intent = _intent(data, now)
    broker = broker_for(account)
    broker.subscribe_quotes(intent.contract.code)  # the price the ticket's order will meet
    return intent.contract.code, _preview(broker, intent, data.get("trailing_stop"))


def _preview(broker: Broker, intent: OrderIntent, trailing: TrailingSpec | None) -> ExitPreview:
    reference = orders.exit_reference(broker, intent)
    if reference is None:
        message = f"no price known for {intent.contract.code} yet"
        raise Unprocessable(message, {"symbol": message}, code="no_price")
    try:
        return exit_preview.preview_exits(
            intent.side,
            reference,
            intent.contract.spec.tick_size,
            intent.qty,
            take_profit=intent.take_profit,
            stop_loss=intent.stop_loss,
            targets=intent.targets,
            trailing=trailing,
            break_even=intent.break_even,
            market=intent.order_type is OrderType.MARKET,
        )
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", {exc.field: exc.message}) from None


def _intent(data: dict, now: datetime) -> tuple[BrokerAccount, OrderIntent]:
    """The account (enabled) and the trader's order as an intent, its symbol resolved."""
    account = get_account(data["account_id"])
    if not account.enabled:
        raise Conflict(f"Account {account.name!r} is disabled.", code="account_disabled")
    try:
        contract = resolve_symbol(data["symbol"], now.date())
    except UnknownSymbol as exc:
        raise Unprocessable(exc.message, {"symbol": exc.message}, code="unknown_symbol") from None
    if contract.is_expired(now.date()):
        raise Unprocessable(f"{contract.code} has expired.", code="unknown_symbol")
    intent = OrderIntent(
        account_id=account.id,
        contract=contract,
        side=Side(data["side"]),
        qty=data["qty"],
        role=OrderRole.MANUAL,
        order_type=OrderType(data.get("order_type", OrderType.MARKET)),
        limit_price=data.get("limit_price"),
        stop_price=data.get("stop_price"),
        take_profit=data.get("take_profit"),
        stop_loss=data.get("stop_loss"),
        targets=data.get("targets"),
        break_even=data.get("break_even"),
    )
    try:
        exit_preview.check_rules(
            market=intent.order_type is OrderType.MARKET,
            stop_loss=intent.stop_loss is not None,
            trailing=data.get("trailing_stop"),
            targets=bool(intent.targets),
            break_even=intent.break_even,
        )
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", {exc.field: exc.message}) from None
    return account, intent


def place_manual_order(data: dict, now: datetime) -> list[Order]:
    """Place the trader's order (bracketed when exits are given); rows are returned."""
    account, intent = _intent(data, now)
    contract, side, qty = intent.contract, intent.side, intent.qty
    with account_lock(account.id):
        try:
            broker = broker_for(account)
            broker.subscribe_quotes(contract.code)
            held = {p.symbol: p.qty for p in broker.positions()}
        except BrokerError as exc:
            reason = (
                "nothing was sent, because DeskPilot could not read the position from the "
                f"broker: {exc.message}"
            )
            return [orders.refuse(intent, Attribution(), RejectCode.BROKER_ERROR, reason)]
        if intent.targets or intent.break_even:  # their prices checked before any order
            _preview(broker, intent, data.get("trailing_stop"))
        signed = qty if side is Side.BUY else -qty
        proposed = ProposedOrder(contract.code, signed)
        if not reduces_only(proposed, held.get(contract.code, 0)):
            if gate.kill_switch_engaged():
                reason = "kill switch engaged: no new exposure"
                orders.refuse(intent, Attribution(), RejectCode.KILL_SWITCH, reason)
                raise Locked(
                    "The kill switch is engaged: only orders that reduce a position are "
                    "accepted until it is re-armed.",
                    code="halted",
                )
            policy = policy_of(limits_for(account.id))
            exposure = measure_exposure(
                account.id,
                policy,
                held,
                lambda: broker.account_state().unrealized_pnl,
                now,
                contract.code,
            )
            problems = check_order(policy, exposure, proposed, now)
            if problems:
                code = RejectCode.HALTED if policy.halted else RejectCode.RISK
                row = orders.refuse(intent, Attribution(), code, "risk: " + "; ".join(problems))
                raise Unprocessable(row.reason, {"account_id": row.reason}, code="risk_rejected")
        trailing = data.get("trailing_stop")
        if trailing is not None and reduces_only(proposed, held.get(contract.code, 0)):
            message = "only an order that opens or adds to a position can carry one"
            raise InvalidInput(f"trailing_stop: {message}.", {"trailing_stop": message})
        placed = orders.place(broker, intent, Attribution())
        if trailing is not None:
            placed += protections.trail_entry(broker, placed[0], trailing, now, intent.break_even)
        elif intent.break_even is not None:
            protections.break_even_for_bracket(broker, placed, intent.break_even, now)
        return placed


def get_order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(f"No order with id {order_id}.")
    return order


def cancel_order(order_id: int) -> Order:
    order = get_order(order_id)
    if order.status not in orders.OPEN_STATUSES:
        raise Conflict(
            f"Order {order_id} is {order.status}; only working orders can be cancelled.",
            code="order_not_working",
        )
    broker = broker_for(order.account)
    try:
        return orders.cancel(broker, order, "cancelled by the trader")
    except BrokerError as exc:
        raise Conflict(
            f"The broker did not cancel order {order_id}: {exc.message}", code="cancel_failed"
        ) from None


def get_position(position_id: int) -> Position:
    position = db.session.get(Position, position_id)
    if position is None:
        raise NotFound(f"No position with id {position_id}.")
    return position


def close_position(position_id: int, now: datetime) -> Order:
    """Flatten one position at the market and withdraw its exits."""
    position = get_position(position_id)
    if position.quantity == 0:
        raise Conflict(f"Position {position_id} is already flat.", code="position_flat")
    account = get_account(position.account_id)
    try:
        # the trade it closes is recorded as a manual exit
        closed = close_at_market(
            account, position.symbol, OrderRole.MANUAL, Attribution(position.strategy_id), now
        )
    except BrokerError as exc:
        raise Conflict(
            f"The broker could not be asked for the position: {exc.message}",
            code="broker_error",
        ) from None
    if closed.order is None:
        raise Conflict(f"The broker shows no {position.symbol} position.", code="position_flat")
    audit.record(
        AuditCategory.ORDER,
        f"position {position.symbol} {closed.held:+d} closed by the trader: "
        f"order {closed.order.status}",
        account_id=account.id,
    )
    db.session.commit()
    return closed.order


@dataclass(frozen=True)
class CloseResult:
    """One position of a bulk close: its closing order, or why it was not closed."""

    position_id: int
    order: Order | None = None
    error: AppError | None = None


def close_positions(position_ids: list[int], now: datetime) -> list[CloseResult]:
    """Close each position in turn; one that cannot be closed does not stop the others."""
    results = []
    for position_id in dict.fromkeys(position_ids):
        try:
            results.append(CloseResult(position_id, order=close_position(position_id, now)))
        except AppError as exc:
            db.session.rollback()
            results.append(CloseResult(position_id, error=exc))
        except BrokerError as exc:
            db.session.rollback()
            results.append(
                CloseResult(position_id, error=Conflict(exc.message, code="broker_error"))
            )
    return results


def list_orders(account_id: int | None, status: str | None, limit: int, before_id: int | None):
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(Order.account_id == account_id)
    if status:
        if status not in {s.value for s in OrderStatus}:
            raise InvalidInput("Unknown order status.", {"status": "is not an order status"})
        query = query.where(Order.status == status)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list(db.session.scalars(query))
