"""Alert → orders, DESIGN §4 step by step: authenticate, store, refuse what is stale or
unsafe, then for each trader size, check risk, record the order, call the broker.

Safety rests on three facts. The webhook event is committed before any broker call, and
its idempotency key is unique per strategy, so a resent alert finds its twin and places
nothing. Every order row (with our client order id) is committed before its broker call,
so a crash leaves a trace, never an unknown order. Every refusal is stored with its reason.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain.break_even import parse_break_even
from app.domain.contracts import Contract, UnknownSymbol, resolve_symbol
from app.domain.exits import parse_exit, parse_trailing
from app.domain.risk import ProposedOrder, check_order, reduces_only
from app.domain.signals import (
    Signal,
    SignalAction,
    SignalDefaults,
    SignalError,
    parse_signal,
    read_passphrase,
)
from app.domain.sizing import (
    Intent,
    Sizing,
    governing_intent,
    stated_change,
    target_position,
)
from app.domain.symbol_mapping import SymbolMapping, map_signal
from app.domain.targets import parse_targets
from app.domain.vocabulary import (
    AuditCategory,
    EventStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    RejectCode,
    Severity,
    Side,
    StrategyMode,
)
from app.errors import AppError, Conflict, InvalidInput, Locked, Unprocessable
from app.extensions import db
from app.models import Approval, BrokerAccount, Order, Strategy, Trader, WebhookEvent
from app.models.base import utcnow
from app.services.market import prices
from app.services.records import alert_log, audit, events
from app.services.setup.access import broker_for
from app.services.trading import gate, orders, protections, webhook_auth
from app.services.trading.locks import account_lock
from app.services.trading.orders import Attribution, OrderIntent
from app.services.trading.risk_limits import limits_for, measure_exposure, policy_of
from app.services.trading.risk_sizing import apply_risk_mode

logger = logging.getLogger(__name__)

RAW_BODY_CAP = 16_384
PRUNE_EVERY = 100  # alerts between trims of a strategy's log to its newest 1000
ACCEPTED = {OrderStatus.WORKING, OrderStatus.FILLED, OrderStatus.PENDING}


@dataclass
class Stopwatch:
    """Milliseconds per stage, stored on the event for the alerts page."""

    started: float = field(default_factory=time.perf_counter)
    last: float = 0.0
    stages: dict = field(default_factory=dict)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = round((now - (self.last or self.started)) * 1000, 3)
        self.last = now

    def total(self) -> dict:
        return {**self.stages, "total": round((time.perf_counter() - self.started) * 1000, 3)}


@dataclass
class AlertResult:
    status: str
    event_id: int
    orders: list[dict]
    reason: str | None = None  # the event's: what failed or was skipped, and why
    approval: dict | None = None  # a held alert's approval: id and expiry

    def to_json(self) -> dict:
        answer = {
            "status": self.status,
            "event_id": self.event_id,
            "orders": self.orders,
            "reason": self.reason,
        }
        if self.approval is not None:
            answer["approval"] = self.approval
        return answer


@dataclass
class TraderOutcome:
    """What happened for one trader: orders made, or why none were."""

    account_id: int
    orders: list[Order] = field(default_factory=list)
    refusal: str | None = None  # risk refused (nothing sent)
    halted: bool = False
    skipped: str | None = None  # nothing to do (already at target)
    failure: str | None = None  # nothing sent, and no order the alert alone states

    @property
    def accepted(self) -> bool:
        return any(o.status in ACCEPTED for o in self.orders)


def receive_alert(
    token: str,
    raw: bytes,
    content_type: str | None,
    source_ip: str | None,
    now: datetime,
    signature: str | None = None,
) -> AlertResult:
    """Turn one webhook call (its raw body and X-Signature) into orders; refusals raise
    AppError subclasses (4xx)."""
    watch = Stopwatch()
    body = _text(raw)
    strategy = webhook_auth.authenticate(token, raw, read_passphrase(body), signature, source_ip)
    watch.lap("auth")
    arrival = Arrival(strategy, body, content_type, source_ip, now)
    try:
        defaults = _defaults(strategy)
        signal = map_signal(
            parse_signal(body, defaults, now), _mapping(strategy), defaults.max_quantity
        )
    except SignalError as exc:
        _store_refused(arrival, str(exc), watch)
        raise InvalidInput(exc.message, {exc.field: exc.message}, code="invalid_payload") from None
    watch.lap("parse")
    event, duplicate = _store_event(arrival, signal)
    if duplicate:
        return _duplicate_result(event)
    watch.lap("store")
    if strategy.require_approval:
        return _settled(lambda: _hold(strategy, signal, event, now, watch), event, watch)
    return _settled(lambda: _execute(strategy, signal, event, now, watch), event, watch)


def execute_approved(approval: Approval, now: datetime) -> AlertResult:
    """Trade an alert the trader approved, as it would have traded on arrival: the signal
    parsed then (and shown for approval), every check run again now."""
    event = approval.event
    strategy = db.session.get(Strategy, approval.strategy_id)
    signal = Signal.from_json(event.signal)
    watch = Stopwatch()
    event.status = EventStatus.RECEIVED  # back in the pipeline
    return _settled(lambda: _execute(strategy, signal, event, now, watch), event, watch)


def _settled(run, event: WebhookEvent, watch: Stopwatch) -> AlertResult:
    """Run the alert; a refusal (4xx) before the event was settled settles it, then rises."""
    try:
        return run()
    except AppError as refusal:
        if event.status == EventStatus.RECEIVED:
            stale = refusal.code == "stale_alert"
            _finish(
                event,
                EventStatus.EXPIRED if stale else EventStatus.REJECTED,
                refusal.message,
                watch,
            )
        raise


def _hold(strategy, signal: Signal, event, now: datetime, watch: Stopwatch) -> AlertResult:
    """A strategy that requires approval: the alert waits for the trader's click, once it
    has passed the checks it would meet now. It expires with the strategy's max alert age,
    counted from the alert's own time (else its arrival), so no click trades it stale."""
    gate.refuse_if_engaged()
    if not strategy.enabled:
        raise Unprocessable("The strategy is disabled.", code="strategy_disabled")
    _refuse_stale(strategy, signal, now)
    expires = (signal.alert_time or now) + timedelta(seconds=strategy.max_alert_age_seconds)
    approval = Approval(
        webhook_event_id=event.id, strategy_id=strategy.id, created_at=now, expires_at=expires
    )
    db.session.add(approval)
    db.session.flush()
    _finish(event, EventStatus.PENDING_APPROVAL, f"waiting for approval {approval.id}", watch)
    summary = {"id": approval.id, "expires_at": expires.isoformat().replace("+00:00", "Z")}
    return AlertResult(EventStatus.PENDING_APPROVAL.value, event.id, [], event.reason, summary)


