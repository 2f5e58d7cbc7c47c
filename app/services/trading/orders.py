"""Placing, cancelling and changing orders at a broker: our intent rows and the calls.

Shared by the alert pipeline, the trader's manual orders and the protections. The rule
everywhere: the order row (with its client order id) is committed before the broker call,
and the broker's answer — or its refusal, with the reason — is recorded on the row after
it by the ledger (services.ledger.reports), the one writer of an order's broker state.
A refusal of the account itself (locked, liquidation-only) also halts it (lockouts).
"""

import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.brokers.base import BracketRequest, Broker, BrokerOrder, OrderRequest
from app.brokers.errors import AccountLocked, BrokerError, OrderRejected, UnknownOrder
from app.domain.break_even import BreakEvenSpec
from app.domain.contracts import Contract
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec
from app.domain.oco import exit_prices
from app.domain.targets import Target, split_position, target_prices
from app.domain.vocabulary import (
    AuditCategory,
    ExitReason,
    OrderRole,
    OrderStatus,
    OrderType,
    RejectCode,
    Severity,
    Side,
)
from app.extensions import db
from app.models import Order
from app.services.ledger import reports
from app.services.market import prices
from app.services.records import audit
from app.services.trading import lockouts

logger = logging.getLogger(__name__)

OPEN_STATUSES = (OrderStatus.WORKING, OrderStatus.PENDING)
EXIT_ROLES = (OrderRole.TAKE_PROFIT, OrderRole.STOP_LOSS)
# Refusals our own checks make (the rest are the broker's); audited as risk decisions.
RISK_CODES = (RejectCode.RISK, RejectCode.HALTED)


@dataclass(frozen=True)
class Attribution:
    """Who an order is for: the strategy, trader and alert behind it, if any."""

    strategy_id: int | None = None
    trader_id: int | None = None
    webhook_event_id: int | None = None


@dataclass(frozen=True)
class OrderIntent:
    """One order to send, with the exits to bracket it (offsets from the entry)."""

    account_id: int
    contract: Contract
    side: Side
    qty: int
    role: OrderRole
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    take_profit: ExitSpec | None = None
    stop_loss: ExitSpec | None = None
    reference_price: Decimal | None = None  # a market entry's expected fill, for exits
    break_even: BreakEvenSpec | None = None  # moves the stop once the trade works
    targets: tuple[Target, ...] | None = None  # scale-out take profits, instead of one
    cancel_after: datetime | None = None  # unfilled then, the order is cancelled (time exit)
    exit_reason: ExitReason | None = None  # what the round trip it closes ended by

    @property
    def wants_exits(self) -> bool:
        return self.role in (OrderRole.ENTRY, OrderRole.MANUAL) and bool(
            self.take_profit or self.stop_loss or self.targets
        )


def new_client_order_id() -> str:
    """Our id for a new order, sent to the broker with it."""
    return f"dp-{uuid.uuid4().hex[:20]}"


def new_row(intent: OrderIntent, attribution: Attribution, **overrides) -> Order:
    """The row of the order `intent` asks for, or (with a `role` override) of an exit built
    from it; the intent's deadline and exit reason are its own order's, never its exits'."""
    own = overrides.get("role", intent.role) is intent.role
    values = {
        "account_id": intent.account_id,
        "strategy_id": attribution.strategy_id,
        "trader_id": attribution.trader_id,
        "webhook_event_id": attribution.webhook_event_id,
        "client_order_id": new_client_order_id(),
        "symbol": intent.contract.code,
        "side": intent.side,
        "quantity": intent.qty,
        "order_type": intent.order_type,
        "limit_price": intent.limit_price,
        "stop_price": intent.stop_price,
        "role": intent.role,
        "status": OrderStatus.PENDING,
        "cancel_after": intent.cancel_after if own else None,
        "exit_reason": intent.exit_reason if own else None,
        **overrides,
    }
    return Order(**values)


