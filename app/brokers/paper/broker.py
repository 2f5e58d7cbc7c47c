"""The built-in paper broker: DeskPilot's own matching engine, behind the same port as Tradovate.

`PaperBroker(account_id, starting_cash)` is cheap to make per call. A paper account's book
lives in the venue's own tables (tables.py, through store.py); each process keeps a copy
of the books it uses as a `MatchingEngine` and checks the stored version before every use,
so a book another process changed is reloaded, and a change made from an outdated copy is
refused and redone (store.StaleBook). Nothing here reads or writes DeskPilot's orders,
fills, positions or trades: every batch of engine events is reported as a `BrokerReport`
(app.brokers.listeners), which the ledger applies in the same transaction before this
adapter commits — the same path Tradovate's fills take.

Prices drive the books: `on_price`, connected to the services' price cache when the app
is built, records the print as the venue's last price (paper_quotes, shared by every
process) and hands it to every paper account that has orders or a position. A call first
catches its book up with the venue's last price of its symbols, so an alert's price
published just before its order is the one the order meets.

The venue lives in the app's extensions; code running outside an app context (a market-data
thread) reaches the app that wired the venue last. Slippage, commission and
partial fills come from PAPER_SLIPPAGE_TICKS, PAPER_COMMISSION_PER_CONTRACT and
PAPER_MAX_FILL_PER_PRINT when a venue is made.
"""

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from flask import Flask, current_app, has_app_context

from app.brokers import listeners
from app.brokers.base import (
    AccountState,
    BracketRequest,
    Broker,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerReport,
    OrderRequest,
)
from app.brokers.errors import BrokerError, OrderRejected, TemporaryBrokerError, UnknownOrder
from app.brokers.paper import feed, store
from app.brokers.paper.store import StaleBook
from app.domain import matching
from app.domain.contracts import SPECS, ContractSpec
from app.domain.matching import Event, MatchingEngine
from app.domain.price_feeds import FeedError, contract_root
from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.extensions import db

logger = logging.getLogger(__name__)

_EXTENSION = "deskpilot.paper_venue"
_wired_app: weakref.ref[Flask] | None = None
ATTEMPTS = 3  # a call redone after another process changed the book meanwhile

Operation = Callable[[MatchingEngine, datetime], list[Event]]
T = TypeVar("T")


def contract_terms(symbol: str) -> ContractSpec | None:
    """The spec of a resolved contract code ("MESZ6"); None for anything else."""
    root = contract_root(symbol)
    return SPECS.get(root) if root != symbol else None


@dataclass(eq=False)
class _Book:
    account_id: int
    engine: MatchingEngine
    version: int
    lock: threading.RLock = field(default_factory=threading.RLock)