def _text(raw: bytes) -> str:
    """The body as text, refused before any secret is checked, so the answer is the same
    whatever the token."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The alert body is not UTF-8 text.",
            {"body": "is not UTF-8 text"},
            code="invalid_payload",
        ) from None


def _defaults(strategy: Strategy) -> SignalDefaults:
    return SignalDefaults(
        max_quantity=current_app.config["MAX_ORDER_QUANTITY"],
        symbol=strategy.symbol,
        quantity=strategy.quantity,
        order_type=OrderType(strategy.order_type),
        take_profit=parse_exit(strategy.take_profit, "take_profit")
        if isinstance(strategy.take_profit, dict)
        else None,
        targets=parse_targets(strategy.take_profit, "take_profit")
        if isinstance(strategy.take_profit, list)
        else None,
        stop_loss=parse_exit(strategy.stop_loss, "stop_loss") if strategy.stop_loss else None,
        trailing_stop=parse_trailing(strategy.trailing_stop, "trailing_stop")
        if strategy.trailing_stop
        else None,
        break_even=parse_break_even(strategy.break_even) if strategy.break_even else None,
        position_sync=_position_sync(strategy),
    )


def _mapping(strategy: Strategy) -> SymbolMapping:
    return SymbolMapping(strategy.trade_symbol, strategy.quantity_ratio)


def idempotency_key(strategy_id: int, alert_id: str | None, body: str, now: datetime) -> str:
    """The alert's own id when given, else a hash of strategy, body and the UTC minute."""
    if alert_id:
        return f"id:{alert_id}"[:128]
    minute = now.strftime("%Y-%m-%dT%H:%M")
    digest = hashlib.sha256(f"{strategy_id}\n{minute}\n{body}".encode()).hexdigest()
    return f"h:{digest}"


