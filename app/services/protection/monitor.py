"""The monitor (DESIGN §4): one tick drives every active trailing stop and OCO pair.

A tick, under `advanced_orders.LOCK`:

1. **Sync.** One query lists the watched rows' ids and revisions. The monitor keeps each
   row's state in memory (per app), so only rows it has not seen, or that were changed
   elsewhere (their revision moved), are read in full. A fresh process reads them all
   once: the state lives in `advanced_orders`, so a restart resumes exactly.
2. **The broker's side.** One query finds the rows where something happened at the
   broker: a stop or leg filled or died (our `orders` rows, which the paper venue and
   the position poller keep current), an exit filled, an entry filled, the position
   closed. After a start it searches every row; then it starts from the orders and
   positions changed since its last look, and from the rows just read. Those whose
   orders already say how they ended are closed in one statement; the rest (a leg to
   cancel, an entry that filled, a closed position) one by one (`advanced_orders.settle`).
3. **Prices.** Every other row is stepped against the price cache in pure code
   (`domain.trailing.step`, `domain.oco.touched`). A quote from a delayed feed (Tradovate
   without a real-time subscription, ~10 minutes late) steps nothing: trails, break-even
   triggers and in-app take profits hold, the broker's stops stay, and it is said once
   per symbol (`_tell_delayed`).
4. **Writes and broker calls, only for changes.** A trail's stop that is tighter than the
   one the broker holds (by at least a tick: both are on the grid) is modified at the
   broker in one batch per account (`Broker.modify_stops`: modified in place, never
   re-placed), their order rows recorded together — but a stop is modified at most once
   every STOP_MODIFY_MIN_SECONDS (`stop_modified_at`), so Tradovate's request budget holds;
   in between the trail keeps its best price and stop, and the broker's stop catches up at
   the next allowed modification. Best prices, stops and modification times are written in
   one bulk statement guarded by each row's revision. Rows that activate, must exit, or
   whose in-app take profit was touched go to the broker one by one.

Then the daily loss limits are checked (outside the lock: the kill switch takes the
account locks). The tick's time and counts are kept for the status indicator
(`monitor_status`). A failure on one row is logged and counted; the others go on.
"""

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from flask import current_app
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import aliased

from app.brokers.base import Broker
from app.brokers.errors import BrokerError, RateLimited, TemporaryBrokerError
from app.domain import break_even
from app.domain.break_even import BreakEvenAction
from app.domain.oco import OcoLeg, touched
from app.domain.trading_day import trading_day_start
from app.domain.trailing import TrailAction, TrailState, step, tighter
from app.domain.vocabulary import (
    AdvancedKind,
    AdvancedStatus,
    AuditCategory,
    HaltKind,
    OrderRole,
    OrderStatus,
    PositionSide,
    Severity,
    Side,
)
from app.extensions import db
from app.models import AdvancedOrder, BrokerAccount, Order, RiskLimits, Trade
from app.models.base import UTCDateTime, utcnow
from app.services.ledger import positions
from app.services.ledger.trades import money, shown
from app.services.market import prices
from app.services.protection import (
    advanced_orders,
    late_rejections,
    news_watch,
    rule_watch,
    session_watch,
    silence_watch,
    time_exits,
)
from app.services.protection.kill_switch import flatten_and_halt
from app.services.records import audit, events
from app.services.setup.access import broker_for
from app.services.trading import approvals, orders

logger = logging.getLogger(__name__)

_EXTENSION = "deskpilot.monitor"
# Broker failures that say nothing about the stop itself: asked again, not given up.
_PASSING = (TemporaryBrokerError, RateLimited)
_LOAD_CHUNK = 500


def _sql_list(members: tuple[StrEnum, ...]) -> str:
    """An SQL `IN` list of enum values, for the raw statements below (our own words only)."""
    return "(" + ", ".join(f"'{member}'" for member in members) + ")"


_WATCHED_SQL = _sql_list(advanced_orders.WATCHED)
_OPEN_SQL = _sql_list(orders.OPEN_STATUSES)