class PaperVenue:
    """This process's copies of the paper books, each checked against the stored version."""

    def __init__(
        self,
        slippage_ticks: int,
        commission_per_contract: Decimal,
        max_fill_per_print: int | None = None,
    ) -> None:
        self.slippage_ticks = slippage_ticks
        self.commission_per_contract = commission_per_contract
        self.max_fill_per_print = max_fill_per_print
        self._books: dict[int, _Book] = {}
        self._locks: dict[int, threading.RLock] = {}
        self._guard = threading.Lock()

    def run(
        self,
        account_id: int,
        operation: Operation,
        now: datetime,
        *,
        symbols: Iterable[str] = (),
        starting_cash: Decimal | None = None,
    ) -> list[Event]:
        """Apply `operation` to the account's up-to-date book, after catching it up with the
        venue's prices of `symbols`; save, report and commit what it did. Redone on a
        fresh book when another process saved first."""
        for _ in range(ATTEMPTS):
            with self._lock(account_id):
                book = self._current(account_id, starting_cash)
                try:
                    events = _catch_up(book.engine, symbols)
                    events += operation(book.engine, now)
                    if events:
                        self._commit(book, events)
                    return events
                except StaleBook:
                    self._forget(account_id)
                except BaseException:
                    self._forget(account_id)
                    raise
        raise TemporaryBrokerError(
            f"paper account {account_id} kept changing in another process; nothing changed"
        )

    def read(
        self,
        account_id: int,
        reader: Callable[[MatchingEngine], T],
        starting_cash: Decimal | None = None,
    ) -> T:
        """What `reader` finds in the account's up-to-date book, read under its lock (a
        price thread may be changing the same book)."""
        with self._lock(account_id):
            return reader(self._current(account_id, starting_cash).engine)

    def forget_all(self) -> None:
        with self._guard:
            self._books.clear()

    def _lock(self, account_id: int) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.RLock())

    def _current(self, account_id: int, starting_cash: Decimal | None) -> _Book:
        stored = store.version_of(account_id)
        if stored is None:
            store.open_account(account_id, starting_cash or Decimal(0))
            db.session.commit()
            stored = 0
        book = self._books.get(account_id)
        if book is None or book.version != stored:
            book = self._books[account_id] = self._restore(account_id)
        return book

    def _forget(self, account_id: int) -> None:
        db.session.rollback()
        self._books.pop(account_id, None)

    def _restore(self, account_id: int) -> _Book:
        saved = store.load_book(account_id, contract_terms)
        engine = MatchingEngine(
            contract_terms,
            slippage_ticks=self.slippage_ticks,
            commission_per_contract=self.commission_per_contract,
            max_fill_per_print=self.max_fill_per_print,
            cash=saved.cash,
            orders=saved.orders,
            positions=saved.positions,
            last_prices={symbol: quote for symbol, (quote, _) in _venue_quotes(saved).items()},
        )
        return _Book(account_id, engine, saved.version)

    def _commit(self, book: _Book, events: Sequence[Event]) -> None:
        """Save the batch in the venue's tables, let the ledger apply its report in the same
        transaction, commit once. A failure rolls both back; the copy is then reloaded."""
        try:
            version = store.save(book.account_id, book.version, events, book.engine.cash)
            listeners.report(
                BrokerReport(
                    account_id=book.account_id,
                    orders=store.reported_orders(events),
                    fills=store.reported_fills(events),
                    cash=store.money(book.engine.cash),
                )
            )
            db.session.commit()
        except StaleBook:
            raise
        except Exception as exc:
            logger.exception("paper account %s: events not saved; book reloads", book.account_id)
            raise TemporaryBrokerError(
                f"paper account {book.account_id}: the result could not be saved "
                f"({type(exc).__name__}); nothing changed"
            ) from exc
        book.version = version


def _venue_quotes(book: store.Book) -> dict[str, tuple[Decimal, datetime]]:
    symbols = {order.symbol for order in book.orders} | {p.symbol for p in book.positions}
    return store.quotes(symbols)


def _catch_up(engine: MatchingEngine, symbols: Iterable[str]) -> list[Event]:
    """Give the engine the venue's last price of each symbol it has not seen yet."""
    events: list[Event] = []
    for symbol, (value, time) in store.quotes(symbols).items():
        if engine.last_price(symbol) != value:
            events += engine.on_price(symbol, value, time)
    return events


def _app() -> Flask:
    """The current app, else the app that last wired the venue (a thread without context)."""
    if has_app_context():
        return current_app._get_current_object()
    app = _wired_app() if _wired_app is not None else None
    if app is None:
        raise RuntimeError("no app has wired the paper venue (create_app does)")
    return app


def venue(app: Flask | None = None) -> PaperVenue:
    """The app's paper venue, made on first use."""
    app = app or _app()
    found = app.extensions.get(_EXTENSION)
    if found is None:
        made = PaperVenue(*_costs(app.config), max_fill_per_print=_max_fill(app.config))
        found = app.extensions.setdefault(_EXTENSION, made)
    return found


def _costs(config: Mapping) -> tuple[int, Decimal]:
    """PAPER_SLIPPAGE_TICKS and PAPER_COMMISSION_PER_CONTRACT, checked."""
    slippage, commission = (
        config.get("PAPER_SLIPPAGE_TICKS", 0),
        config.get("PAPER_COMMISSION_PER_CONTRACT", "0"),
    )
    try:
        ticks, amount = int(slippage), Decimal(str(commission))
    except (ValueError, ArithmeticError):
        ticks, amount = -1, Decimal(-1)
    if ticks < 0 or not amount.is_finite() or amount < 0:
        raise ValueError(
            "PAPER_SLIPPAGE_TICKS must be a whole number >= 0 and PAPER_COMMISSION_PER_CONTRACT "
            f"an amount >= 0 (e.g. 0.62); got {slippage!r} and {commission!r}"
        )
    return ticks, amount