def _redacted(body: str) -> str:
    """The body as stored: without the passphrase, capped in size."""
    passphrase = read_passphrase(body)
    if passphrase:
        body = body.replace(passphrase, "***")
    return body[:RAW_BODY_CAP]


@dataclass(frozen=True)
class Arrival:
    """One webhook call as received: who it claims to be for and what it carried."""

    strategy: Strategy
    body: str
    content_type: str | None
    source_ip: str | None
    now: datetime

    def event(self, key: str, **fields) -> WebhookEvent:
        return WebhookEvent(
            strategy_id=self.strategy.id,
            received_at=self.now,
            source_ip=self.source_ip,
            content_type=(self.content_type or "")[:100],
            raw_body=_redacted(self.body),
            idempotency_key=key,
            **fields,
        )


def _store_refused(arrival: Arrival, reason: str, watch: Stopwatch) -> None:
    """Record a malformed alert; a resent copy is already recorded and stays as it is."""
    key = idempotency_key(arrival.strategy.id, None, arrival.body, arrival.now)
    event = arrival.event(
        key,
        status=EventStatus.REJECTED,
        reason=reason[:2000],
        timings_ms=watch.total(),
        processed_at=utcnow(),
    )
    db.session.add(event)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return
    events.publish("signal", _event_summary(event))


def _store_event(arrival: Arrival, signal: Signal) -> tuple[WebhookEvent, bool]:
    """Commit the event before anything else; finding its twin (same key) means a duplicate,
    answered with the original event."""
    strategy = arrival.strategy
    key = idempotency_key(strategy.id, signal.alert_id, arrival.body, arrival.now)
    event = arrival.event(key, signal=signal.to_json(), status=EventStatus.RECEIVED)
    db.session.add(event)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        original = db.session.scalar(
            select(WebhookEvent).where(
                WebhookEvent.strategy_id == strategy.id, WebhookEvent.idempotency_key == key
            )
        )
        audit.record(
            AuditCategory.SIGNAL,
            f"duplicate alert for strategy {strategy.name!r} ignored (event {original.id})",
            strategy_id=strategy.id,
            actor="webhook",
        )
        db.session.commit()
        return original, True
    return event, False


def _duplicate_result(original: WebhookEvent) -> AlertResult:
    rows = db.session.scalars(
        select(Order).where(Order.webhook_event_id == original.id).order_by(Order.id)
    )
    answer = [order_json(o) for o in rows]
    return AlertResult(EventStatus.DUPLICATE.value, original.id, answer, original.reason)


def _execute(strategy, signal: Signal, event, now: datetime, watch: Stopwatch) -> AlertResult:
    gate.refuse_if_engaged()  # 423 halted, nothing placed (DESIGN §5.2)
    if not strategy.enabled:
        raise Unprocessable("The strategy is disabled.", code="strategy_disabled")
    _refuse_stale(strategy, signal, now)
    contract = _resolve(signal, now)
    if signal.price is not None and signal.order_type in (None, OrderType.MARKET):
        # The chart's close ({{close}}) is a print; a limit or stop price is where the
        # trader wants to trade, and taken as a print it would fill a paper limit at once.
        prices.update(contract.code, signal.price, now, "alert")
    traders = _enabled_traders(strategy)
    if not traders:
        raise Unprocessable("The strategy has no enabled trader.", code="no_traders")
    watch.lap("checks")
    outcomes = []
    for trader in traders:
        outcomes.append(_trade_for(trader, strategy, signal, contract, event, now))
        watch.lap(f"account_{trader.account_id}")
    return _conclude(event, outcomes, watch)