# Rows where the broker's side moved: a stop, leg or exit order settled, the entry a
# trail waits on filled, the position closed or turned. Searched from every watched row
# (after a start), from the rows read this tick, or from the orders and positions changed
# since the last look — cheap, and it returns only those rows.
_SETTLED = f"o.status NOT IN {_OPEN_SQL}"
_WAITS_ON_ENTRY = "NOT a.activated AND a.activation_price IS NULL AND a.best_price IS NULL"
_POSITION_GONE = f"(p.quantity = 0 OR (p.quantity > 0) <> (a.side = '{PositionSide.LONG}'))"
_ORDER_LINKS = (
    ("stop_order_id", ""),
    ("take_profit_order_id", ""),
    ("exit_order_id", ""),
    ("entry_order_id", f" AND {_WAITS_ON_ENTRY}"),
)


def _flagged_sql(order_scope: str = "", position_scope: str = "", changes: bool = False) -> str:
    """The search, from the advanced orders or (`changes`) from the orders and positions:
    a CROSS JOIN makes SQLite start from its left table, which PostgreSQL's planner
    chooses for itself."""
    watched = f"a.status IN {_WATCHED_SQL}"
    parts = []
    for column, condition in _ORDER_LINKS:
        tables = (
            "orders o CROSS JOIN advanced_orders a" if changes else "advanced_orders a, orders o"
        )
        parts.append(
            f"SELECT a.id FROM {tables} WHERE a.{column} = o.id"  # nosec B608 # constants
            f" AND {watched} AND {_SETTLED}{condition}{order_scope}"
        )
    tables = (
        "positions p CROSS JOIN advanced_orders a" if changes else "advanced_orders a, positions p"
    )
    parts.append(
        f"SELECT a.id FROM {tables} WHERE a.position_id = p.id"  # nosec B608 # constants
        f" AND {watched} AND {_POSITION_GONE}{position_scope}"
    )
    return "\nUNION ".join(parts)


_FLAGGED_SQL = _flagged_sql()
_FLAGGED_AMONG = text(_flagged_sql(" AND a.id IN :ids", " AND a.id IN :ids")).bindparams(
    bindparam("ids", expanding=True)
)
_FLAGGED_SINCE = text(
    _flagged_sql(" AND o.updated_at >= :since", " AND p.updated_at >= :since", changes=True)
).bindparams(bindparam("since", type_=UTCDateTime()))
# How far back "changed since the last look" reaches: a change stamped by a writer's clock
# a little behind ours, or committed a while after it was stamped, is still seen.
CHANGE_OVERLAP = timedelta(seconds=60)
# Built from constants at import, like the searches above: no input reaches the text.
_REVISIONS_SQL = f"SELECT id, revision FROM advanced_orders WHERE status IN {_WATCHED_SQL}"  # nosec B608

_WRITE_STATE = (
    update(AdvancedOrder.__table__)
    .where(
        AdvancedOrder.__table__.c.id == bindparam("_id"),
        AdvancedOrder.__table__.c.revision == bindparam("_revision"),
    )
    .values(best_price=bindparam("_best"), stop_price=bindparam("_stop"))
)
# The same for the rows whose broker stop was just modified, stamped for the request budget.
_WRITE_MODIFIED = _WRITE_STATE.values(stop_modified_at=bindparam("_modified", type_=UTCDateTime()))


_CLOSE = (
    update(AdvancedOrder.__table__)
    .where(
        AdvancedOrder.__table__.c.id == bindparam("_id"),
        AdvancedOrder.__table__.c.revision == bindparam("_revision"),
    )
    .values(
        status=bindparam("_status"),
        reason=bindparam("_reason"),
        closed_at=bindparam("_now"),
        updated_at=bindparam("_now"),
        revision=AdvancedOrder.__table__.c.revision + 1,
    )
)