def refuse(intent: OrderIntent, attribution: Attribution, code: RejectCode, reason: str) -> Order:
    """Record an order that was never sent, with why: `code` for code, `reason` for people.
    It failed when the broker could not be reached; anything else is our rejection."""
    status = OrderStatus.FAILED if code == RejectCode.BROKER_ERROR else OrderStatus.REJECTED
    row = new_row(intent, attribution, status=status, reject_code=code, reason=reason)
    db.session.add(row)
    db.session.flush()
    reports.announce([row])
    audit.record(
        AuditCategory.RISK if code in RISK_CODES else AuditCategory.ORDER,
        f"{intent.contract.code} {intent.side.value} {intent.qty} refused: {reason}",
        severity=Severity.WARNING,
        account_id=intent.account_id,
        strategy_id=attribution.strategy_id,
    )
    db.session.commit()
    return row


def _entry_prices(intent: OrderIntent) -> Decimal | None:
    if intent.order_type is OrderType.LIMIT:
        return intent.limit_price
    if intent.order_type is OrderType.STOP:
        return intent.stop_price
    if intent.order_type is OrderType.STOP_LIMIT:
        return intent.limit_price
    return intent.reference_price


def last_price(broker: Broker, symbol: str) -> Decimal | None:
    """The broker's own last price, else the last one DeskPilot heard (an alert's)."""
    found = broker.last_price(symbol)
    if found is None:
        quote = prices.last(symbol)
        found = quote.price if quote is not None else None
    return found


def exit_reference(broker: Broker, intent: OrderIntent) -> Decimal | None:
    """The price an entry's exits are set from until it fills: its limit (or stop) price,
    else the price it is expected to fill at, else the last price known."""
    return _entry_prices(intent) or last_price(broker, intent.contract.code)


def place(broker: Broker, intent: OrderIntent, attribution: Attribution) -> list[Order]:
    """Place an order (bracketed when it has exits); returns the rows, answers recorded."""
    if not intent.wants_exits:
        entry = new_row(intent, attribution)
        return _send(broker, [entry], lambda: [broker.place_order(request_of(entry))])
    reference = exit_reference(broker, intent)
    if reference is None:
        reason = f"price: no price known for {intent.contract.code} to set the exits from"
        return [refuse(intent, attribution, RejectCode.NO_PRICE, reason)]
    try:
        levels = exit_prices(
            intent.side,
            reference,
            intent.contract.spec.tick_size,
            intent.take_profit,
            intent.stop_loss,
        )
    except DomainValidationError as exc:
        return [
            refuse(intent, attribution, RejectCode.INVALID_EXITS, f"{exc.field}: {exc.message}")
        ]
    if intent.targets:
        problem = _targets_problem(broker, intent, reference)
        if problem:
            return [refuse(intent, attribution, RejectCode.INVALID_EXITS, problem)]
    group = f"g-{uuid.uuid4().hex[:16]}"
    entry = new_row(intent, attribution, group_id=group)
    exit_side = intent.side.opposite
    take_profit = stop_loss = None
    if levels.take_profit is not None:
        take_profit = new_row(
            intent,
            attribution,
            group_id=group,
            side=exit_side,
            order_type=OrderType.LIMIT,
            role=OrderRole.TAKE_PROFIT,
            limit_price=levels.take_profit,
            stop_price=None,
        )
    if levels.stop_loss is not None:
        stop_loss = new_row(
            intent,
            attribution,
            group_id=group,
            side=exit_side,
            order_type=OrderType.STOP,
            role=OrderRole.STOP_LOSS,
            limit_price=None,
            stop_price=levels.stop_loss,
        )
    rows = [row for row in (entry, take_profit, stop_loss) if row is not None]
    if take_profit is None and stop_loss is None:  # targets alone: the entry goes first
        rows = _send(broker, rows, lambda: [broker.place_order(request_of(entry))])
    else:
        bracket = BracketRequest(
            request_of(entry),
            request_of(take_profit) if take_profit else None,
            request_of(stop_loss) if stop_loss else None,
        )
        rows = _send(broker, rows, lambda: broker.place_bracket(bracket))
    if entry.status == OrderStatus.FILLED:
        _rebase_exits(broker, intent, entry, rows)
        if intent.targets:
            rows += _place_targets(broker, intent, attribution, entry, stop_loss)
    elif intent.targets and entry.status in OPEN_STATUSES:
        record_problem(
            entry,
            f"targets of order {entry.id} not placed: it had not filled when the broker "
            "answered; its stop covers the whole position",
        )
    return rows