def _refuse_stale(strategy: Strategy, signal: Signal, now: datetime) -> None:
    if signal.alert_time is None:
        return
    age = now - signal.alert_time
    limit = timedelta(seconds=strategy.max_alert_age_seconds)
    if age > limit:
        raise Conflict(
            f"Alert is {int(age.total_seconds())} s old; this strategy accepts alerts up to "
            f"{strategy.max_alert_age_seconds} s old.",
            code="stale_alert",
        )
    if -age > limit:
        raise Conflict(
            f"Alert time {signal.alert_time.isoformat()} is in the future; check the clock.",
            code="stale_alert",
        )


def _resolve(signal: Signal, now: datetime) -> Contract:
    try:
        contract = resolve_symbol(signal.symbol, now.date())
    except UnknownSymbol as exc:
        raise Unprocessable(exc.message, {"symbol": exc.message}, code="unknown_symbol") from None
    if contract.is_expired(now.date()):
        message = f"{contract.code} has expired; use the continuous symbol or a live contract."
        raise Unprocessable(message, {"symbol": message}, code="unknown_symbol")
    return contract


def _enabled_traders(strategy: Strategy) -> list[Trader]:
    """Enabled traders on enabled accounts, with account and limits loaded in one query."""
    return list(
        db.session.scalars(
            select(Trader)
            .join(BrokerAccount, Trader.account_id == BrokerAccount.id)
            .options(contains_eager(Trader.account).joinedload(BrokerAccount.risk_limits))
            .where(
                Trader.strategy_id == strategy.id,
                Trader.enabled.is_(True),
                BrokerAccount.enabled.is_(True),
            )
            .order_by(Trader.id)
        )
    )


def _trade_for(
    trader: Trader, strategy: Strategy, signal: Signal, contract: Contract, event, now: datetime
) -> TraderOutcome:
    """Size, check and place one trader's orders, serialised per account."""
    outcome = TraderOutcome(trader.account_id)
    attribution = Attribution(strategy.id, trader.id, event.id)
    with account_lock(trader.account_id):
        try:
            broker = broker_for(trader.account)
            broker.subscribe_quotes(contract.code)
            held = {p.symbol: p.qty for p in broker.positions()}
        except BrokerError as exc:
            return _unread(trader, strategy, signal, contract, attribution, exc)
        if signal.action is SignalAction.CANCEL:
            for row in orders.working_rows(
                trader.account_id, contract.code, (OrderRole.ENTRY,), strategy.id
            ):
                outcome.orders.append(_cancel_quietly(broker, row, event))
            if not outcome.orders:
                outcome.skipped = "no working entry orders to cancel"
            return outcome
        current = held.get(contract.code, 0)
        delta = _target(trader, strategy, signal, current) - current
        if delta == 0:
            outcome.skipped = f"position already {current:+d} {contract.code}; nothing to order"
            return outcome
        limits = trader.account.risk_limits or limits_for(trader.account_id)
        synced = _governing(strategy, signal) is Intent.SYNC
        mode = apply_risk_mode(
            limits, broker, signal, contract, current, delta, strategy.id, synced
        )
        delta = mode.delta
        if delta == 0:
            outcome.skipped = (
                f"position {current:+d} {contract.code} kept: its risk mode sized it, and the "
                "alert's target is on the same side"
            )
            return outcome
        intent = _intent(trader, signal, contract, current, delta, _entry_deadline(strategy, now))
        cap = current_app.config["MAX_ORDER_QUANTITY"]
        if abs(delta) > cap:
            outcome.refusal = f"{abs(delta)} contracts exceed MAX_ORDER_QUANTITY {cap}"
        elif mode.refusal and not limits.halted:  # a halt is told as the halt
            outcome.refusal = mode.refusal
        else:
            outcome.refusal, outcome.halted = _risk_refusal(
                trader, broker, held, contract, delta, signal.price, now
            )
        if outcome.refusal:
            code = RejectCode.HALTED if outcome.halted else RejectCode.RISK
            outcome.orders.append(
                orders.refuse(intent, attribution, code, f"risk: {outcome.refusal}")
            )
            return outcome
        rows = orders.place(broker, intent, attribution)
        outcome.orders.extend(rows)
        target = current + delta
        if target == 0 or (current != 0 and (target > 0) != (current > 0)):
            orders.cancel_orphaned_exits(broker, trader.account_id, contract.code, rows[0].group_id)
        if intent.break_even is not None and intent.role is OrderRole.ENTRY:
            protections.break_even_for_bracket(broker, rows, intent.break_even, now)
        if signal.trailing_stop is not None and intent.role is OrderRole.ENTRY:
            # The trail's stop order joins the answer; a working entry's trail waits for it.
            trail = protections.trail_entry(
                broker, rows[0], signal.trailing_stop, now, intent.break_even
            )
            outcome.orders.extend(trail)
    return outcome