@dataclass(slots=True)
class Watch:
    """One watched advanced order as the monitor holds it between ticks."""

    id: int
    revision: int
    kind: AdvancedKind
    account_id: int
    symbol: str
    opened_by: Side  # the side that opened the position protected
    state: TrailState | None = None  # a trailing stop that is running (or waits to activate)
    take_profit: Decimal | None = None  # an OCO pair's take profit the monitor itself watches
    stop_loss: Decimal | None = None
    idle: bool = False  # waits for its entry's fill, or its exit is on its way
    stop_order_id: int | None = None
    stop_client_id: str | None = None  # the broker stop a trailing stop moves
    lagging: bool = False  # the broker's stop is looser than the trail's (the budget held it)
    modified_at: datetime | None = None  # when the stop was last modified (the request budget)
    break_even: tuple[Decimal, Decimal] | None = None  # its trigger and its stop

    @classmethod
    def of(
        cls,
        row: AdvancedOrder,
        stop_client_id: str | None = None,
        broker_stop: Decimal | None = None,
    ) -> "Watch":
        long = row.side == PositionSide.LONG
        watch = cls(
            row.id,
            row.revision,
            row.kind,
            row.account_id,
            row.symbol,
            Side.BUY if long else Side.SELL,
            stop_order_id=row.stop_order_id,
            stop_client_id=stop_client_id,
            modified_at=row.stop_modified_at,
        )
        if row.status == AdvancedStatus.TRIGGERED:
            watch.idle = True
        elif row.kind == AdvancedKind.TRAILING:
            if advanced_orders.waits_for_entry(row):
                watch.idle = True
            else:
                watch.state = advanced_orders.state_of(row)
        else:
            watch.stop_loss = row.stop_loss_price
            if not row.native:
                watch.take_profit = row.take_profit_price
        if row.break_even_trigger is not None and row.break_even_stop is not None:
            watch.break_even = (row.break_even_trigger, row.break_even_stop)
        if watch.state is not None and watch.state.stop is not None and broker_stop is not None:
            watch.lagging = tighter(watch.side, watch.state.stop, broker_stop)
        return watch

    @property
    def side(self) -> PositionSide:
        return PositionSide.LONG if self.opened_by is Side.BUY else PositionSide.SHORT


@dataclass
class Book:
    """The monitor's memory of the watched rows (a cache: the database is the truth)."""

    watches: dict[int, Watch] = field(default_factory=dict)
    looked_at: datetime | None = None  # when the broker's side was last searched

    def sync(self) -> list[int]:
        """Read the rows that are new or changed elsewhere (returned); forget the closed
        ones."""
        listed = dict(_driver_rows(_REVISIONS_SQL))
        for gone in self.watches.keys() - listed.keys():
            del self.watches[gone]
        stale = [
            row_id
            for row_id, revision in listed.items()
            if (watch := self.watches.get(row_id)) is None or watch.revision != revision
        ]
        for start in range(0, len(stale), _LOAD_CHUNK):
            chunk = stale[start : start + _LOAD_CHUNK]
            query = (
                select(AdvancedOrder, Order.client_order_id, Order.stop_price)
                .outerjoin(Order, Order.id == AdvancedOrder.stop_order_id)
                .where(AdvancedOrder.id.in_(chunk))
                .execution_options(populate_existing=True)
            )
            for row, stop_client_id, broker_stop in db.session.execute(query):
                self.put(row, stop_client_id, broker_stop)
        if stale:
            db.session.expunge_all()  # thousands of rows need not stay in the identity map
        return stale

    def flagged(self, read: list[int]) -> set[int]:
        """The watched rows whose broker side moved: searched from every row after a
        start, else from the orders and positions changed since the last look and from
        the rows just read (a row made after its orders had settled). The last look is
        the wall clock's, as the rows' `updated_at` are."""
        now = utcnow()
        connection = db.session.connection()
        if self.looked_at is None or len(read) > _LOAD_CHUNK:
            found = set(connection.exec_driver_sql(_FLAGGED_SQL).scalars())
        else:
            since = self.looked_at - CHANGE_OVERLAP
            found = set(connection.execute(_FLAGGED_SINCE, {"since": since}).scalars())
            if read:
                found |= set(connection.execute(_FLAGGED_AMONG, {"ids": read}).scalars())
        self.looked_at = now
        return found

    def put(
        self,
        row: AdvancedOrder,
        stop_client_id: str | None = None,
        broker_stop: Decimal | None = None,
    ) -> None:
        if row.status not in advanced_orders.WATCHED:
            self.watches.pop(row.id, None)
            return
        if stop_client_id is None and row.stop_order_id is not None:
            stop_client_id, broker_stop = db.session.execute(
                select(Order.client_order_id, Order.stop_price).where(Order.id == row.stop_order_id)
            ).one()
        self.watches[row.id] = Watch.of(row, stop_client_id, broker_stop)


