"""Replay: a strategy's recorded alerts run again on recorded bars, on a fresh paper venue.

Pure and in memory: a new `MatchingEngine` (the paper broker's own engine) is the venue,
so nothing touches an account. The alerts trade by the rules the live pipeline follows,
through the same domain functions: sizing (`sizing.target_position`, a fixed quantity
when overridden, then the risk mode's `risk_modes`), the risk checks (`risk.check_order`),
bracket exits priced by `oco.exit_prices` and scale-out targets by `targets`, trailing
stops stepped by `trailing.step` and break-even by `break_even.step` as the monitor steps
them (break-even moves the bracket's stop or tightens the trail: with neither it has no
stop to move, as at the monitor). The rules the replay adds, since bars are all it has:

- **Prices.** Each 1-minute bar is played as four prints: the open, then whichever of the
  high and low is nearer the open (the low on a tie), then the other, then the close — the
  usual assumption, so a stop and a target inside one bar resolve the same way every run.
  Within a bar the price passes through every level between two prints, so an order whose
  price it crosses fills at that price (a stop plus the venue's slippage); from one bar's
  close to the next bar's open it jumps, so a stop the open gaps through fills at the
  open. Every print of a bar carries the bar's start time.
- **Fills.** An alert acts at the open of the first bar of its contract that starts at or
  after the alert was received: the first recorded price after it. Its own price (the
  chart's close) is never used as a fill; it is kept as the alert price, so slippage
  against it is measured as for live trades. A market entry's exits are set from its
  fill, as the live pipeline rebases them; a limit or stop entry's from its price.
- **Gaps.** Prices are never invented. An alert whose next bar comes more than
  `max_wait` after it (or never) is skipped with the reason, and the missing period is a
  gap; a period of more than `max_wait` without bars while a position or order was open
  is a gap too (what happened inside it is unknown: the next bar's open fills whatever
  it reaches, as a real gap would). A position still open after the last bar is
  reported open, at its last price, and is not a trade.
- **Limits.** The daily figures (net P&L of the trades closed since the CME trading day
  opened plus open P&L, entries placed that day) are the replay's own; under
  `max_exposure` each contract is valued at its last print.
- **Risk mode.** Decided by the live pipeline's own function (`risk_modes.decide`),
  before the risk checks: an alert whose `confidence` is below the mode's threshold is
  skipped, an entry with a stop loss is sized from the alert's price (else the bar's
  open, the last print) and capped by the limits, a reversal closes whole, an entry
  without a stop keeps its quantity, a sync target on the held side keeps the position,
  an alert saying its strategy is flat closes it whole, and the mode's open-position cap
  joins the account's. The equity it sizes
  from is the starting balance plus the replay's closed P&L so far (open P&L left out,
  so a size does not hang on where inside a bar an alert lands).

Entry timeouts and the strategy's time exits are not replayed: a resting entry works
until it fills or an alert cancels it.
"""

import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from app.domain import break_even, trailing
from app.domain.analytics import TradeRecord
from app.domain.bars import Bar
from app.domain.errors import DomainValidationError
from app.domain.matching import (
    ContractTerms,
    Event,
    MatchingEngine,
    Order,
    OrderFilled,
    OrderRejected,
    TradeClosed,
)
from app.domain.oco import ExitPrices, exit_prices
from app.domain.positions import ClosedTrade
from app.domain.risk import Exposure, ProposedOrder, RiskPolicy, check_order, reduces_only
from app.domain.risk_modes import decide, open_positions_limit, open_positions_set_by
from app.domain.signals import Signal, SignalAction
from app.domain.sizing import Intent, Sizing, governing_intent, target_position
from app.domain.targets import split_position, target_prices
from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import ExitReason, OrderType, PositionSide, RiskMode, Side

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
BAR_LENGTH = timedelta(minutes=1)
DEFAULT_MAX_WAIT = timedelta(minutes=5)


@dataclass(frozen=True)
class ReplayAlert:
    """One recorded alert: its event id, when it was received, what it said, and the
    contract it trades (resolved by the caller)."""

    alert_id: int
    time: datetime
    signal: Signal
    symbol: str