def _targets_problem(broker: Broker, intent: OrderIntent, reference: Decimal) -> str | None:
    """Why scale-out targets cannot go with this order, before anything is sent."""
    if intent.stop_loss and not (broker.reduce_only_exits or broker.native_oco):
        return (
            "take_profit: scale-out targets beside a stop are not followed at this broker (it "
            "neither cuts its exits to the position nor links two orders as OCO)"
        )
    split = split_position(intent.qty, intent.targets)
    try:
        target_prices(intent.side, reference, intent.contract.spec.tick_size, split.legs)
    except DomainValidationError as exc:
        return f"{exc.field}: {exc.message}"
    return None


def _place_targets(
    broker: Broker,
    intent: OrderIntent,
    attribution: Attribution,
    entry: Order,
    stop: Order | None,
) -> list[Order]:
    """One take-profit limit per target, sized in whole contracts of what the entry filled
    and priced from its fill, beside the bracket's stop (`place_targets`). A target merged
    into the next says so in that target's reason."""
    split = split_position(entry.filled_quantity, intent.targets)
    tick = intent.contract.spec.tick_size
    try:
        levels = target_prices(intent.side, entry.avg_fill_price, tick, split.legs)
    except DomainValidationError as exc:
        record_problem(entry, f"targets of order {entry.id} not placed: {exc.field}: {exc.message}")
        return []
    targets: list[Order] = []
    notes = list(split.merged)
    for leg, level in zip(split.legs, levels, strict=True):
        row = new_row(
            intent,
            attribution,
            group_id=entry.group_id,
            side=intent.side.opposite,
            quantity=leg.qty,
            order_type=OrderType.LIMIT,
            role=OrderRole.TAKE_PROFIT,
            limit_price=level,
            stop_price=None,
            reason="; ".join(notes) or None,
        )
        notes = []
        targets.append(row)
    working_stop = stop if stop is not None and stop.status in OPEN_STATUSES else None
    return place_targets(broker, targets, working_stop)


def place_targets(broker: Broker, targets: list[Order], stop: Order | None) -> list[Order]:
    """Place scale-out take profits beside the position's one working stop (if any) so that
    the broker never holds more exit contracts than the position, whichever fills first.

    A venue that cuts reduce-only exits to the position itself takes the targets as they
    are, outside the stop's OCO: the stop shrinks as each fills. Elsewhere (Tradovate) a
    stop resized only after DeskPilot hears of a fill would, in between, hold more than the
    position; so each target goes as a native OCO pair with a stop of its own size at the
    stop's price — its fill cancels its share of the stop at the broker, a stop fill
    cancels its target — and the whole stop is cancelled once every pair works. The
    position is protected throughout (covered twice only during those calls). A pair the
    broker refuses undoes the pairs: the whole stop stays, and the audit log says why.
    Returns the rows placed (the whole stop, when replaced, is not among them)."""
    if stop is None or broker.reduce_only_exits:
        return [place_row(broker, row, linked=False) for row in targets]
    placed: list[Order] = []
    for number, target in enumerate(targets, start=1):
        share = _stop_share(stop, target.quantity)
        target.group_id = share.group_id = f"{stop.group_id or stop.client_order_id}-t{number}"
        placed += place_oco_rows(broker, target, share)
        refused = next((row for row in placed if row.status not in OPEN_STATUSES), None)
        if refused is not None:
            for row in placed:  # a failed call may still have placed its order: ask
                if row.status in (*OPEN_STATUSES, OrderStatus.FAILED):
                    with suppress(BrokerError):  # audited by cancel
                        cancel(broker, row, "its target pair was not placed whole")
            record_problem(
                stop,
                f"targets not placed: the broker refused order {refused.id} ({refused.reason}); "
                f"stop {stop.id} still covers the whole position",
            )
            return placed
    # A refusal is audited by cancel as an error: the broker then holds more stop than the
    # position, which the trader must see; the pairs stay, each closing only its share.
    with suppress(BrokerError):
        cancel(broker, stop, "replaced by one stop per target, each OCO with its target")
    return placed