def _driver_rows(sql: str) -> list[tuple]:
    """The rows of a plain query as the database driver's tuples, in the session's
    transaction: ten thousand revisions read each tick cost a fifth of SQLAlchemy's rows."""
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


@dataclass
class MonitorStatus:
    """The last tick, for the status indicator (DESIGN §5.5 `last_monitor_tick`)."""

    last_tick: datetime | None = None
    duration_ms: float | None = None
    watched: int = 0
    loaded: int = 0  # rows read in full this tick (all of them after a restart)
    written: int = 0  # rows whose best price (and stop) were written in bulk
    moved_stops: int = 0  # broker stops moved (in one batch per account)
    broker_actions: int = 0  # rows that went to the broker one by one (place, cancel, exit)
    errors: int = 0
    last_error: str | None = None
    halted_accounts: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "last_tick": self.last_tick.isoformat() if self.last_tick else None,
            "duration_ms": self.duration_ms,
            "watched": self.watched,
            "loaded": self.loaded,
            "written": self.written,
            "moved_stops": self.moved_stops,
            "broker_actions": self.broker_actions,
            "errors": self.errors,
            "last_error": self.last_error,
            "halted_accounts": list(self.halted_accounts),
        }


@dataclass
class _State:
    book: Book = field(default_factory=Book)
    status: MonitorStatus = field(default_factory=MonitorStatus)
    delayed: set[str] = field(default_factory=set)  # symbols told to be held by a late feed


def _state() -> _State:
    return current_app.extensions.setdefault(_EXTENSION, _State())


def monitor_status() -> MonitorStatus:
    """The last tick's time, duration and counts (in the current app)."""
    return _state().status


def forget() -> None:
    """Drop the monitor's memory (the next tick reads every row again), as a restart does."""
    current_app.extensions.pop(_EXTENSION, None)


class _Brokers:
    """One broker adapter per account for the tick."""

    def __init__(self) -> None:
        self._made: dict[int, Broker] = {}

    def __call__(self, account_id: int) -> Broker:
        broker = self._made.get(account_id)
        if broker is None:
            broker = self._made[account_id] = broker_for(db.session.get(BrokerAccount, account_id))
        return broker


BREAK_EVEN = "break_even"  # an OCO pair's stop to move to break-even


def _with_break_even(
    watch: Watch, state: TrailState, action: TrailAction, price: Decimal
) -> tuple[TrailState, TrailAction]:
    """A running trail whose break-even trigger the price reached: its stop is the tighter
    of the trail's and break-even's (a price already back through break-even exits)."""
    trigger, stop = watch.break_even
    placed = state.activated and state.stop is not None
    reached = break_even.triggered(watch.side, price, trigger)
    if not placed or not reached or action is TrailAction.EXIT:
        return state, action
    move = break_even.step(watch.side, price, state.stop, stop, armed=True)
    if move.action is BreakEvenAction.MOVE:
        return replace(state, stop=move.stop), TrailAction.TIGHTEN
    if move.action is BreakEvenAction.EXIT:
        return state, TrailAction.EXIT
    return state, action


def _break_even_reached(watch: Watch, price: Decimal) -> bool:
    """An OCO pair whose break-even trigger the price reached and whose stop is looser."""
    if watch.break_even is None or watch.kind != AdvancedKind.OCO or watch.stop_loss is None:
        return False
    trigger, stop = watch.break_even
    return break_even.triggered(watch.side, price, trigger) and (
        break_even.tighter(watch.side, watch.stop_loss, stop) != watch.stop_loss
    )