def _position_sync(strategy: Strategy) -> bool:
    return strategy.mode == StrategyMode.POSITION_SYNC


def _governing(strategy: Strategy, signal: Signal) -> Intent:
    action = Intent(signal.action.value)
    return governing_intent(action, _position_sync(strategy), signal.position_size)


def _sizing(trader: Trader) -> Sizing:
    return Sizing(trader.quantity_multiplier, trader.fixed_quantity)


def _target(trader: Trader, strategy: Strategy, signal: Signal, current: int) -> int:
    """The position this trader should hold after the alert, from its actual `current`."""
    intent = _governing(strategy, signal)
    return target_position(intent, current, _sizing(trader), signal.quantity, signal.position_size)


def _unread(
    trader: Trader, strategy, signal: Signal, contract: Contract, attribution, exc: BrokerError
) -> TraderOutcome:
    """The account could not be read, so nothing was sent. The failure is recorded as the
    order the alert asked for only when the alert alone states its side and size (buy or
    sell); an exit, a reversal or a target depends on the position nobody could read, so
    no order is made up and the failure stays on the trader's outcome."""
    reason = (
        f"account {trader.account.name!r}: nothing was sent, because DeskPilot could not "
        f"read the position from the broker: {exc.message}"
    )
    outcome = TraderOutcome(trader.account_id)
    change = None
    if signal.action is not SignalAction.CANCEL:  # a cancel names no order of its own
        change = stated_change(_governing(strategy, signal), _sizing(trader), signal.quantity)
    if not change:
        outcome.failure = reason
        return outcome
    # Shaped as an opening order: whether it would have reduced a position is unknown.
    intent = _intent(trader, signal, contract, 0, change)
    outcome.orders.append(orders.refuse(intent, attribution, RejectCode.BROKER_ERROR, reason))
    return outcome


def _entry_deadline(strategy: Strategy, now: datetime) -> datetime | None:
    """When an entry of this strategy still unfilled is cancelled (its entry timeout)."""
    if strategy.entry_timeout_seconds is None:
        return None
    return now + timedelta(seconds=strategy.entry_timeout_seconds)


def _intent(
    trader,
    signal: Signal,
    contract: Contract,
    current: int,
    delta: int,
    entry_deadline: datetime | None = None,
) -> OrderIntent:
    """The order that moves the position by `delta`; only an opening one carries exits
    and the strategy's entry deadline."""
    closing = reduces_only(ProposedOrder(contract.code, delta), current)
    order_type = signal.order_type or OrderType.MARKET
    return OrderIntent(
        account_id=trader.account_id,
        contract=contract,
        side=Side.BUY if delta > 0 else Side.SELL,
        qty=abs(delta),
        role=OrderRole.EXIT if closing else OrderRole.ENTRY,
        order_type=order_type,
        limit_price=signal.price if order_type is OrderType.LIMIT else None,
        stop_price=signal.price if order_type is OrderType.STOP else None,
        take_profit=None if closing else signal.take_profit,
        stop_loss=None if closing else signal.stop_loss,
        reference_price=signal.price,
        break_even=None if closing else signal.break_even,
        targets=None if closing else signal.targets,
        cancel_after=None if closing else entry_deadline,
    )


def _cancel_quietly(broker: Broker, row: Order, event) -> Order:
    try:
        return orders.cancel(broker, row, f"cancelled by alert {event.id}")
    except BrokerError:
        return row