@dataclass(frozen=True)
class ReplaySettings:
    """The venue and the account the alerts are replayed on. `policy.max_open_positions`
    is the account's own; the risk mode's cap is applied with it, as `policy_of` does."""

    sizing: Sizing = field(default_factory=Sizing)
    position_sync: bool = False
    policy: RiskPolicy = field(default_factory=RiskPolicy)
    risk_mode: RiskMode | None = None
    starting_balance: Decimal = ZERO  # the equity a risk mode sizes from, before any trade
    max_order_quantity: int | None = None  # MAX_ORDER_QUANTITY: an order above it is refused
    slippage_ticks: int = 0
    commission_per_contract: Decimal = ZERO
    max_wait: timedelta = DEFAULT_MAX_WAIT


@dataclass(frozen=True)
class ReplayTrade:
    record: TradeRecord
    exit_reason: ExitReason
    alert_id: int | None  # the alert that opened it


@dataclass(frozen=True)
class Skipped:
    alert_id: int
    time: datetime
    reason: str


@dataclass(frozen=True)
class Gap:
    """A period without bars that the replay needed; `end` None: no bar came after."""

    symbol: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class OpenPosition:
    symbol: str
    qty: int
    avg_price: Decimal
    mark: Decimal


@dataclass(frozen=True)
class ReplayResult:
    trades: list[ReplayTrade]
    skipped: list[Skipped]
    gaps: list[Gap]
    open_positions: list[OpenPosition]


def replay(
    alerts: Iterable[ReplayAlert],
    bars: Mapping[str, Sequence[Bar]],
    terms: Mapping[str, ContractTerms],
    settings: ReplaySettings,
) -> ReplayResult:
    """Run `alerts` (any order) against `bars` (per contract, oldest first)."""
    run = _Run(terms, settings)
    for alert in sorted(alerts, key=lambda a: (a.time, a.alert_id)):
        if alert.symbol not in terms or not bars.get(alert.symbol):
            run.skip(alert, f"no bars recorded for {alert.symbol}")
            run.gaps.append(Gap(alert.symbol, alert.time, None))
        else:
            run.pending.setdefault(alert.symbol, deque()).append(alert)
    timeline = sorted(
        ((bar.time, symbol, bar) for symbol, series in bars.items() for bar in series),
        key=lambda item: (item[0], item[1]),
    )
    for _, symbol, bar in timeline:
        run.bar(symbol, bar)
    return run.finish()


def bar_prints(bar: Bar) -> list[Decimal]:
    """The bar's prices in the order they are played (see the module's rules)."""
    near, far = (bar.low, bar.high)
    if bar.high - bar.open < bar.open - bar.low:
        near, far = far, near
    prints = [bar.open]
    for price in (near, far, bar.close):
        if price != prints[-1]:
            prints.append(price)
    return prints


@dataclass
class _Plan:
    """An entry waiting for its fill, with what it attaches then."""

    alert: ReplayAlert
    signal: Signal
    market: bool  # exits are placed from the fill (a resting entry's came with it)
    reference: Decimal  # the price the exits were checked from
    exit_ids: dict[str, ExitReason] = field(default_factory=dict)


@dataclass
class _Guard:
    """What protects one open position: the trail and break-even, as the monitor keeps them."""

    side: PositionSide
    trail: trailing.TrailState | None = None
    trail_id: str | None = None
    stop_id: str | None = None
    be_trigger: Decimal | None = None
    be_level: Decimal | None = None
    be_armed: bool = False
    be_done: bool = False