@dataclass(frozen=True)
class _Act:
    """A row that needs the broker (or the settling of what the broker did)."""

    row_id: int
    action: TrailAction | OcoLeg | str | None  # None: settle the broker's side
    state: TrailState | None = None
    price: Decimal | None = None


def tick(now: datetime) -> MonitorStatus:
    """Drive every watched advanced order once; returns the tick's status."""
    started = time.perf_counter()
    memory = _state()
    status = MonitorStatus(last_tick=now)
    with advanced_orders.LOCK:
        book = memory.book
        read = book.sync()
        status.loaded = len(read)
        flagged = book.flagged(read)
        db.session.commit()  # end the read transaction before writing
        quotes = prices.snapshot()
        spacing = float(current_app.config.get("STOP_MODIFY_MIN_SECONDS", 0))
        moved: list[tuple[Watch, TrailState]] = []  # the broker's stop stays where it is
        tightened: dict[int, list[tuple[Watch, TrailState]]] = {}  # by account
        acts: list[_Act] = []
        held: set[str] = set()  # symbols whose quote is delayed
        if flagged:
            settled = _settle_in_bulk(flagged & book.watches.keys(), book, now)
            acts += [_Act(row_id, None) for row_id in sorted(flagged - settled)]
        for watch in book.watches.values():
            if watch.id in flagged:
                continue
            if watch.idle:
                continue
            quote = quotes.get(watch.symbol)
            if quote is None:
                continue
            if quote.delayed:
                held.add(watch.symbol)
                continue
            if watch.state is not None:
                state, action = step(watch.state, quote.price)
                if watch.break_even is not None:
                    state, action = _with_break_even(watch, state, action, quote.price)
                if action is TrailAction.HOLD or action is TrailAction.WAIT:
                    if watch.lagging and _may_modify(watch, now, spacing):
                        tightened.setdefault(watch.account_id, []).append((watch, state))
                    elif state is not watch.state:
                        moved.append((watch, state))
                elif action is TrailAction.TIGHTEN and watch.stop_client_id is not None:
                    if _may_modify(watch, now, spacing):
                        tightened.setdefault(watch.account_id, []).append((watch, state))
                    else:
                        watch.lagging = True  # the stop catches up at the next modification
                        moved.append((watch, state))
                else:
                    acts.append(_Act(watch.id, action, state, quote.price))
            elif _break_even_reached(watch, quote.price):
                acts.append(_Act(watch.id, BREAK_EVEN, price=quote.price))
            elif watch.take_profit is not None:
                leg = touched(watch.opened_by, quote.price, watch.take_profit, None)
                if leg is OcoLeg.TAKE_PROFIT:
                    acts.append(_Act(watch.id, leg, price=quote.price))
        _tell_delayed(memory, held, quotes)
        brokers = _Brokers()
        modified = [item for items in tightened.values() for item in items]
        if tightened:
            stops_moved = _move_stops(tightened, brokers, status, now)
            status.moved_stops = len(stops_moved)
            _announce_stops(stops_moved, now)
        _write_states(moved, modified)
        status.written = len(moved) + len(modified)
        for act in acts:
            _perform(book, act, brokers, now, status)
        status.broker_actions = len(acts)
        status.watched = len(book.watches)
    status.halted_accounts = enforce_daily_loss(now, status)
    approvals.expire_overdue(now)
    for failure in [*time_exits.act(now), *silence_watch.watch(now)]:
        _failed(status, failure)
    status.halted_accounts += late_rejections.act(now)
    for watch in (rule_watch.watch_rules, session_watch.watch_sessions, news_watch.watch_news):
        halted, failures = watch(now)
        status.halted_accounts += halted
        for failure in failures:
            _failed(status, failure)
    status.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    memory.status = status
    return status


_Stop, _TakeProfit, _Exit = aliased(Order), aliased(Order), aliased(Order)


@dataclass(frozen=True)
class _Leg:
    id: int
    role: OrderRole
    status: OrderStatus
    avg_fill_price: Decimal | None
    reason: str | None


def _leg(role: OrderRole, values: tuple) -> _Leg | None:
    return None if values[0] is None else _Leg(values[0], role, *values[1:])