def _stop_share(stop: Order, qty: int) -> Order:
    """A new stop row like `stop`, for `qty` contracts of it."""
    return Order(
        account_id=stop.account_id,
        strategy_id=stop.strategy_id,
        trader_id=stop.trader_id,
        webhook_event_id=stop.webhook_event_id,
        client_order_id=new_client_order_id(),
        symbol=stop.symbol,
        side=stop.side,
        quantity=qty,
        order_type=stop.order_type,
        limit_price=stop.limit_price,
        stop_price=stop.stop_price,
        role=stop.role,
        status=OrderStatus.PENDING,
        filled_quantity=0,
    )


def _send(broker: Broker, rows: list[Order], call) -> list[Order]:
    db.session.add_all(rows)
    db.session.commit()
    try:
        answers = call()
    except AccountLocked as exc:
        reports.mark_refused(rows, OrderStatus.REJECTED, exc.message, RejectCode.BROKER_LOCKED)
        lockouts.account_locked(rows[0].account_id, exc)
        return rows
    except OrderRejected as exc:
        reports.mark_refused(rows, OrderStatus.REJECTED, exc.message)
        return rows
    except BrokerError as exc:
        reports.mark_refused(rows, OrderStatus.FAILED, exc.message)
        return rows
    reports.record_answers(rows, answers)
    return rows


def place_row(broker: Broker, row: Order, *, linked: bool = True) -> Order:
    """Commit `row` (and whatever the session holds), place it alone, record the answer.
    An exit that is not `linked` stays out of its group's OCO (a scale-out target)."""
    request = request_of(row) if linked else replace(request_of(row), oco_group=None)
    return _send(broker, [row], lambda: [broker.place_order(request)])[0]


def place_oco_rows(broker: Broker, first: Order, second: Order) -> list[Order]:
    """Commit two exit rows in one group, place them as an OCO pair at the broker, record
    the answers."""
    group = first.group_id or second.group_id or f"oco-{first.client_order_id}"
    first.group_id = second.group_id = group
    return _send(
        broker, [first, second], lambda: broker.place_oco(request_of(first), request_of(second))
    )


def request_of(order: Order) -> OrderRequest:
    """The broker's request for a row: exits (take profit, stop loss) only reduce the
    position and cancel the other orders of their group when they fill."""
    exit_ = order.role in EXIT_ROLES
    return OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.quantity,
        order_type=OrderType(order.order_type),
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        reduce_only=exit_,
        oco_group=order.group_id if exit_ else None,
        expires_at=order.cancel_after,
    )


def _rebase_exits(broker: Broker, intent: OrderIntent, entry: Order, rows: list[Order]) -> None:
    """Offsets count from the entry's fill (DESIGN §5.2): move exits set from a quote."""
    if entry.avg_fill_price is None:
        return
    try:
        levels = exit_prices(
            intent.side,
            entry.avg_fill_price,
            intent.contract.spec.tick_size,
            intent.take_profit,
            intent.stop_loss,
        )
    except DomainValidationError as exc:
        logger.warning("exits stay where placed: %s", exc)
        return
    for row in rows[1:]:
        if row.status not in OPEN_STATUSES:
            continue
        if row.role == OrderRole.TAKE_PROFIT and levels.take_profit not in (None, row.limit_price):
            modify(broker, row, limit_price=levels.take_profit)
        elif row.role == OrderRole.STOP_LOSS and levels.stop_loss not in (None, row.stop_price):
            modify(broker, row, stop_price=levels.stop_loss)


def record_problem(row: Order, message: str, severity: Severity = Severity.WARNING) -> None:
    """Audit what went wrong with an order (for its account and strategy) and commit."""
    audit.record(
        AuditCategory.ORDER,
        message,
        severity=severity,
        account_id=row.account_id,
        strategy_id=row.strategy_id,
    )
    db.session.commit()