def _max_fill(config: Mapping) -> int | None:
    """PAPER_MAX_FILL_PER_PRINT, checked: the most contracts one print fills of a resting
    limit order; 0 (the default) fills orders whole."""
    setting = config.get("PAPER_MAX_FILL_PER_PRINT", "0")
    try:
        contracts = int(str(setting))
    except ValueError:
        contracts = -1
    if contracts < 0:
        raise ValueError(
            f"PAPER_MAX_FILL_PER_PRINT must be a whole number >= 0 (0: fill whole); got {setting!r}"
        )
    return contracts or None


def reset_venues() -> None:
    """Drop this process's copies of the books; each is reloaded from its tables on next use."""
    found = _app().extensions.pop(_EXTENSION, None)
    if found is not None:
        found.forget_all()


def wire_app(app: Flask) -> None:
    """Remember `app` for prices that arrive on threads without an app context."""
    global _wired_app
    _wired_app = weakref.ref(app)


def on_price(symbol: str, price: Decimal, time: datetime) -> None:
    """Record a print as the venue's last price and hand it to every live paper account."""
    if contract_terms(symbol) is None:
        return
    if has_app_context():
        _apply_price(venue(), symbol, price, time)
        return
    app = _app()  # a market-data thread: the wired app's context and database session
    with app.app_context():
        _apply_price(venue(app), symbol, price, time)


def _apply_price(paper: PaperVenue, symbol: str, price: Decimal, time: datetime) -> None:
    """Every live book meets the print first; then it becomes the venue's last price (a
    book restored from the stored quotes has seen them, so a quote is stored only once
    the books have met it). A print at the venue's last price changes nothing: every book
    has met that price, and an order submitted since met it as it arrived."""
    if store.quotes([symbol]).get(symbol, (None,))[0] == store.price(price):
        return
    for account_id in store.active_account_ids():
        try:
            paper.run(account_id, lambda engine, now: engine.on_price(symbol, price, now), time)
        except TemporaryBrokerError:
            pass  # logged where it failed; the reloaded book meets the next price
        except Exception:
            logger.exception("paper account %s: price %s %s not applied", account_id, symbol, price)
    store.write_quote(symbol, price, time)
    db.session.commit()


def _now() -> datetime:
    return datetime.now(UTC)


def _engine_order(request: OrderRequest, *, oco_group: str | None = None) -> matching.Order:
    return matching.Order(
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=Side(request.side),
        qty=request.qty,
        order_type=OrderType(request.order_type),
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        oco_group=oco_group or request.oco_group,
        reduce_only=request.reduce_only,
    )


def _outcome(events: Sequence[Event], client_order_id: str) -> BrokerOrder | None:
    """The order as the last event about it left it."""
    for event in reversed(events):
        order = getattr(event, "order", None)
        if order is not None and order.client_order_id == client_order_id:
            return store.broker_order(order, store.event_reason(event))
    return None


def _refusal(events: Sequence[Event]) -> matching.RequestRejected | None:
    return next((e for e in events if isinstance(e, matching.RequestRejected)), None)


def _bracket_problem(request: BracketRequest) -> str | None:
    """What the engine's bracket cannot express: exits are a limit and a stop for the size."""
    entry = request.entry
    closing = Side.SELL if Side(entry.side) is Side.BUY else Side.BUY
    for name, exit_, order_type, price_name in (
        ("take profit", request.take_profit, OrderType.LIMIT, "limit_price"),
        ("stop loss", request.stop_loss, OrderType.STOP, "stop_price"),
    ):
        if exit_ is None:
            continue
        if exit_.order_type != order_type or getattr(exit_, price_name) is None:
            return f"the {name} must be a {order_type} order with its price"
        if exit_.limit_price is not None and exit_.stop_price is not None:
            return f"the {name} takes one price"
        if (exit_.symbol, exit_.side, exit_.qty) != (entry.symbol, closing, entry.qty):
            return f"the {name} must {closing} {entry.qty} {entry.symbol}, the entry's size"
    if request.take_profit is None and request.stop_loss is None:
        return "a bracket needs a take profit or a stop loss"
    return None


