"""The broker port: what every broker offers, in DeskPilot's own types.

An adapter turns these calls into its venue's protocol and every venue failure into a
`BrokerError` subclass (errors.py). A paper result carries exactly the fields a real one
does, so the execution service never knows which broker it talks to.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.brokers.errors import BrokerError
from app.domain.vocabulary import OrderStatus, OrderType, Side


@dataclass(frozen=True)
class AccountAccess:
    """What an adapter may know of an account: handed over by the services, never read by
    the adapter from DeskPilot's tables. `credentials` are already decrypted."""

    account_id: int
    broker: str  # BrokerKind value
    environment: str  # Environment value
    credentials: Mapping | None = field(default=None, repr=False)  # never in a log line
    broker_account_id: str | None = None  # the broker's id of the account (Tradovate's)
    starting_cash: Decimal = Decimal(0)  # paper: the cash a new paper book starts with


@dataclass(frozen=True)
class OrderRequest:
    """One order to place; `client_order_id` is ours and already stored before the call.

    Everything the venue must know travels here, never through our rows: `reduce_only`
    (it may only shrink the position), `oco_group` (its siblings are cancelled when it
    fills) and `parent` (the client order id of the entry it waits for: a bracket exit).
    """

    client_order_id: str
    symbol: str  # the resolved contract, e.g. "MESZ6"
    side: Side
    qty: int
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    oco_group: str | None = None
    parent: str | None = None
    # Still unfilled then, it is cancelled: held by the venue as a good-till time where it
    # can be (Tradovate GTD); the monitor cancels it everywhere else.
    expires_at: datetime | None = None


@dataclass(frozen=True)
class BracketRequest:
    """An entry with a take profit and/or a stop loss that cancel each other once it fills."""

    entry: OrderRequest
    take_profit: OrderRequest | None
    stop_loss: OrderRequest | None


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker holds it after a call."""

    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    status: OrderStatus
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    filled_qty: int = 0
    avg_fill_price: Decimal | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BrokerFill:
    """One execution at the venue, with the fees the broker charged for it.

    `commission` is the fill's total fees, exact. None: the broker has not posted this
    fill's fees yet; read again later (a fill is never booked as free while its fees are
    unknown).
    """

    broker_fill_id: str
    client_order_id: str | None  # None for fills of orders placed outside DeskPilot
    broker_order_id: str | None
    symbol: str
    side: Side
    qty: int
    price: Decimal
    commission: Decimal | None
    time: datetime


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: int  # signed: short < 0
    avg_price: Decimal | None


@dataclass(frozen=True)
class BrokerReport:
    """What happened at a venue that nobody asked for in the same call: orders that changed
    state, new fills (with their fees) and the account's cash. A venue that learns of such
    changes by itself (the paper venue on a price) hands one to `listeners.report`; the
    position poller builds them from what it reads. The ledger applies both alike."""

    account_id: int
    orders: tuple[BrokerOrder, ...] = ()
    fills: tuple[BrokerFill, ...] = ()
    cash: Decimal | None = None


@dataclass(frozen=True)
class AccountState:
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    equity: Decimal


@dataclass(frozen=True)
class BrokerLimits:
    """The risk limits the broker (or the prop firm through it) enforces on the account
    itself, when it says: each None where it sets none. Dollar amounts; the drawdown's
    mode `eod` or `realtime`; `flatten_at` a time it flattens the account."""

    daily_loss: Decimal | None = None
    daily_profit: Decimal | None = None
    weekly_loss: Decimal | None = None
    weekly_profit: Decimal | None = None
    trailing_drawdown: Decimal | None = None
    trailing_drawdown_mode: str | None = None
    trailing_drawdown_limit: Decimal | None = None  # the equity the drawdown stops trailing at
    flatten_at: datetime | None = None
    changes_locked: bool = False


class Broker(ABC):
    """One trading account at one broker."""

    # Whether `place_oco` links the legs at the broker (one filling cancels the other
    # there). A venue that cannot says False: the monitor then works the pair itself.
    native_oco: bool = True
    # Whether the venue itself cuts a reduce-only exit to the position as other exits fill
    # (and cancels it once flat), as scale-out targets beside one stop need.
    reduce_only_exits: bool = False

    @abstractmethod
    def account_state(self) -> AccountState: ...

    @abstractmethod
    def positions(self) -> list[BrokerPosition]: ...

    @abstractmethod
    def working_orders(self) -> list[BrokerOrder]: ...

    @abstractmethod
    def fills_since(self, since: datetime) -> list[BrokerFill]: ...

    @abstractmethod
    def find_order(self, client_order_id: str) -> BrokerOrder | None:
        """Our order as the broker holds it, by our client order id; None: the broker never
        received it. How a restart settles an order a crash left `pending`."""

    @abstractmethod
    def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Place one order; raises OrderRejected with the broker's words when refused."""

    @abstractmethod
    def place_bracket(self, request: BracketRequest) -> list[BrokerOrder]:
        """Place an entry and its exits as one unit: all are accepted or none."""

    @abstractmethod
    def place_oco(self, first: OrderRequest, second: OrderRequest) -> list[BrokerOrder]:
        """Place two exits where one filling cancels the other."""

    @abstractmethod
    def modify_order(
        self,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> BrokerOrder: ...

    def modify_stops(
        self, changes: Sequence[tuple[str, Decimal]]
    ) -> list[BrokerOrder | BrokerError]:
        """Move several stop orders (client order id, new stop price) in one call.

        One answer per change, in order: the order as the broker now holds it, or the
        error that change met (the others still go through). Venues that can batch do.
        """
        answers: list[BrokerOrder | BrokerError] = []
        for client_order_id, stop_price in changes:
            try:
                answers.append(self.modify_order(client_order_id, stop_price=stop_price))
            except BrokerError as exc:
                answers.append(exc)
        return answers

    @abstractmethod
    def cancel_order(self, client_order_id: str) -> BrokerOrder: ...

    @abstractmethod
    def flatten(self, symbol: str, client_order_id: str) -> BrokerOrder | None:
        """Cancel the symbol's working orders and close its position; None when flat."""

    @abstractmethod
    def last_price(self, symbol: str) -> Decimal | None: ...

    def broker_limits(self) -> BrokerLimits | None:
        """The limits the broker itself enforces on the account; None where it has none
        to say (a paper account, or a broker that refuses to tell)."""
        return None

    def change_mark(self) -> object | None:
        """While the venue pushes this account's changes live: a value that moves whenever
        it pushed one (equal marks: nothing changed in between), so the position poller
        may skip its reads. None when the venue pushes nothing, or its stream is down,
        not yet synced or stale: then the account is read every tick."""
        return None

    @abstractmethod
    def subscribe_quotes(self, symbol: str) -> None:
        """Keep the price cache fed for `symbol` (the paper feed or market data)."""
