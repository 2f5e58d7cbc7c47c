"""The built-in paper broker: one matching engine per paper account, its state in the database.

`PaperBroker(account_id)` is cheap to make per call; the books live in the app's
`PaperVenue`, one `MatchingEngine` per account, each behind its own lock. A book is
restored from the database the first time it is used (paper_store.load_state) and every
change the engine reports is saved before the call returns, so the database is the truth
and `reset_venues()` (or a restart) loses nothing.

Prices drive the books: `on_price`, subscribed to the price cache once at app start
(`wire_prices`), hands each print to every paper account's engine and saves what it
fills. A broker call first catches its engine up with the cached price of its symbol, so
an alert's price published just before the order is the one the order meets.

The venue lives in `app.extensions`, so each app (each test's app) has its own; a price
arriving outside an app context (a market-data thread) is applied inside the context of
the app that wired the venue last, whose database session it writes with. Slippage and
commission come from PAPER_SLIPPAGE_TICKS and PAPER_COMMISSION_PER_CONTRACT when a venue
is made.
Everything in memory is per process: run one trading process per database.
"""

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from flask import Flask, current_app, has_app_context

from app.brokers.base import (
    AccountState,
    BracketRequest,
    Broker,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from app.brokers.errors import BrokerError, OrderRejected, TemporaryBrokerError, UnknownOrder
from app.brokers.paper import feed as paper_feed
from app.brokers.paper import store as paper_store
from app.domain import matching
from app.domain.contracts import SPECS, ContractSpec
from app.domain.matching import Event, MatchingEngine
from app.domain.price_feeds import FeedError, contract_root
from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.extensions import db
from app.services.market import prices

logger = logging.getLogger(__name__)

_EXTENSION = "deskpilot.paper_venue"
_wired_app: weakref.ref[Flask] | None = None


def contract_terms(symbol: str) -> ContractSpec | None:
    """The spec of a resolved contract code ("MESZ6"); None for anything else."""
    root = contract_root(symbol)
    return SPECS.get(root) if root != symbol else None


@dataclass(eq=False)
class _Book:
    account_id: int
    engine: MatchingEngine
    lock: threading.RLock = field(default_factory=threading.RLock)
    stale: bool = False  # replaced: its engine may disagree with the database


class PaperVenue:
    """Every paper account's matching engine in this app."""

    def __init__(self, slippage_ticks: int, commission_per_contract: Decimal) -> None:
        self.slippage_ticks = slippage_ticks
        self.commission_per_contract = commission_per_contract
        self._books: dict[int, _Book] = {}
        self._lock = threading.RLock()
        self._primed = False

    @contextmanager
    def locked(self, account_id: int) -> Iterator[_Book]:
        """The account's book, held under its lock; restored from the database if new."""
        while True:
            book = self._book(account_id)
            with book.lock:
                if not book.stale:
                    yield book
                    return

    def account_ids(self) -> list[int]:
        """The accounts a price can move: loaded books, and the first time every paper
        account with orders or a position (an idle one loads on its next broker call)."""
        with self._lock:
            if not self._primed:
                for account_id in paper_store.active_paper_account_ids():
                    try:
                        self._book(account_id)
                    except Exception:
                        logger.exception("paper account %s could not be restored", account_id)
                self._primed = True
            return list(self._books)

    def discard(self, book: _Book) -> None:
        """Forget a book whose engine may disagree with the database; the next use reloads."""
        with self._lock:
            book.stale = True
            if self._books.get(book.account_id) is book:
                del self._books[book.account_id]

    def discard_all(self) -> None:
        with self._lock:
            for book in list(self._books.values()):
                self.discard(book)
            self._primed = False

    def _book(self, account_id: int) -> _Book:
        with self._lock:
            book = self._books.get(account_id)
            if book is None:
                book = _Book(account_id, self._restore(account_id))
                self._books[account_id] = book
            return book

    def _restore(self, account_id: int) -> MatchingEngine:
        state = paper_store.load_state(account_id, contract_terms)
        engine = MatchingEngine(
            contract_terms,
            slippage_ticks=self.slippage_ticks,
            commission_per_contract=self.commission_per_contract,
            cash=state.cash,
            orders=state.orders,
            positions=state.positions,
            last_prices={symbol: quote.price for symbol, quote in prices.snapshot().items()},
        )
        logger.info(
            "paper account %s restored: %d orders, %d open positions",
            account_id,
            len(state.orders),
            sum(1 for position in state.positions if position.qty),
        )
        return engine


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
        made = PaperVenue(*_costs(app.config))
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


def reset_venues() -> None:
    """Drop every book of the current app; each is restored from the database on next use."""
    found = _app().extensions.pop(_EXTENSION, None)
    if found is not None:
        found.discard_all()


def wire_prices(app: Flask) -> None:
    """Subscribe the paper venue to the price cache (once per process).

    A price published outside an app context (a market-data thread) goes to `app`'s
    venue, in `app`'s context: the last app wired.
    """
    global _wired_app
    _wired_app = weakref.ref(app)
    prices.subscribe(on_price)


def on_price(symbol: str, price: Decimal, time: datetime) -> None:
    """Hand a print to every paper account's engine and save what it did; a print from a
    thread without an app context (market data) is applied in the wired app's context."""
    if has_app_context():
        _apply_price(symbol, price, time)
        return
    with _app().app_context():
        _apply_price(symbol, price, time)


def _apply_price(symbol: str, price: Decimal, time: datetime) -> None:
    paper = venue()
    for account_id in paper.account_ids():
        try:
            with paper.locked(account_id) as book:
                events = book.engine.on_price(symbol, price, time)
                if events:
                    _save(paper, book, events)
        except TemporaryBrokerError:
            pass  # logged by _save; the reloaded book meets the next price
        except Exception:
            logger.exception("paper account %s: price %s %s not applied", account_id, symbol, price)


def live_symbols() -> dict[str, Decimal | None]:
    """Symbols with paper orders or open positions, with a price to resume a feed from."""
    found: dict[str, Decimal | None] = {}
    paper = venue()
    for account_id in paper.account_ids():
        with paper.locked(account_id) as book:
            engine = book.engine
            symbols = {order.symbol for order in engine.working_orders()}
            symbols |= {position.symbol for position in engine.positions() if position.qty}
            last_fills = paper_store.last_fill_prices(account_id, symbols - found.keys())
        for symbol in symbols:
            quote = prices.last(symbol)
            found[symbol] = quote.price if quote else found.get(symbol) or last_fills.get(symbol)
    return found


def _save(
    paper: PaperVenue, book: _Book, events: Sequence[Event], *, stop_moves: bool = False
) -> None:
    """Persist a batch; on failure the book is dropped so the database stays the truth."""
    try:
        paper_store.save(book.account_id, events, book.engine.cash, stop_moves=stop_moves)
    except Exception as exc:
        db.session.rollback()
        paper.discard(book)
        logger.exception("paper account %s: events not saved; book reloads", book.account_id)
        raise TemporaryBrokerError(
            f"paper account {book.account_id}: the result could not be saved "
            f"({type(exc).__name__}); nothing changed"
        ) from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _behind(engine: MatchingEngine, symbol: str) -> bool:
    """Whether the cache holds a price of `symbol` the engine has not seen."""
    quote = prices.last(symbol)
    return quote is not None and engine.last_price(symbol) != quote.price


def _catch_up(engine: MatchingEngine, symbol: str) -> list[Event]:
    """Give the engine the cached price of `symbol` if it has not seen it yet."""
    quote = prices.last(symbol)
    if quote is None or engine.last_price(symbol) == quote.price:
        return []
    return engine.on_price(symbol, quote.price, quote.time)


def _engine_order(
    request: OrderRequest, *, oco_group: str | None = None, reduce_only: bool = False
) -> matching.Order:
    return matching.Order(
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=Side(request.side),
        qty=request.qty,
        order_type=OrderType(request.order_type),
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        oco_group=oco_group,
        reduce_only=reduce_only,
    )


def _broker_order(order: matching.Order, reason: str | None = None) -> BrokerOrder:
    placed = order.status is not OrderStatus.REJECTED
    return BrokerOrder(
        client_order_id=order.client_order_id,
        broker_order_id=paper_store.paper_order_id(order.client_order_id) if placed else None,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_type=order.order_type,
        status=order.status,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        filled_qty=order.filled_qty,
        avg_fill_price=order.avg_fill_price,
        reason=reason,
    )


def _outcome(events: Sequence[Event], client_order_id: str) -> BrokerOrder | None:
    """The order as the last event about it left it."""
    for event in reversed(events):
        order = getattr(event, "order", None)
        if order is not None and order.client_order_id == client_order_id:
            return _broker_order(order, getattr(event, "reason", None))
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


def _rejected_order(request: OrderRequest) -> matching.Order:
    return replace(_engine_order(request), status=OrderStatus.REJECTED)


class PaperBroker(Broker):
    """One paper account, trading against DeskPilot's own matching engine."""

    def __init__(self, account_id: int, *, clock: Callable[[], datetime] = _now) -> None:
        self.account_id = account_id
        self._clock = clock

    @contextmanager
    def _book(self) -> Iterator[_Book]:
        with venue().locked(self.account_id) as book:
            yield book

    def _save(self, book: _Book, events: Sequence[Event], *, stop_moves: bool = False) -> None:
        _save(venue(), book, events, stop_moves=stop_moves)

    # Queries.

    def account_state(self) -> AccountState:
        marks = {symbol: quote.price for symbol, quote in prices.snapshot().items()}
        with self._book() as book:
            engine = book.engine
            cash = engine.cash
            realized = sum((p.realized_pnl for p in engine.positions()), Decimal(0))
            unrealized = engine.unrealized_pnl(marks)
        return AccountState(
            cash=paper_store.money(cash),
            realized_pnl=paper_store.money(realized),
            unrealized_pnl=paper_store.money(unrealized),
            equity=paper_store.money(cash + unrealized),
        )

    def positions(self) -> list[BrokerPosition]:
        with self._book() as book:
            held = [p for p in book.engine.positions() if p.qty]
        return [BrokerPosition(p.symbol, p.qty, paper_store.price(p.avg_price)) for p in held]

    def working_orders(self) -> list[BrokerOrder]:
        with self._book() as book:
            return [_broker_order(order) for order in book.engine.working_orders()]

    def fills_since(self, since: datetime) -> list[BrokerFill]:
        return paper_store.fills_since(self.account_id, since)

    # Orders.

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        with self._book() as book:
            row = paper_store.order_row(request.client_order_id)
            if paper_store.at_venue(row) or (row and row.account_id != self.account_id):
                return self._already_placed([request.client_order_id])[0]
            links = paper_store.links(row)
            order = _engine_order(request, oco_group=links.oco_group, reduce_only=links.reduce_only)
            events = _catch_up(book.engine, request.symbol)
            events += book.engine.submit(order, self._clock())
            self._save(book, events)
        return self._answer(events, request.client_order_id)

    def place_bracket(self, request: BracketRequest) -> list[BrokerOrder]:
        exits = [r for r in (request.take_profit, request.stop_loss) if r is not None]
        requests = [request.entry, *exits]
        ids = [r.client_order_id for r in requests]
        with self._book() as book:
            if paper_store.at_venue(paper_store.order_row(request.entry.client_order_id)):
                return self._already_placed(ids)
            problem = _bracket_problem(request)
            if problem:
                follower = f"bracket entry {request.entry.client_order_id} rejected: {problem}"
                events = [
                    matching.OrderRejected(
                        _rejected_order(r),
                        problem if r is request.entry else follower,
                        self._clock(),
                    )
                    for r in requests
                ]
                self._save(book, events)
                raise OrderRejected(problem)
            group = paper_store.join_group(
                self.account_id, ids, request.entry.client_order_id, legs=ids[1:]
            )
            events = _catch_up(book.engine, request.entry.symbol)
            events += book.engine.submit_bracket(
                _engine_order(request.entry),
                request.take_profit.limit_price if request.take_profit else None,
                request.stop_loss.stop_price if request.stop_loss else None,
                self._clock(),
                take_profit_id=request.take_profit.client_order_id if request.take_profit else None,
                stop_loss_id=request.stop_loss.client_order_id if request.stop_loss else None,
                oco_group=group,
            )
            self._save(book, events)
        return [self._answer(events, client_order_id) for client_order_id in ids]

    def place_oco(self, first: OrderRequest, second: OrderRequest) -> list[BrokerOrder]:
        ids = [first.client_order_id, second.client_order_id]
        with self._book() as book:
            if paper_store.at_venue(paper_store.order_row(first.client_order_id)):
                return self._already_placed(ids)
            group = paper_store.join_group(
                self.account_id, ids, f"oco-{first.client_order_id}", legs=ids
            )
            legs = [_engine_order(r, reduce_only=True) for r in (first, second)]
            events = []
            for symbol in dict.fromkeys((first.symbol, second.symbol)):
                events += _catch_up(book.engine, symbol)
            events += book.engine.submit_oco(legs, group, self._clock())
            self._save(book, events)
        return [self._answer(events, client_order_id) for client_order_id in ids]

    def modify_order(
        self,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> BrokerOrder:
        with self._book() as book:
            order = book.engine.order(client_order_id)
            events = _catch_up(book.engine, order.symbol) if order is not None else []
            events += book.engine.modify(
                client_order_id,
                self._clock(),
                qty=qty,
                limit_price=limit_price,
                stop_price=stop_price,
            )
            self._save(book, events)
        refusal = _refusal(events)
        if refusal is not None:
            raise (UnknownOrder if order is None else OrderRejected)(refusal.reason)
        return self._answer(events, client_order_id)

    def modify_stops(
        self, changes: Sequence[tuple[str, Decimal]]
    ) -> list[BrokerOrder | BrokerError]:
        """Move many stops under one lock and save them in one batch (the monitor's tick).

        The engine moves them together (`MatchingEngine.modify_stops`: the events of one
        `modify` per change, without a sweep per change); a symbol whose cached price the
        book has not seen is caught up before its first change, as one by one would.
        """
        with self._book() as book:
            engine = book.engine
            now = self._clock()
            events: list[Event] = []
            pending: list[tuple[str, Decimal]] = []
            caught_up: set[str] = set()
            for client_order_id, stop_price in changes:
                order = engine.order(client_order_id)
                if order is not None and order.symbol not in caught_up:
                    if _behind(engine, order.symbol):
                        events += engine.modify_stops(pending, now)  # the changes before it
                        pending = []
                        order = engine.order(client_order_id)
                    if order is not None:
                        caught_up.add(order.symbol)
                        events += _catch_up(engine, order.symbol)
                pending.append((client_order_id, stop_price))
            events += engine.modify_stops(pending, now)
            if events:
                self._save(book, events, stop_moves=True)
        last: dict[str, Event] = {}
        for event in events:
            order = getattr(event, "order", None)
            key = (
                order.client_order_id
                if order is not None
                else getattr(event, "client_order_id", None)
            )
            if key is not None:
                last[key] = event
        answers: list[BrokerOrder | BrokerError] = []
        for client_order_id, _ in changes:
            event = last.get(client_order_id)
            if isinstance(event, matching.RequestRejected):
                kind = UnknownOrder if matching.unknown_order(event) else OrderRejected
                answers.append(kind(event.reason))
            elif event is None or getattr(event, "order", None) is None:
                answers.append(BrokerError(f"the paper venue said nothing about {client_order_id}"))
            else:
                answers.append(_broker_order(event.order, getattr(event, "reason", None)))
        return answers

    def cancel_order(self, client_order_id: str) -> BrokerOrder:
        with self._book() as book:
            events = book.engine.cancel(client_order_id, self._clock())
            self._save(book, events)
        refusal = _refusal(events)
        if refusal is not None:
            raise UnknownOrder(refusal.reason)
        return self._answer(events, client_order_id)

    def flatten(self, symbol: str, client_order_id: str) -> BrokerOrder | None:
        with self._book() as book:
            if paper_store.at_venue(paper_store.order_row(client_order_id)):
                return self._already_placed([client_order_id])[0]
            events = _catch_up(book.engine, symbol)
            events += book.engine.flatten(symbol, client_order_id, self._clock())
            if events:
                self._save(book, events)
            if _outcome(events, client_order_id) is None:
                paper_store.cancel_unsent(
                    self.account_id, client_order_id, f"{symbol} was already flat"
                )
                return None
        return self._answer(events, client_order_id)

    # Quotes.

    def last_price(self, symbol: str) -> Decimal | None:
        quote = prices.last(symbol)
        return quote.price if quote else None

    def subscribe_quotes(self, symbol: str) -> None:
        try:
            paper_feed.subscribe(symbol)
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

    def _already_placed(self, client_order_ids: Sequence[str]) -> list[BrokerOrder]:
        """A repeated call for orders the venue already has: their state, nothing placed."""
        answers = []
        for client_order_id in client_order_ids:
            row = paper_store.order_row(client_order_id)
            if row is None:
                raise BrokerError(f"no order row for {client_order_id}")
            if row.account_id != self.account_id:
                raise OrderRejected(f"order {client_order_id} belongs to another account")
            if row.status == OrderStatus.REJECTED.value:
                raise OrderRejected(row.reason or "rejected")
            answers.append(paper_store.broker_order_from_row(row))
        return answers