def _settle_in_bulk(row_ids: set[int], book: Book, now: datetime) -> set[int]:
    """Close, in one statement, the flagged rows whose orders already say how they ended
    (a stop or leg filled, every leg dead, the market exit filled) and need no broker
    call; returns their ids. The rest are settled one by one."""
    if not row_ids:
        return set()
    A = AdvancedOrder  # noqa: N806 - a table alias
    query = (
        select(
            A.id,
            A.kind,
            A.revision,
            A.account_id,
            A.strategy_id,
            A.symbol,
            A.side,
            A.quantity,
            A.stop_price,
            A.reason,
            A.entry_order_id,
            A.activated,
            A.activation_price,
            A.best_price,
            _Stop.id,
            _Stop.status,
            _Stop.avg_fill_price,
            _Stop.reason,
            _TakeProfit.id,
            _TakeProfit.status,
            _TakeProfit.avg_fill_price,
            _TakeProfit.reason,
            _Exit.id,
            _Exit.status,
            _Exit.avg_fill_price,
            _Exit.reason,
        )  # fmt: skip
        .outerjoin(_Stop, _Stop.id == A.stop_order_id)
        .outerjoin(_TakeProfit, _TakeProfit.id == A.take_profit_order_id)
        .outerjoin(_Exit, _Exit.id == A.exit_order_id)
        .where(A.id.in_(row_ids), A.status.in_(advanced_orders.WATCHED))
    )
    closing = []
    for values in db.session.execute(query):
        (row_id, kind, revision, account_id, strategy_id, symbol, side, qty, stop, reason,
         entry_id, activated, activation, best) = values[:14]  # fmt: skip
        stop_leg = _leg(OrderRole.STOP_LOSS, values[14:18])
        take_leg = _leg(OrderRole.TAKE_PROFIT, values[18:22])
        exit_leg = _leg(OrderRole.EXIT, values[22:26])
        if exit_leg is not None:
            over = advanced_orders.exit_outcome(reason, exit_leg)
            if over is None or over[0] is AdvancedStatus.FAILED:
                continue  # a failed exit is told one by one, loudly
            status, why = over
        else:
            waiting = entry_id is not None and not activated and activation is None and best is None
            if kind == AdvancedKind.TRAILING and waiting:
                continue
            legs = [leg for leg in (take_leg, stop_leg) if leg is not None]
            over = advanced_orders.legs_outcome(kind, legs)
            if over is None or any(leg.status in advanced_orders.OPEN for leg in legs):
                continue  # a leg to cancel, or the position to check: one by one
            status, why, _ = over
        closing.append(
            {
                "_id": row_id,
                "_revision": revision,
                "_status": status,
                "_reason": why[:2000],
                "_now": now,
                "payload": {
                    "id": row_id,
                    "kind": kind,
                    "account_id": account_id,
                    "symbol": symbol,
                    "side": side,
                    "qty": qty,
                    "status": status.value,
                    "stop_price": shown(stop) if stop is not None else None,
                    "reason": why[:2000],
                },
                "strategy_id": strategy_id,
            }
        )
    if not closing:
        return set()
    db.session.execute(_CLOSE, [{k: v for k, v in c.items() if k.startswith("_")} for c in closing])
    for item in closing:
        payload = item["payload"]
        name = "trailing stop" if payload["kind"] == AdvancedKind.TRAILING else "OCO order"
        audit.record(
            AuditCategory.ORDER,
            f"{name} {payload['id']} {payload['status']}: {payload['reason']}",
            data={"advanced_order_id": payload["id"], "kind": payload["kind"]},
            account_id=payload["account_id"],
            strategy_id=item["strategy_id"],
        )
    db.session.commit()
    for item in closing:
        book.watches.pop(item["_id"], None)
        events.publish("advanced_order", item["payload"])
    return {item["_id"] for item in closing}