class PaperBroker(Broker):
    """One paper account, trading against DeskPilot's own matching engine."""

    reduce_only_exits = True  # the engine fits reduce-only orders after every fill

    def __init__(
        self,
        account_id: int,
        starting_cash: Decimal = Decimal(0),
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.account_id = account_id
        self.starting_cash = starting_cash
        self._clock = clock

    def _run(self, operation: Operation, symbols: Iterable[str]) -> list[Event]:
        return venue().run(
            self.account_id,
            operation,
            self._clock(),
            symbols=symbols,
            starting_cash=self.starting_cash,
        )

    def _read(self, reader: Callable[[MatchingEngine], T]) -> T:
        return venue().read(self.account_id, reader, self.starting_cash)

    # Queries.

    def account_state(self) -> AccountState:
        return self._read(_state_of)

    def positions(self) -> list[BrokerPosition]:
        held = self._read(lambda engine: [p for p in engine.positions() if p.qty])
        return [BrokerPosition(p.symbol, p.qty, store.price(p.avg_price)) for p in held]

    def working_orders(self) -> list[BrokerOrder]:
        return [store.broker_order(order) for order in self._read(_working)]

    def fills_since(self, since: datetime) -> list[BrokerFill]:
        return store.fills_since(self.account_id, since)

    def find_order(self, client_order_id: str) -> BrokerOrder | None:
        return store.find_order(self.account_id, client_order_id)

    # Orders.

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        placed = self._already_placed([request.client_order_id])
        if placed is not None:
            return placed[0]
        order = _engine_order(request)
        events = self._run(lambda engine, now: engine.submit(order, now), [request.symbol])
        return self._answer(events, request.client_order_id)

    def place_bracket(self, request: BracketRequest) -> list[BrokerOrder]:
        exits = [r for r in (request.take_profit, request.stop_loss) if r is not None]
        requests = [request.entry, *exits]
        ids = [r.client_order_id for r in requests]
        placed = self._already_placed(ids)
        if placed is not None:
            return placed
        problem = _bracket_problem(request)
        if problem:
            self._run(lambda engine, now: _refused(requests, problem, now), [])
            raise OrderRejected(problem)
        group = next((r.oco_group for r in exits if r.oco_group), request.entry.client_order_id)

        def submit(engine: MatchingEngine, now: datetime) -> list[Event]:
            return engine.submit_bracket(
                _engine_order(request.entry),
                request.take_profit.limit_price if request.take_profit else None,
                request.stop_loss.stop_price if request.stop_loss else None,
                now,
                take_profit_id=request.take_profit.client_order_id if request.take_profit else None,
                stop_loss_id=request.stop_loss.client_order_id if request.stop_loss else None,
                oco_group=group,
            )

        events = self._run(submit, [request.entry.symbol])
        return [self._answer(events, client_order_id) for client_order_id in ids]

    def place_oco(self, first: OrderRequest, second: OrderRequest) -> list[BrokerOrder]:
        ids = [first.client_order_id, second.client_order_id]
        placed = self._already_placed(ids)
        if placed is not None:
            return placed
        group = first.oco_group or second.oco_group or f"oco-{first.client_order_id}"
        legs = [_engine_order(r, oco_group=group) for r in (first, second)]
        events = self._run(
            lambda engine, now: engine.submit_oco(legs, group, now),
            dict.fromkeys((first.symbol, second.symbol)),
        )
        return [self._answer(events, client_order_id) for client_order_id in ids]

    def modify_order(
        self,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> BrokerOrder:
        known = self._read(lambda engine: engine.order(client_order_id))
        events = self._run(
            lambda engine, now: engine.modify(
                client_order_id, now, qty=qty, limit_price=limit_price, stop_price=stop_price
            ),
            [known.symbol] if known is not None else [],
        )
        refusal = _refusal(events)
        if refusal is not None:
            raise (UnknownOrder if matching.unknown_order(refusal) else OrderRejected)(
                refusal.reason
            )
        return self._answer(events, client_order_id)

    def modify_stops(
        self, changes: Sequence[tuple[str, Decimal]]
    ) -> list[BrokerOrder | BrokerError]:
        """Move many stops in one batch (the monitor's tick): one catch-up, one save."""
        symbols = self._read(
            lambda engine: {o.symbol for cid, _ in changes if (o := engine.order(cid)) is not None}
        )
        events = self._run(lambda engine, now: engine.modify_stops(changes, now), symbols)
        last: dict[str, Event] = {}
        for event in events:
            order = getattr(event, "order", None)
            key = order.client_order_id if order is not None else event.client_order_id
            last[key] = event
        return [
            _stop_answer(last.get(client_order_id), client_order_id)
            for client_order_id, _ in changes
        ]

    def cancel_order(self, client_order_id: str) -> BrokerOrder:
        events = self._run(lambda engine, now: engine.cancel(client_order_id, now), [])
        refusal = _refusal(events)
        if refusal is not None:
            raise UnknownOrder(refusal.reason)
        return self._answer(events, client_order_id)

    def flatten(self, symbol: str, client_order_id: str) -> BrokerOrder | None:
        placed = self._already_placed([client_order_id])
        if placed is not None:
            return placed[0]
        events = self._run(
            lambda engine, now: engine.flatten(symbol, client_order_id, now), [symbol]
        )
        if _outcome(events, client_order_id) is None:
            return None  # already flat: nothing was sent
        return self._answer(events, client_order_id)

    # Quotes.

    def last_price(self, symbol: str) -> Decimal | None:
        found = store.quotes([symbol]).get(symbol)
        return found[0] if found else None

    def subscribe_quotes(self, symbol: str) -> None:
        try:
            feed.subscribe(symbol)
        except FeedError as exc:
            logger.warning("paper feed cannot quote %s: %s", symbol, exc.message)

    # Helpers.

    def _answer(self, events: Sequence[Event], client_order_id: str) -> BrokerOrder:
        """The order after the call; a refusal raises with the venue's words."""
        outcome = _outcome(events, client_order_id)
        if outcome is None:
            raise BrokerError(f"the paper venue said nothing about {client_order_id}")
        if outcome.status is OrderStatus.REJECTED:
            raise OrderRejected(outcome.reason or "rejected")
        return outcome

    def _already_placed(self, client_order_ids: Sequence[str]) -> list[BrokerOrder] | None:
        """A repeated call for orders the venue already has: their state, nothing placed."""
        first = store.find_order(self.account_id, client_order_ids[0])
        if first is None:
            return None
        answers = []
        for client_order_id in client_order_ids:
            found = store.find_order(self.account_id, client_order_id)
            if found is None:
                raise BrokerError(f"the paper venue holds no order {client_order_id}")
            if found.status is OrderStatus.REJECTED:
                raise OrderRejected(found.reason or "rejected")
            answers.append(found)
        return answers


def _state_of(engine: MatchingEngine) -> AccountState:
    symbols = {p.symbol for p in engine.positions() if p.qty}
    marks = {symbol: value for symbol, (value, _) in store.quotes(symbols).items()}
    realized = sum((p.realized_pnl for p in engine.positions()), Decimal(0))
    unrealized = engine.unrealized_pnl(marks)
    return AccountState(
        cash=store.money(engine.cash),
        realized_pnl=store.money(realized),
        unrealized_pnl=store.money(unrealized),
        equity=store.money(engine.cash + unrealized),
    )


def _working(engine: MatchingEngine) -> list[matching.Order]:
    return list(engine.working_orders())


def _refused(requests: Sequence[OrderRequest], problem: str, now: datetime) -> list[Event]:
    """The venue's record of a bracket it cannot take: every order rejected, the entry why."""
    entry = requests[0]
    follower = f"bracket entry {entry.client_order_id} rejected: {problem}"
    return [
        matching.OrderRejected(
            replace(_engine_order(r), status=OrderStatus.REJECTED),
            problem if r is entry else follower,
            now,
        )
        for r in requests
    ]


def _stop_answer(event: Event | None, client_order_id: str) -> BrokerOrder | BrokerError:
    if isinstance(event, matching.RequestRejected):
        kind = UnknownOrder if matching.unknown_order(event) else OrderRejected
        return kind(event.reason)
    if event is None or getattr(event, "order", None) is None:
        return BrokerError(f"the paper venue said nothing about {client_order_id}")
    return store.broker_order(event.order, store.event_reason(event))