class _Run:
    """The replay's state: the venue, the entries waiting, the guards, the record."""

    def __init__(self, terms: Mapping[str, ContractTerms], settings: ReplaySettings) -> None:
        self.terms = terms
        self.settings = settings
        own, mode = settings.policy.max_open_positions, settings.risk_mode
        self.policy = replace(
            settings.policy,
            max_open_positions=open_positions_limit(own, mode),
            open_positions_by=open_positions_set_by(own, mode),
        )
        self.engine = MatchingEngine(
            terms,
            slippage_ticks=settings.slippage_ticks,
            commission_per_contract=settings.commission_per_contract,
        )
        self.ids = count(1)
        self.pending: dict[str, deque[ReplayAlert]] = {}
        self.plans: dict[str, _Plan] = {}
        self.reasons: dict[str, ExitReason] = {}  # order id -> the exit it makes
        self.guards: dict[str, _Guard] = {}
        self.opened_by: dict[str, ReplayAlert] = {}
        self.marks: dict[str, Decimal] = {}
        self.last_bar: dict[str, datetime] = {}
        self.day: datetime | None = None
        self.realized_today = ZERO
        self.realized = ZERO  # every closed trade's net P&L: the equity a mode sizes from
        self.entries_today = 0
        self.trades: list[ReplayTrade] = []
        self.skipped: list[Skipped] = []
        self.gaps: list[Gap] = []

    def skip(self, alert: ReplayAlert, reason: str) -> None:
        self.skipped.append(Skipped(alert.alert_id, alert.time, reason))

    # The bars.

    def bar(self, symbol: str, bar: Bar) -> None:
        due = self._due(symbol, bar)
        busy = self._busy(symbol)
        self._note_gap(symbol, bar, busy)
        self.last_bar[symbol] = bar.time
        if not busy and not due:
            self.marks[symbol] = bar.close
            return
        prints = bar_prints(bar)
        self._print(symbol, prints[0], bar.time)
        for alert in due:
            self._act(alert, bar.time)
        for price in prints[1:]:
            self._glide(symbol, price, bar.time)

    def _due(self, symbol: str, bar: Bar) -> list[ReplayAlert]:
        """The alerts this bar's open serves; those that waited too long are skipped."""
        queue = self.pending.get(symbol)
        due: list[ReplayAlert] = []
        while queue and queue[0].time <= bar.time:
            alert = queue.popleft()
            if bar.time - alert.time > self.settings.max_wait:
                self.skip(
                    alert,
                    f"no {symbol} bars from {alert.time:%Y-%m-%d %H:%M:%S} UTC until "
                    f"{bar.time:%Y-%m-%d %H:%M} UTC",
                )
                self.gaps.append(Gap(symbol, alert.time, bar.time))
            else:
                due.append(alert)
        return due

    def _busy(self, symbol: str) -> bool:
        if self.engine.position(symbol).qty or symbol in self.guards:
            return True
        return any(order.symbol == symbol for order in self.engine.working_orders())

    def _note_gap(self, symbol: str, bar: Bar, busy: bool) -> None:
        previous = self.last_bar.get(symbol)
        if busy and previous is not None and bar.time - previous > self.settings.max_wait:
            self.gaps.append(Gap(symbol, previous + BAR_LENGTH, bar.time))

    def _glide(self, symbol: str, price: Decimal, now: datetime) -> None:
        """Move to `price` within a bar through every order's level on the way, so a stop
        the bar passes fills at its own price (plus slippage), not at the bar's extreme."""
        while (level := self._next_level(symbol, self.marks[symbol], price)) is not None:
            self._print(symbol, level, now)
        self._print(symbol, price, now)

    def _next_level(self, symbol: str, here: Decimal, there: Decimal) -> Decimal | None:
        """The nearest stop or limit price strictly between `here` and `there`."""
        up = there > here
        found: Decimal | None = None
        for order in self.engine.working_orders():
            if order.symbol != symbol:
                continue
            level = order.limit_price
            if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered:
                level = order.stop_price
            if level is None or not (here < level < there if up else there < level < here):
                continue
            if found is None or (level < found if up else level > found):
                found = level
        return found

    def _print(self, symbol: str, price: Decimal, now: datetime) -> None:
        self.marks[symbol] = price
        self._absorb(self.engine.on_price(symbol, price, now), now)
        guard = self.guards.get(symbol)
        if guard is not None:
            self._step_guard(symbol, guard, price, now)

    # The alerts.

    def _act(self, alert: ReplayAlert, now: datetime) -> None:
        signal, symbol = alert.signal, alert.symbol
        if signal.action is SignalAction.CANCEL:
            self._cancel_entries(alert, now)
            return
        current = self.engine.position(symbol).qty
        intent = governing_intent(
            Intent(signal.action.value), self.settings.position_sync, signal.position_size
        )
        target = target_position(
            intent, current, self.settings.sizing, signal.quantity, signal.position_size
        )
        delta = target - current
        if delta == 0:
            self.skip(alert, f"position already {current:+d} {symbol}; nothing to order")
            return
        if self.settings.risk_mode is not None:
            delta, refusal = self._mode(alert, current, delta, intent is Intent.SYNC)
            if refusal:
                self.skip(alert, f"risk: {refusal}")
                return
            if delta == 0:
                self.skip(alert, f"position {current:+d} {symbol} kept: its risk mode sized it")
                return
        cap = self.settings.max_order_quantity
        if cap is not None and abs(delta) > cap:
            self.skip(alert, f"risk: {abs(delta)} contracts exceed MAX_ORDER_QUANTITY {cap}")
            return
        problems = check_order(self.policy, self._exposure(now), ProposedOrder(symbol, delta), now)
        if problems:
            self.skip(alert, "risk: " + "; ".join(problems))
            return
        if reduces_only(ProposedOrder(symbol, delta), current):
            self._exit(alert, delta, now)
        else:
            self._enter(alert, delta, now)

    def _mode(
        self, alert: ReplayAlert, current: int, delta: int, synced: bool
    ) -> tuple[int, str | None]:
        """The risk mode's word on the order, by the live path's own rules
        (`risk_modes.decide`), sized from the replay's equity: the order's signed change
        (0: the mode keeps the position), or why the mode refuses it."""
        symbol, terms = alert.symbol, self.terms[alert.symbol]
        found = decide(
            self.settings.risk_mode,
            alert.signal,
            symbol,
            current,
            delta,
            synced=synced,
            entry=alert.signal.price or self.marks.get(symbol),
            tick_size=terms.tick_size,
            tick_value=terms.tick_size * terms.point_value,
            equity=lambda: self.settings.starting_balance + self.realized,
            max_per_order=self.policy.max_contracts_per_order,
            max_position=self.policy.max_position,
        )
        return found.delta, found.refusal

    def _cancel_entries(self, alert: ReplayAlert, now: datetime) -> None:
        working = [
            order.client_order_id
            for order in self.engine.working_orders()
            if order.symbol == alert.symbol and order.client_order_id in self.plans
        ]
        if not working:
            self.skip(alert, "no working entry orders to cancel")
        for client_order_id in working:
            self._absorb(self.engine.cancel(client_order_id, now), now)

    def _exit(self, alert: ReplayAlert, delta: int, now: datetime) -> None:
        order = self._order(alert, delta, alert.signal.order_type or OrderType.MARKET)
        self.reasons[order.client_order_id] = ExitReason.SIGNAL
        self._submitted(alert, self.engine.submit(order, now), now)

    def _enter(self, alert: ReplayAlert, delta: int, now: datetime) -> None:
        """An opening order with its exits: a market entry attaches them once filled (from
        the fill), a resting one carries them as a bracket (from its price)."""
        signal, symbol = alert.signal, alert.symbol
        order = self._order(alert, delta, signal.order_type or OrderType.MARKET)
        market = order.order_type is OrderType.MARKET
        reference = order.limit_price or order.stop_price or self.marks[symbol]
        try:
            levels = self._levels(order, reference, signal)
        except DomainValidationError as exc:
            self.skip(alert, f"exits: {exc.field}: {exc.message}")
            return
        plan = _Plan(alert, signal, market, reference)
        self.plans[order.client_order_id] = plan
        self.reasons[order.client_order_id] = ExitReason.SIGNAL
        if market or (levels.take_profit is None and levels.stop_loss is None):
            events = self.engine.submit(order, now)
        else:
            tp_id, sl_id = f"{order.client_order_id}-tp", f"{order.client_order_id}-sl"
            plan.exit_ids = {tp_id: ExitReason.TAKE_PROFIT, sl_id: ExitReason.STOP_LOSS}
            self.reasons.update(plan.exit_ids)
            events = self.engine.submit_bracket(order, levels.take_profit, levels.stop_loss, now)
        if self._submitted(alert, events, now):
            self.entries_today += 1

    def _levels(self, order: Order, reference: Decimal, signal: Signal) -> ExitPrices:
        """The bracket's prices from `reference`; scale-out targets are checked too, as
        the live pipeline checks them before sending anything."""
        tick = self.terms[order.symbol].tick_size
        levels = exit_prices(order.side, reference, tick, signal.take_profit, signal.stop_loss)
        if signal.targets:
            legs = split_position(order.qty, signal.targets).legs
            target_prices(order.side, reference, tick, legs)
        return levels

    def _order(self, alert: ReplayAlert, delta: int, order_type: OrderType) -> Order:
        price = alert.signal.price
        return Order(
            f"r{next(self.ids)}",
            alert.symbol,
            Side.BUY if delta > 0 else Side.SELL,
            abs(delta),
            order_type,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
        )

    def _submitted(self, alert: ReplayAlert, events: list[Event], now: datetime) -> bool:
        """Absorb a submission's events; a refusal by the venue skips the alert."""
        refused = next((e for e in events if isinstance(e, OrderRejected)), None)
        if refused is not None:
            self.skip(alert, f"venue: {refused.reason}")
            return False
        self._absorb(events, now)
        return True

    # What the venue did.

    def _absorb(self, events: list[Event], now: datetime) -> None:
        """Record closed trades, then attach exits and guards to entries that filled (after
        the trades, so a reversal's closed trade keeps the alert that opened it)."""
        entry_fills: list[OrderFilled] = []
        symbols: set[str] = set()
        for event in events:
            if isinstance(event, TradeClosed):
                self._record(event.trade)
            elif isinstance(event, OrderFilled):
                order = event.order
                symbols.add(order.symbol)
                if order.client_order_id in self.plans and order.filled_qty == event.fill.qty:
                    entry_fills.append(event)
                elif self.reasons.get(order.client_order_id) is ExitReason.TAKE_PROFIT:
                    guard = self.guards.get(order.symbol)
                    if guard is not None and guard.be_trigger is None:
                        guard.be_armed = True  # break-even on the first target's fill
        for event in entry_fills:
            self._filled(event, now)
        for symbol in symbols:
            if not self.engine.position(symbol).qty:
                self.guards.pop(symbol, None)

    def _filled(self, event: OrderFilled, now: datetime) -> None:
        order, price = event.order, event.fill.price
        plan = self.plans[order.client_order_id]
        self.opened_by.setdefault(order.symbol, plan.alert)
        held = self.engine.position(order.symbol).qty
        if not held or (held > 0) != (order.side is Side.BUY):
            return
        if plan.market:
            self._attach_exits(plan, order, price, min(order.filled_qty, abs(held)), now)
        self._guard(plan, order, price, now)

    def _attach_exits(
        self, plan: _Plan, entry: Order, fill: Decimal, qty: int, now: datetime
    ) -> None:
        """A market entry's exits for the `qty` contracts it opened (a reversal's closing
        part has none), from its fill (from the price they were checked at when the fill
        puts one on the wrong side, as the live rebase keeps them then)."""
        signal, tick = plan.signal, self.terms[entry.symbol].tick_size
        try:
            levels = exit_prices(entry.side, fill, tick, signal.take_profit, signal.stop_loss)
        except DomainValidationError:
            levels = exit_prices(
                entry.side, plan.reference, tick, signal.take_profit, signal.stop_loss
            )
        base = Order(
            entry.client_order_id,
            entry.symbol,
            entry.side.opposite,
            qty,
            OrderType.LIMIT,
            reduce_only=True,
        )
        pair = _exit_pair(base, levels)
        plan.exit_ids.update({order.client_order_id: _reason_of(order) for order in pair})
        self.reasons.update(plan.exit_ids)
        if len(pair) == 2:
            self._absorb(self.engine.submit_oco(pair, entry.client_order_id, now), now)
        for order in pair if len(pair) == 1 else ():
            self._absorb(self.engine.submit(order, now), now)
        if signal.targets:
            self._place_targets(plan, base, fill, now)

    def _place_targets(self, plan: _Plan, base: Order, fill: Decimal, now: datetime) -> None:
        """One reduce-only take profit per target, priced from the fill; the venue cuts
        the stop to what is left as each fills."""
        tick = self.terms[base.symbol].tick_size
        legs = split_position(base.qty, plan.signal.targets).legs
        try:
            levels = target_prices(base.side.opposite, fill, tick, legs)
        except DomainValidationError:
            levels = target_prices(base.side.opposite, plan.reference, tick, legs)
        for number, (leg, level) in enumerate(zip(legs, levels, strict=True), start=1):
            target = replace(
                base,
                client_order_id=f"{base.client_order_id}-t{number}",
                qty=leg.qty,
                limit_price=level,
            )
            self.reasons[target.client_order_id] = ExitReason.TAKE_PROFIT
            self._absorb(self.engine.submit(target, now), now)

    def _guard(self, plan: _Plan, entry: Order, fill: Decimal, now: datetime) -> None:
        """The trail and break-even of the position the entry opened, stepped from the
        next print on."""
        symbol, signal = entry.symbol, plan.signal
        old = self.guards.pop(symbol, None)
        if old is not None and old.trail_id and self.engine.order(old.trail_id):
            self._absorb(self.engine.cancel(old.trail_id, now), now)
        side = PositionSide.LONG if entry.side is Side.BUY else PositionSide.SHORT
        tick = self.terms[symbol].tick_size
        stop_id = next((i for i, r in plan.exit_ids.items() if r is ExitReason.STOP_LOSS), None)
        guard = _Guard(side, stop_id=stop_id)
        spec = signal.trailing_stop
        if spec is not None:
            activation = None
            if spec.activation is not None:
                activation = trailing.activation_price(side, fill, spec.activation, tick)
            terms = trailing.Trail(side, spec.trail.unit, spec.trail.amount, tick, activation)
            guard.trail = trailing.start(terms)
            guard.trail_id = f"{entry.client_order_id}-trail"
        if signal.break_even is not None:
            guard.be_trigger = break_even.trigger_price(side, fill, signal.break_even, tick)
            guard.be_level = break_even.level(side, fill, signal.break_even, tick)
        if guard.trail is not None or (guard.be_level is not None and stop_id is not None):
            self.guards[symbol] = guard

    # The monitor's part: trails and break-even, one print at a time.

    def _step_guard(self, symbol: str, guard: _Guard, price: Decimal, now: datetime) -> None:
        if guard.trail is not None:
            self._step_trail(symbol, guard, price, now)
        if self.guards.get(symbol) is guard and guard.stop_id and not guard.be_done:
            if guard.be_level is not None:
                self._step_break_even(symbol, guard, price, now)

    def _step_trail(self, symbol: str, guard: _Guard, price: Decimal, now: datetime) -> None:
        state, action = trailing.step(guard.trail, price)
        if guard.be_level is not None and guard.be_trigger is not None:
            state, action = _trail_break_even(guard, state, action, price)
        guard.trail = state
        if action is trailing.TrailAction.EXIT:
            self._flatten(symbol, ExitReason.TRAILING_STOP, now)
        elif action in (trailing.TrailAction.ACTIVATE, trailing.TrailAction.TIGHTEN):
            if self.engine.order(guard.trail_id) is not None:
                events = self.engine.modify_stops([(guard.trail_id, state.stop)], now)
            else:
                held = self.engine.position(symbol).qty
                side = Side.SELL if held > 0 else Side.BUY
                stop = Order(
                    guard.trail_id,
                    symbol,
                    side,
                    abs(held),
                    OrderType.STOP,
                    stop_price=state.stop,
                    reduce_only=True,
                )
                self.reasons[guard.trail_id] = ExitReason.TRAILING_STOP
                events = self.engine.submit(stop, now)
            self._absorb(events, now)

    def _step_break_even(self, symbol: str, guard: _Guard, price: Decimal, now: datetime) -> None:
        """Move the bracket's stop once, when the trigger is reached (or the first target
        filled); out at the market when the price is already back through the level."""
        if not guard.be_armed and guard.be_trigger is not None:
            guard.be_armed = break_even.triggered(guard.side, price, guard.be_trigger)
        if not guard.be_armed:
            return
        guard.be_done = True
        stop = self.engine.order(guard.stop_id)
        if stop is None:
            return
        move = break_even.step(guard.side, price, stop.stop_price, guard.be_level, armed=True)
        if move.action is break_even.BreakEvenAction.EXIT:
            self._flatten(symbol, ExitReason.BREAK_EVEN, now)
        elif move.action is break_even.BreakEvenAction.MOVE:
            self.reasons[guard.stop_id] = ExitReason.BREAK_EVEN
            self._absorb(self.engine.modify_stops([(guard.stop_id, move.stop)], now), now)

    def _flatten(self, symbol: str, reason: ExitReason, now: datetime) -> None:
        client_order_id = f"r{next(self.ids)}"
        self.reasons[client_order_id] = reason
        self._absorb(self.engine.flatten(symbol, client_order_id, now), now)

    # The record.

    def _record(self, trade: ClosedTrade) -> None:
        alert = self.opened_by.pop(trade.symbol, None)
        terms = self.terms[trade.symbol]
        self._roll_day(trade.exit_time)
        self.realized_today += trade.net_pnl
        self.realized += trade.net_pnl
        record = TradeRecord(
            entry_time=trade.entry_time,
            exit_time=trade.exit_time,
            side=trade.side,
            qty=trade.qty,
            entry_price=trade.entry_price,
            exit_price=trade.exit_price,
            gross_pnl=trade.gross_pnl,
            commission=trade.commission,
            pnl=trade.net_pnl,
            symbol=trade.symbol,
            alert_price=alert.signal.price if alert else None,
            alert_time=alert.time if alert else None,
            first_fill_time=trade.entry_time,
            tick_size=terms.tick_size,
            tick_value=terms.tick_size * terms.point_value,
        )
        reason = self.reasons.get(trade.exit_order_id, ExitReason.SIGNAL)
        self.trades.append(ReplayTrade(record, reason, alert.alert_id if alert else None))

    def _roll_day(self, now: datetime) -> None:
        day = trading_day_start(now)
        if day != self.day:
            self.day, self.realized_today, self.entries_today = day, ZERO, 0

    def _exposure(self, now: datetime) -> Exposure:
        self._roll_day(now)
        positions = {p.symbol: p.qty for p in self.engine.positions() if p.qty}
        marks: dict[str, Decimal] = {}
        point_values: dict[str, Decimal] = {}
        if self.policy.max_exposure is not None:  # every contract held or ordered has printed
            marks = dict(self.marks)
            point_values = {symbol: terms.point_value for symbol, terms in self.terms.items()}
        return Exposure(
            positions=positions,
            realized_today=self.realized_today,
            unrealized=self.engine.unrealized_pnl(self.marks),
            entries_today=self.entries_today,
            marks=marks,
            point_values=point_values,
        )

    def finish(self) -> ReplayResult:
        for symbol, queue in self.pending.items():
            for alert in queue:
                self.skip(alert, f"no {symbol} bars after {alert.time:%Y-%m-%d %H:%M:%S} UTC")
                self.gaps.append(Gap(symbol, alert.time, None))
        still_open = [
            OpenPosition(p.symbol, p.qty, p.avg_price, self.marks[p.symbol])
            for p in self.engine.positions()
            if p.qty
        ]
        self.skipped.sort(key=lambda s: (s.time, s.alert_id))
        return ReplayResult(self.trades, self.skipped, self.gaps, still_open)