def _write_states(
    moved: list[tuple[Watch, TrailState]], modified: list[tuple[Watch, TrailState]]
) -> None:
    """Best prices and stops in one statement, each guarded by the revision we read; the
    rows whose broker stop was modified in another, with when (`_move_stops` stamped it)."""
    if not moved and not modified:
        return
    if moved:
        db.session.execute(
            _WRITE_STATE,
            [
                {"_id": w.id, "_revision": w.revision, "_best": s.best, "_stop": s.stop}
                for w, s in moved
            ],
        )
    if modified:
        db.session.execute(
            _WRITE_MODIFIED,
            [
                {
                    "_id": w.id,
                    "_revision": w.revision,
                    "_best": s.best,
                    "_stop": s.stop,
                    "_modified": w.modified_at,
                }
                for w, s in modified
            ],
        )
    db.session.commit()
    for watch, state in (*moved, *modified):
        watch.state = state


def _may_modify(watch: Watch, now: datetime, spacing: float) -> bool:
    """Whether the stop's request budget allows a modification now (a clock that went
    back never blocks it)."""
    if spacing <= 0 or watch.modified_at is None:
        return True
    elapsed = (now - watch.modified_at).total_seconds()
    return elapsed >= spacing or elapsed < 0


def _tell_delayed(memory: _State, held: set[str], quotes: dict) -> None:
    """Say once per symbol that a late feed holds its advanced orders, and when it is live
    again: once, not every tick."""
    for symbol in sorted(held - memory.delayed):
        message = (
            f"{advanced_orders.delayed_reason(symbol)}: its trailing stops, break-even and "
            "take profits watched in-app hold, the stops at the broker stay where they are"
        )
        logger.warning(message)
        audit.record(
            AuditCategory.SYSTEM, message, severity=Severity.WARNING, data={"symbol": symbol}
        )
    for symbol in sorted(memory.delayed - held):
        if (quote := quotes.get(symbol)) is not None and not quote.delayed:
            logger.info("market data for %s is live again: its advanced orders follow it", symbol)
    if held - memory.delayed:
        db.session.commit()
    memory.delayed = held


def _move_stops(
    tightened: dict[int, list[tuple[Watch, TrailState]]],
    brokers: "_Brokers",
    status,
    now: datetime,
) -> list[tuple[Watch, TrailState]]:
    """Modify the broker stops that tightened: one batch per account (orders.modify_stops);
    returns those the broker moved.

    A stop the broker refused keeps its old price there; the trail's state moves anyway,
    so a print through the trail's stop exits at the market (advanced_orders.exit_trail),
    and it is not asked again until the trail tightens further. One that could not be
    modified for a passing reason (a timeout, a 5xx, a rate limit) stays lagging, so the
    next allowed modification sends it again: a stop must not stay loose for want of a
    new high. Each stop sent is stamped `now` for the request budget, whatever the answer.
    """
    moved: list[tuple[Watch, TrailState]] = []
    for account_id, items in tightened.items():
        rows = {
            row.id: row
            for row in db.session.scalars(
                select(Order).where(Order.id.in_([w.stop_order_id for w, _ in items]))
            )
        }
        items = [(w, s) for w, s in items if w.stop_order_id in rows]
        try:
            broker = brokers(account_id)
            errors = orders.modify_stops(
                broker, [rows[w.stop_order_id] for w, _ in items], [s.stop for _, s in items]
            )
        except Exception as exc:
            db.session.rollback()
            if not isinstance(exc, BrokerError):
                logger.exception("account %s: moving %d stops failed", account_id, len(items))
            message = getattr(exc, "message", f"{type(exc).__name__}: {exc}")
            errors = [exc if isinstance(exc, BrokerError) else BrokerError(message)] * len(items)
        for (watch, state), error in zip(items, errors, strict=True):
            watch.lagging, watch.modified_at = isinstance(error, _PASSING), now
            if error is None:
                moved.append((watch, state))
            else:
                _failed(status, f"advanced order {watch.id}: {error.message}")
    return moved