def _risk_refusal(
    trader, broker: Broker, held, contract, delta, reference, now
) -> tuple[str | None, bool]:
    limits = trader.account.risk_limits or limits_for(trader.account_id)
    policy = policy_of(limits)
    if policy.halted:
        return f"account is halted: {policy.halted_reason or 'no reason given'}", True
    try:
        exposure = measure_exposure(
            trader.account_id,
            policy,
            held,
            lambda: broker.account_state().unrealized_pnl,
            now,
            contract.code,
            reference,
        )
    except BrokerError as exc:
        return f"cannot measure open P&L for the risk check: {exc.message}", False
    problems = check_order(policy, exposure, ProposedOrder(contract.code, delta), now)
    return ("; ".join(problems) or None), False


def _conclude(event: WebhookEvent, outcomes: list[TraderOutcome], watch: Stopwatch) -> AlertResult:
    """The event's status and the answer, per DESIGN §5.2."""
    orders = [order for outcome in outcomes for order in outcome.orders]
    acting = [o for o in outcomes if o.skipped is None]
    refused = [o for o in acting if o.refusal]
    placed = [o for o in acting if not o.refusal]
    if acting and len(refused) == len(acting):
        reasons = {str(o.account_id): o.refusal for o in refused}
        if all(o.halted for o in refused):
            _finish(
                event,
                EventStatus.REJECTED,
                "halted: " + "; ".join(reasons.values()),
                watch,
                refused_by="halted",
            )
            raise Locked("Every account of this strategy is halted.", reasons, code="halted")
        _finish(
            event,
            EventStatus.REJECTED,
            "risk: " + "; ".join(reasons.values()),
            watch,
            refused_by="risk",
        )
        raise Unprocessable("Risk limits refused every trader.", reasons, code="risk_rejected")
    good = [o for o in placed if o.accepted]
    if not acting or (good and len(good) == len(acting)):
        status = EventStatus.EXECUTED
    elif good:
        status = EventStatus.PARTIALLY_EXECUTED
    else:
        status = EventStatus.FAILED
    reasons = [o.skipped or o.refusal or o.failure for o in outcomes]
    reasons += [
        r.reason
        for r in orders
        if r.status in (OrderStatus.REJECTED, OrderStatus.FAILED) and r.reason
    ]
    _finish(event, status, "; ".join(r for r in reasons if r) or None, watch)
    return AlertResult(status.value, event.id, [order_json(o) for o in orders], event.reason)


def _finish(
    event: WebhookEvent,
    status: EventStatus,
    reason: str | None,
    watch,
    refused_by: str | None = None,
) -> None:
    """Record how the alert ended and tell it, in the same commit (the outbox keeps its
    notification with the record). `refused_by`: "risk" or "halted" when every trader
    was refused for that, so a notification can say a limit was reached."""
    event.status = status
    event.reason = reason[:2000] if reason else None
    event.timings_ms = watch.total()
    event.processed_at = utcnow()
    if status is not EventStatus.EXECUTED:
        # An executed alert's record is its event row; a refusal also goes to the log.
        audit.record(
            AuditCategory.SIGNAL,
            f"alert {event.id} {status.value}" + (f": {reason[:300]}" if reason else ""),
            severity=Severity.INFO if status is EventStatus.PENDING_APPROVAL else Severity.WARNING,
            strategy_id=event.strategy_id,
            data={"event_id": event.id},
            actor="webhook",
        )
    events.publish_after_commit(
        db.session(), "signal", _event_summary(event) | {"refused_by": refused_by}
    )
    db.session.commit()
    if event.id % PRUNE_EVERY == 0:
        alert_log.prune_events(event.strategy_id)


def _event_summary(event: WebhookEvent) -> dict:
    return {
        "id": event.id,
        "strategy_id": event.strategy_id,
        "status": event.status,
        "reason": event.reason,
        "timings_ms": event.timings_ms,  # the stage latencies of /metrics
    }


def order_json(order: Order) -> dict:
    """The order as the webhook answer lists it (DESIGN §5.2)."""
    return {
        "id": order.id,
        "account_id": order.account_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.quantity,
        "role": order.role,
        "status": order.status,
        "reason": order.reason,
    }