def _trail_break_even(
    guard: _Guard, state: trailing.TrailState, action: trailing.TrailAction, price: Decimal
) -> tuple[trailing.TrailState, trailing.TrailAction]:
    """A running trail whose break-even trigger the price reached: its stop is the tighter
    of the trail's and break-even's (the monitor's rule)."""
    placed = state.activated and state.stop is not None
    reached = break_even.triggered(guard.side, price, guard.be_trigger)
    if not placed or not reached or action is trailing.TrailAction.EXIT:
        return state, action
    move = break_even.step(guard.side, price, state.stop, guard.be_level, armed=True)
    if move.action is break_even.BreakEvenAction.MOVE:
        return replace(state, stop=move.stop), trailing.TrailAction.TIGHTEN
    if move.action is break_even.BreakEvenAction.EXIT:
        return state, trailing.TrailAction.EXIT
    return state, action


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def _exit_pair(base: Order, levels: ExitPrices) -> list[Order]:
    """The take profit (a limit) and the stop loss (a stop) of `base`'s entry, as given."""
    pair: list[Order] = []
    if levels.take_profit is not None:
        tp_id = f"{base.client_order_id}-tp"
        pair.append(replace(base, client_order_id=tp_id, limit_price=levels.take_profit))
    if levels.stop_loss is not None:
        sl_id = f"{base.client_order_id}-sl"
        stop = replace(base, client_order_id=sl_id, order_type=OrderType.STOP)
        pair.append(replace(stop, stop_price=levels.stop_loss))
    return pair


def _reason_of(exit_order: Order) -> ExitReason:
    if exit_order.order_type is OrderType.STOP:
        return ExitReason.STOP_LOSS
    return ExitReason.TAKE_PROFIT