def _announce_stops(moved: list[tuple[Watch, TrailState]], now: datetime) -> None:
    """Tell each stop the broker moved (`stop_moved`), with the commit that writes its
    state; `watch.state` still holds the stop before the move."""
    for watch, state in moved:
        before = watch.state.stop if watch.state is not None else None
        events.publish_after_commit(
            db.session(),
            "stop_moved",
            {
                "advanced_order_id": watch.id,
                "account_id": watch.account_id,
                "symbol": watch.symbol,
                "direction": "long" if watch.opened_by == Side.BUY else "short",
                "stop_price": shown(state.stop),
                "previous_stop": shown(before) if before is not None else None,
                "at": now.isoformat(),
            },
        )


def _perform(book: Book, act: _Act, brokers: _Brokers, now: datetime, status: MonitorStatus):
    """Do one row's broker work; a failure is the row's, never the tick's."""
    row = db.session.scalar(
        select(AdvancedOrder)
        .where(AdvancedOrder.id == act.row_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        book.watches.pop(act.row_id, None)
        return
    try:
        if row.status not in advanced_orders.WATCHED:
            pass
        elif act.action is None:
            advanced_orders.settle(brokers, row, now)
        elif act.action is OcoLeg.TAKE_PROFIT:
            advanced_orders.take_profit_touched(brokers(row.account_id), row, act.price, now)
        elif act.action == BREAK_EVEN:
            advanced_orders.reach_break_even(brokers(row.account_id), row, act.price, now)
        else:
            advanced_orders.drive(
                brokers(row.account_id), row, act.state, act.action, act.price, now
            )
    except BrokerError as exc:
        db.session.rollback()
        _failed(status, f"advanced order {act.row_id}: {exc.message}")
        logger.warning("advanced order %s: %s; trying again next tick", act.row_id, exc.message)
    except Exception as exc:
        db.session.rollback()
        _failed(status, f"advanced order {act.row_id}: {type(exc).__name__}: {exc}")
        logger.exception("advanced order %s: the monitor failed on it", act.row_id)
    try:
        db.session.refresh(row)
        book.put(row)
    except Exception:
        db.session.rollback()
        book.watches.pop(act.row_id, None)  # read again in full next tick


def _money(value: Decimal) -> str:
    return shown(money(value))


def _failed(status: MonitorStatus, message: str) -> None:
    status.errors += 1
    status.last_error = message


# --- the daily loss limit ---------------------------------------------------------------------


def enforce_daily_loss(now: datetime, status: MonitorStatus | None = None) -> list[int]:
    """Halt and flatten each account whose realized + open P&L today reached its
    max_daily_loss (kill_switch.flatten_and_halt); returns the accounts halted."""
    limits = db.session.execute(
        select(RiskLimits.account_id, RiskLimits.max_daily_loss, RiskLimits.safety_buffer)
        .join(BrokerAccount, BrokerAccount.id == RiskLimits.account_id)
        .where(
            RiskLimits.max_daily_loss.is_not(None),
            RiskLimits.halted.is_(False),
            BrokerAccount.enabled.is_(True),
        )
    ).all()
    if not limits:
        return []
    since = trading_day_start(now)
    halted = []
    for account_id, limit, buffer in limits:
        realized = Decimal(
            db.session.scalar(
                select(func.coalesce(func.sum(Trade.pnl), 0)).where(
                    Trade.account_id == account_id, Trade.exit_time >= since
                )
            )
        )
        unrealized = sum(
            (view.unrealized_pnl or Decimal(0) for view in positions.open_positions(account_id)),
            Decimal(0),
        )
        day = realized + unrealized
        if day > -(limit - (buffer or 0)):  # the safety buffer acts that much early
            continue
        less = f" less its {_money(buffer)} buffer" if buffer else ""
        reason = (
            f"daily loss limit {_money(limit)}{less} reached: today's P&L {_money(day)} "
            f"(realized {_money(realized)}, open {_money(unrealized)})"
        )
        try:
            flatten_and_halt(account_id, HaltKind.DAILY_LOSS, reason, now, actor="monitor")
        except Exception as exc:
            db.session.rollback()
            logger.exception("account %s: daily loss limit reached but not enforced", account_id)
            if status is not None:
                _failed(status, f"account {account_id}: daily loss not enforced: {exc}")
            continue
        halted.append(account_id)
    db.session.commit()
    return halted