def modify(broker: Broker, row: Order, **changes) -> bool:
    """Change a working order at the broker; False (and an audit entry) when refused."""
    try:
        answer = broker.modify_order(row.client_order_id, **changes)
    except BrokerError as exc:
        record_problem(row, f"could not modify {row.role} order {row.id}: {exc.message}")
        return False
    reports.record_answers([row], [answer])
    return True


def modify_stops(
    broker: Broker, rows: list[Order], stop_prices: list[Decimal]
) -> list[BrokerError | None]:
    """Move several working stops of one account in one broker call (`modify` for many):
    the answers recorded together, each refusal audited; returns each row's error or None."""
    changes = [(row.client_order_id, price) for row, price in zip(rows, stop_prices, strict=True)]
    try:
        answers = broker.modify_stops(changes)
    except BrokerError as exc:
        answers = [exc] * len(rows)
    moved = [(row, a) for row, a in zip(rows, answers, strict=True) if isinstance(a, BrokerOrder)]
    errors: list[BrokerError | None] = []
    for row, answer in zip(rows, answers, strict=True):
        if isinstance(answer, BrokerOrder):
            errors.append(None)
            continue
        error = answer if isinstance(answer, BrokerError) else BrokerError(str(answer))
        errors.append(error)
        audit.record(
            AuditCategory.ORDER,
            f"could not modify {row.role} order {row.id}: {error.message}",
            severity=Severity.WARNING,
            account_id=row.account_id,
            strategy_id=row.strategy_id,
        )
    if moved:
        reports.record_answers([row for row, _ in moved], [answer for _, answer in moved])
    else:
        db.session.commit()
    return errors


def cancel(broker: Broker, row: Order, reason: str) -> Order:
    """Cancel a working order; an order the broker no longer works is left as recorded."""
    try:
        answer = broker.cancel_order(row.client_order_id)
    except UnknownOrder:
        db.session.refresh(row)
        return row
    except BrokerError as exc:
        record_problem(row, f"cancel of order {row.id} failed: {exc.message}", Severity.ERROR)
        raise
    reports.record_answers([row], [answer])
    if row.reason is None and row.status == OrderStatus.CANCELLED:
        row.reason = reason
        db.session.commit()
    return row


def working_rows(
    account_id: int, symbol: str, roles: tuple[OrderRole, ...], strategy_id: int | None = None
) -> list[Order]:
    query = select(Order).where(
        Order.account_id == account_id,
        Order.symbol == symbol,
        Order.role.in_(roles),
        Order.status.in_(OPEN_STATUSES),
    )
    if strategy_id is not None:
        query = query.where(Order.strategy_id == strategy_id)
    return list(db.session.scalars(query.order_by(Order.id)))


def cancel_orphaned_exits(broker: Broker, account_id: int, symbol: str, keep_group: str | None):
    """Exits of a position that is now flat or reversed must not stay working.

    Called after an order was sent and recorded, so a position that cannot be read now
    (a lockout, a timeout) must not fail the caller: the alert is concluded all the same,
    and the exits left as they are are audited for the trader to look at."""
    try:
        after = {p.symbol: p.qty for p in broker.positions()}.get(symbol, 0)
    except BrokerError as exc:
        audit.record(
            AuditCategory.ORDER,
            f"{symbol}: the position could not be read after the order ({exc.message}), so "
            "exits a flat or reversed position left working were not cancelled: check the "
            "working orders at the broker",
            severity=Severity.WARNING,
            account_id=account_id,
        )
        db.session.commit()
        return
    for row in working_rows(account_id, symbol, (OrderRole.TAKE_PROFIT, OrderRole.STOP_LOSS)):
        if keep_group is not None and row.group_id == keep_group:
            continue
        closes_current = after != 0 and (row.side == Side.SELL) == (after > 0)
        if not closes_current:
            try:
                cancel(broker, row, "position closed or reversed")
            except BrokerError:
                continue
