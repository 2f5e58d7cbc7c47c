"""TradovateBroker: the Broker port over Tradovate's REST API.

`TradovateBroker(access)` is cheap to make per call, like PaperBroker: the login lives in
rest.py's process-wide session registry, and what never changes while the process runs
(which Tradovate account a login trades and its name, contract ids and names, product
terms, which order is whose) is kept in `DIRECTORY`. The adapter never reads or writes
DeskPilot's tables (DESIGN §2): it answers, and the services record.

Ids. Our client order id goes out as `clOrdId`. Tradovate's Order entity has no clOrdId;
the Command that created the order has (reference §3.1 and the Command entity of the
official C# sample's swagger). So our id ↔ Tradovate's order id is remembered in
`DIRECTORY` when we place an order and whenever a command read names one; an id this
process never saw (after a restart, or an order whose answer was lost) is looked up in
`/command/list`, the narrowest read that carries clOrdId. An order of ours reads with our
client order id; one made elsewhere (Tradovate's own site: its New command has no
clOrdId) with "tradovate-<id>", and its fills with client_order_id None.

Fees. A Fill carries none; each fill's fees are its FillFee (reference "Fees on fills"),
read with `/fillFee/items` and summed exactly into `BrokerFill.commission`, which is None
while Tradovate has not posted them.

Exits: a bracket is `/order/placeoso` (take profit as bracket1, stop loss as bracket2,
both GTC so a protective stop outlives the session); an OCO pair is `/order/placeoco`.
Tradovate takes the bracket's quantity and symbol from the entry, so exits must close
exactly the entry's size.
"""

import functools
import importlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from app.brokers.base import (
    AccountAccess,
    AccountState,
    BracketRequest,
    Broker,
    BrokerFill,
    BrokerLimits,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from app.brokers.errors import (
    BrokerAuthError,
    BrokerError,
    OrderRejected,
    TemporaryBrokerError,
    UnknownOrder,
)
from app.brokers.tradovate import user_sync, wire
from app.brokers.tradovate.rest import NotFoundAtTradovate, TradovateRest, client_for
from app.domain.contracts import SPECS
from app.domain.vocabulary import Environment, OrderStatus, OrderType, Side

logger = logging.getLogger(__name__)

EXIT_TIME_IN_FORCE = "GTC"
OPEN = (OrderStatus.WORKING, OrderStatus.PENDING)
FOREIGN_PREFIX = "tradovate-"
FEE_BATCH = 100  # fill ids per /fillFee/items read: keeps the URL short


class UnknownContract(BrokerError):
    """Tradovate lists no contract by that name."""


class Directory:
    """Process-wide facts that do not change while it runs, keyed by server (and login)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accounts: dict[tuple[str, str], wire.AccountRef] = {}
        self.contracts: dict[tuple[str, str], wire.TradovateContract] = {}
        self.contract_names: dict[tuple[str, int], str] = {}
        self.products: dict[tuple[str, str], dict | None] = {}
        # Our client order id <-> Tradovate's order id: by server and Tradovate account one
        # way (another account's order is never taken for this one's), by server the other
        # (order ids are the server's). An order's New command never changes, so neither
        # does a pair once known.
        self.order_ids: dict[tuple[str, int, str], int] = {}
        self.client_ids: dict[tuple[str, int], str] = {}
        # Orders whose New command carries no clOrdId: made outside DeskPilot, or a
        # liquidation (placed without one) that this process did not make.
        self.foreign_orders: set[tuple[str, int]] = set()

    def remember_order(
        self, base_url: str, account_id: int, client_order_id: str, order_id: int
    ) -> None:
        with self.lock:
            self.order_ids[(base_url, account_id, client_order_id)] = order_id
            self.client_ids[(base_url, order_id)] = client_order_id
            self.foreign_orders.discard((base_url, order_id))

    def mark_foreign(self, base_url: str, order_ids: set[int]) -> None:
        with self.lock:
            self.foreign_orders.update((base_url, order_id) for order_id in order_ids)

    def clear(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.contracts.clear()
            self.contract_names.clear()
            self.products.clear()
            self.order_ids.clear()
            self.client_ids.clear()
            self.foreign_orders.clear()


DIRECTORY = Directory()


class Contracts:
    """Contract and product lookups for one server, cached process-wide.

    Needs no app context or database, so the market-data thread can use it.
    """

    def __init__(self, rest: TradovateRest) -> None:
        self.rest = rest

    def get(self, symbol: str) -> wire.TradovateContract:
        """`MESZ6` as Tradovate lists it; tick size and $/point from its product."""
        key = (self.rest.base_url, symbol)
        found = DIRECTORY.contracts.get(key)
        if found is not None:
            return found
        try:
            item = next(iter(wire.items(self.rest.get("contract/find", {"name": symbol}))), None)
        except NotFoundAtTradovate:
            item = None
        if item is None or item.get("id") is None:
            raise UnknownContract(f"Tradovate lists no contract {symbol}")
        name = str(item.get("name") or symbol)
        product = self._product(wire.product_root(name))
        tick, point = _terms(name, item, product or {})
        contract = wire.TradovateContract(int(item["id"]), name, tick, point)
        with DIRECTORY.lock:
            DIRECTORY.contract_names[(self.rest.base_url, contract.id)] = name
            if product is not _UNREAD:  # terms from our table stand in only until Tradovate answers
                DIRECTORY.contracts[key] = contract
        return contract

    def id_or_none(self, symbol: str) -> int | None:
        """For market data: the contract id, None when Tradovate lists no such contract."""
        try:
            return self.get(symbol).id
        except UnknownContract:
            return None

    def name_of(self, contract_id: int) -> str:
        key = (self.rest.base_url, int(contract_id))
        name = DIRECTORY.contract_names.get(key)
        if name is None:
            item = self.rest.get("contract/item", {"id": int(contract_id)})
            if not isinstance(item, dict) or not item.get("name"):
                raise BrokerError(f"Tradovate contract {contract_id} has no name")
            name = str(item["name"])
            DIRECTORY.contract_names[key] = name
        return name

    def _product(self, root: str) -> dict | None:
        """The product (None when Tradovate has none; _UNREAD when it could not be asked)."""
        key = (self.rest.base_url, root)
        if key in DIRECTORY.products:
            return DIRECTORY.products[key]
        try:
            product = next(iter(wire.items(self.rest.get("product/find", {"name": root}))), None)
        except NotFoundAtTradovate:
            product = None
        except TemporaryBrokerError as exc:
            logger.warning("Tradovate product %s not read (%s); using our table", root, exc.message)
            return _UNREAD
        DIRECTORY.products[key] = product
        return product


_UNREAD: dict = {}


def _terms(name: str, contract: dict, product: dict) -> tuple[Decimal | None, Decimal | None]:
    """Tick size and $/point: the product's, then the contract's tick, then our table."""
    spec = SPECS.get(wire.product_root(name))
    tick = (
        wire.decimal(product.get("tickSize"))
        or wire.decimal(contract.get("providerTickSize"))
        or (spec.tick_size if spec else None)
    )
    point = wire.decimal(product.get("valuePerPoint")) or (spec.point_value if spec else None)
    return tick, point


def _translated(method):
    """An answer DeskPilot cannot read is a BrokerError too, never a crash of the caller."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise BrokerError(
                f"Tradovate's answer to {method.__name__} could not be read "
                f"({type(exc).__name__}: {exc})"
            ) from exc

    return call


class TradovateBroker(Broker):
    """One Tradovate account, through the REST API."""

    def __init__(self, access: AccountAccess, *, rest: TradovateRest | None = None) -> None:
        self.access = access
        self.environment = access.environment
        self._wanted = access.broker_account_id
        self.rest = rest or client_for(access)
        self.contracts = Contracts(self.rest)

    # The account at Tradovate.

    def broker_account(self) -> wire.AccountRef:
        """Which Tradovate account this is (id and name, the accountSpec of its orders),
        resolved once per process and kept in DIRECTORY, never in our tables."""
        key = (self.rest.session_key, str(self._wanted or ""))
        ref = DIRECTORY.accounts.get(key)
        if ref is None:
            grant = self.rest.sign_in()
            if self.environment == Environment.LIVE.value and grant.has_live is False:
                raise BrokerAuthError(
                    "this Tradovate login has no live access (Tradovate says hasLive is false); "
                    "use a demo account or enable live trading with Tradovate"
                )
            accounts = wire.parse_accounts(self.rest.get("account/list"))
            ref = wire.choose_account(accounts, self._wanted)
            DIRECTORY.accounts[key] = ref
        return ref

    # Queries.

    @_translated
    def account_state(self) -> AccountState:
        ref = self.broker_account()
        snapshot = wire.parse_snapshot(
            self.rest.post(
                "cashBalance/getcashbalancesnapshot", {"accountId": ref.id}, idempotent=True
            )
        )
        unrealized = snapshot.open_pnl
        if unrealized is None:
            unrealized = self._open_pnl()
        return wire.account_state(snapshot, unrealized)

    @_translated
    def broker_limits(self) -> BrokerLimits | None:
        """Tradovate's auto-liquidation settings for the account (`userAccountAutoLiq`,
        keyed by the account id). A token that may not read them (reference [U]: retail
        keys) or an account without them has none to say."""
        try:
            found = wire.items(
                self.rest.get("userAccountAutoLiq/deps", {"masterid": self.broker_account().id})
            )
        except (NotFoundAtTradovate, BrokerAuthError) as exc:
            logger.info("Tradovate gives no auto-liquidation settings: %s", exc.message)
            return None
        return wire.parse_auto_liq(found[0]) if found else None

    def _open_pnl(self) -> Decimal:
        """Open P&L from positions when the snapshot omits it: (last - netPrice) x vpp x netPos,
        at market data's last trade (a position without one counts 0)."""
        total = Decimal(0)
        for position in self.positions():
            last = self.last_price(position.symbol)
            if last is None or position.avg_price is None:
                continue
            point = self.contracts.get(position.symbol).point_value
            if point is not None:
                total += (last - position.avg_price) * point * position.qty
        return total

    @_translated
    def positions(self) -> list[BrokerPosition]:
        ref = self.broker_account()
        held: dict[str, BrokerPosition] = {}
        for item in wire.items(self.rest.get("position/list")):
            if item.get("accountId") != ref.id or not int(item.get("netPos") or 0):
                continue
            symbol = self.contracts.name_of(item["contractId"])
            position = wire.broker_position(item, symbol)
            twin = held.get(position.symbol)
            if twin is not None:  # one row per trade date: add them up
                position = BrokerPosition(position.symbol, twin.qty + position.qty, None)
            held[position.symbol] = position
        return [p for p in held.values() if p.qty]

    @_translated
    def working_orders(self) -> list[BrokerOrder]:
        ref = self.broker_account()
        orders = [
            item
            for item in wire.items(self.rest.get("order/list"))
            if item.get("accountId") == ref.id and item.get("ordStatus") in wire.OPEN_ORD_STATUSES
        ]
        if not orders:
            return []
        ids = [int(order["id"]) for order in orders]
        masters = {"masterids": ",".join(map(str, ids))}
        versions = wire.latest_versions(self.rest.get("orderVersion/ldeps", masters))
        fills = _by_order(self.rest.get("fill/ldeps", masters))
        ours = self._client_ids(set(ids))
        found = []
        for order in orders:
            order_id = int(order["id"])
            version = versions.get(order_id)
            if version is None:
                logger.warning("Tradovate order %s has no version; skipped", order_id)
                continue
            symbol = self.contracts.name_of(order["contractId"])
            found.append(
                wire.broker_order(
                    client_order_id=ours.get(order_id) or f"{FOREIGN_PREFIX}{order_id}",
                    order=order,
                    symbol=symbol,
                    version=version,
                    fills=fills.get(order_id, []),
                )
            )
        return found

    @_translated
    def fills_since(self, since: datetime) -> list[BrokerFill]:
        ref = self.broker_account()
        # A Fill names no account (§3.1): the account's orders say which fills are its.
        mine = {
            int(item["id"])
            for item in wire.items(self.rest.get("order/list"))
            if item.get("accountId") == ref.id
        }
        fills = []
        for fill in wire.items(self.rest.get("fill/list")):
            stamp = wire.parse_time(fill.get("timestamp"))
            if fill.get("orderId") not in mine or fill.get("active") is False:
                continue
            if stamp is None or stamp < since:
                continue
            fills.append(fill)
        ours = self._client_ids({int(fill["orderId"]) for fill in fills})
        fees = self._fees([int(fill["id"]) for fill in fills])
        answers = []
        for fill in fills:
            symbol = self.contracts.name_of(fill["contractId"])
            client_order_id = ours.get(int(fill["orderId"]))
            answers.append(
                wire.broker_fill(fill, symbol, client_order_id, fees.get(int(fill["id"])))
            )
        return sorted(answers, key=lambda fill: (fill.time, fill.broker_fill_id))

    def _fees(self, fill_ids: list[int]) -> dict[int, Decimal]:
        """Fill id → its total fees, for the fills whose FillFee Tradovate has posted.

        One `/fillFee/items` read per FEE_BATCH fills. A read that fails for a while leaves
        its fills' fees unknown (None) rather than failing the fills: they are read again
        on the next poll.
        """
        fees: dict[int, Decimal] = {}
        for start in range(0, len(fill_ids), FEE_BATCH):
            batch = fill_ids[start : start + FEE_BATCH]
            try:
                data = self.rest.get("fillFee/items", {"ids": ",".join(map(str, batch))})
            except (TemporaryBrokerError, NotFoundAtTradovate) as exc:
                logger.warning(
                    "Tradovate fees of %d fills not read (%s); read again later",
                    len(batch),
                    exc.message,
                )
                continue
            fees.update(wire.fill_fees(data))
        return fees

    @_translated
    def find_order(self, client_order_id: str) -> BrokerOrder | None:
        """By our row's Tradovate id, else by the clOrdId of the command that placed it
        (the look-up made before any resend)."""
        try:
            order_id = self._order_id(client_order_id)
        except UnknownOrder:
            return None
        return self._view(order_id, client_order_id)

    # Orders.

    @_translated
    def place_order(self, request: OrderRequest) -> BrokerOrder:
        placed = self._already_placed(request.client_order_id)
        if placed is not None:
            return placed
        body = wire.order_body(request, self.broker_account())
        data = self.rest.place(
            "order/placeorder",
            body,
            reconcile=self._reconciler([request.client_order_id], ("orderId",)),
        )
        answer = self._after_place([(wire.parse_place(data), request)])[0]
        _refuse_if_rejected(answer)
        return answer

    @_translated
    def place_bracket(self, request: BracketRequest) -> list[BrokerOrder]:
        entry = request.entry
        exits = [leg for leg in (request.take_profit, request.stop_loss) if leg is not None]
        problem = _exit_problem(entry, exits, "bracket")
        if problem:
            raise OrderRejected(problem)
        requests = [entry, *exits]
        placed = self._already_placed(entry.client_order_id)
        if placed is not None:
            return [
                placed,
                *(self._already_placed(leg.client_order_id) or _unconfirmed(leg) for leg in exits),
            ]
        body = wire.oso_body(entry, exits, self.broker_account(), exit_tif=EXIT_TIME_IN_FORCE)
        data = self.rest.place(
            "order/placeoso",
            body,
            reconcile=self._reconciler(
                [r.client_order_id for r in requests], ("orderId", "oso1Id", "oso2Id")
            ),
        )
        entry_id, first_id, second_id = wire.parse_oso(data)
        ids = [entry_id, first_id, second_id][: len(requests)]
        answers = self._after_place(list(zip(ids, requests, strict=True)))
        _refuse_if_rejected(answers[0])
        return answers

    @_translated
    def place_oco(self, first: OrderRequest, second: OrderRequest) -> list[BrokerOrder]:
        problem = _oco_problem(first, second)
        if problem:
            raise OrderRejected(problem)
        placed = self._already_placed(first.client_order_id)
        if placed is not None:
            return [placed, self._already_placed(second.client_order_id) or _unconfirmed(second)]
        body = wire.oco_body(first, second, self.broker_account(), tif=EXIT_TIME_IN_FORCE)
        data = self.rest.place(
            "order/placeoco",
            body,
            reconcile=self._reconciler(
                [first.client_order_id, second.client_order_id], ("orderId", "ocoId")
            ),
        )
        first_id, other_id = wire.parse_oco(data)
        answers = self._after_place([(first_id, first), (other_id, second)])
        _refuse_if_rejected(answers[0])
        return answers

    @_translated
    def modify_order(
        self,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> BrokerOrder:
        order_id = self._order_id(client_order_id)
        order = self._order_item(order_id, client_order_id)
        if order.get("ordStatus") not in wire.OPEN_ORD_STATUSES:
            raise UnknownOrder(_no_longer_works(client_order_id, order.get("ordStatus")))
        version = self._version(order_id)
        kind = wire.READ_ORDER_TYPES.get(str(version.get("orderType")))
        has_limit = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        has_stop = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
        if (limit_price is not None and not has_limit) or (stop_price is not None and not has_stop):
            price = "limit" if limit_price is not None and not has_limit else "stop"
            raise OrderRejected(
                f"order {client_order_id} is a {version.get('orderType')} order: it has no "
                f"{price} price to change"
            )
        body = wire.modify_body(
            order_id,
            qty if qty is not None else int(version["orderQty"]),
            str(version["orderType"]),
            (limit_price if limit_price is not None else wire.decimal(version.get("price")))
            if has_limit
            else None,
            (stop_price if stop_price is not None else wire.decimal(version.get("stopPrice")))
            if has_stop
            else None,
        )
        # The same absolute change sent twice is harmless: a modify may be retried.
        refusal = wire.command_refusal(self.rest.post("order/modifyorder", body, idempotent=True))
        answer = self._view(order_id, client_order_id)
        if refusal:
            if answer.status not in OPEN:
                raise UnknownOrder(_no_longer_works(client_order_id, answer.status))
            raise OrderRejected(f"Tradovate: {refusal}")
        return answer

    @_translated
    def cancel_order(self, client_order_id: str) -> BrokerOrder:
        order_id = self._order_id(client_order_id)
        data = self.rest.post("order/cancelorder", wire.cancel_body(order_id), idempotent=True)
        refusal = wire.command_refusal(data)
        answer = self._view(order_id, client_order_id)
        if refusal:
            if answer.status not in OPEN:
                raise UnknownOrder(_no_longer_works(client_order_id, answer.status))
            raise BrokerError(f"Tradovate did not cancel order {client_order_id}: {refusal}")
        return answer

    @_translated
    def flatten(self, symbol: str, client_order_id: str) -> BrokerOrder | None:
        placed = self._already_placed(client_order_id)
        if placed is not None:
            return placed
        ref = self.broker_account()
        contract = self.contracts.get(symbol)
        net = sum(
            int(item.get("netPos") or 0)
            for item in wire.items(self.rest.get("position/list"))
            if item.get("accountId") == ref.id and item.get("contractId") == contract.id
        )
        if net == 0:
            self._cancel_working(ref, contract)
            return None  # nothing was sent for `client_order_id`: the caller closes its row
        try:
            # Not retried: a second liquidation could close twice. Tradovate cancels the
            # symbol's working orders itself (§3.4).
            data = self.rest.post(
                "order/liquidateposition", wire.liquidate_body(ref.id, contract.id)
            )
        except TemporaryBrokerError as exc:
            raise TemporaryBrokerError(
                f"{exc.message}; the liquidation may still have reached Tradovate: check the "
                f"{symbol} position before flattening again"
            ) from exc
        closing = OrderRequest(
            client_order_id, symbol, Side.SELL if net > 0 else Side.BUY, abs(net), OrderType.MARKET
        )
        answer = self._after_place([(wire.parse_place(data), closing)])[0]
        _refuse_if_rejected(answer)
        return answer

    # Quotes.

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade Tradovate market data reported; None while it is off or quiet."""
        module = _market_data()
        return module.last_price(symbol) if module is not None else None

    def subscribe_quotes(self, symbol: str) -> None:
        """Ask Tradovate market data to keep quoting `symbol`, if it is built in: its last
        trades go to the services (app.brokers.listeners) and answer `last_price`.

        A market-data failure never stops an order: it is logged, and prices keep coming
        from alerts.
        """
        module = _market_data()
        if module is None:
            return
        try:
            register = getattr(module, "register", None)
            if register is not None:
                register(
                    token_provider=self.rest.md_access_token,
                    contract_id_lookup=self.contracts.id_or_none,
                )
            module.subscribe(self.access, symbol)
        except Exception:
            logger.exception("Tradovate market data for %s did not start", symbol)

    # The user-data socket.

    def change_mark(self) -> object | None:
        """The login's user-data socket's mark for this account (user_sync.py), the socket
        started on the first ask; None while TRADOVATE_USER_SYNC is off, or the socket is
        down, not yet synced or stale."""
        if not user_sync.enabled():
            return None
        try:
            account_id = self.broker_account().id
        except BrokerError:
            return None  # the poller's reads meet the same error and tell it
        rest = self.rest
        client = user_sync.client_for(
            rest.session_key,
            user_sync.user_url(rest.base_url),
            token_provider=rest.access_token,
            user_id_provider=lambda: rest.sign_in().user_id,
            on_refused_token=rest.forget_token,
        )
        return client.mark(account_id)

    # Helpers: our ids and Tradovate's.

    def _already_placed(self, client_order_id: str) -> BrokerOrder | None:
        """A repeated call for an order this process knows: its state, nothing sent."""
        order_id = DIRECTORY.order_ids.get(self._order_key(client_order_id))
        return self._view(order_id, client_order_id) if order_id is not None else None

    def _order_id(self, client_order_id: str) -> int:
        """Tradovate's id of our order: remembered, else from the command that made it
        (checked to be this account's: commands are the login's, across its accounts)."""
        base, account_id, _ = key = self._order_key(client_order_id)
        order_id = DIRECTORY.order_ids.get(key)
        if order_id is not None:
            return order_id
        found = wire.new_order_ids(self.rest.get("command/list"), [client_order_id])
        order_id = found.get(client_order_id)
        if order_id is None:
            raise UnknownOrder(f"Tradovate holds no order {client_order_id}")
        self._order_item(order_id, client_order_id)
        DIRECTORY.remember_order(base, account_id, client_order_id, order_id)
        return order_id

    def _order_key(self, client_order_id: str) -> tuple[str, int, str]:
        return (self.rest.base_url, self.broker_account().id, client_order_id)

    def _client_ids(self, order_ids: set[int]) -> dict[int, str]:
        """Tradovate order id → our client order id, for the ids that are ours.

        Ids this process has not met are looked up once in the commands; those whose New
        command has no clOrdId are remembered as foreign, so they cost no further read.
        """
        base = self.rest.base_url
        found = {
            i: DIRECTORY.client_ids[(base, i)]
            for i in order_ids
            if (base, i) in DIRECTORY.client_ids
        }
        unknown = {i for i in order_ids - found.keys() if (base, i) not in DIRECTORY.foreign_orders}
        if not unknown:
            return found
        named = wire.command_client_ids(self.rest.get("command/list"), unknown)
        account_id = self.broker_account().id  # the ids asked are this account's orders
        for order_id, client_order_id in named.items():
            DIRECTORY.remember_order(base, account_id, client_order_id, order_id)
        DIRECTORY.mark_foreign(base, unknown - named.keys())
        return {**found, **named}

    def _reconciler(
        self, client_order_ids: list[str], fields: tuple[str, ...]
    ) -> Callable[[], dict | None]:
        """The check `rest.place` makes before any resend: did the order arrive?

        Answers a result shaped like the call's (`fields` in order of `client_order_ids`)
        when Tradovate holds the first order, else None.
        """

        def reconcile() -> dict | None:
            found = wire.new_order_ids(self.rest.get("command/list"), client_order_ids)
            if client_order_ids[0] not in found:
                return None
            return {
                name: found.get(client_id)
                for name, client_id in zip(fields, client_order_ids, strict=False)
            }

        return reconcile

    # Helpers: reading orders.

    def _order_item(self, order_id: int, client_order_id: str) -> dict:
        """The Order entity, if it is this account's: a login may trade several accounts."""
        try:
            order = self.rest.get("order/item", {"id": order_id})
        except NotFoundAtTradovate as exc:
            raise UnknownOrder(f"Tradovate holds no order {client_order_id}") from exc
        if not isinstance(order, dict):
            raise UnknownOrder(f"Tradovate holds no order {client_order_id}")
        if order.get("accountId") != self.broker_account().id:
            raise UnknownOrder(f"order {client_order_id} belongs to another Tradovate account")
        return order

    def _version(self, order_id: int) -> dict:
        versions = wire.latest_versions(self.rest.get("orderVersion/deps", {"masterid": order_id}))
        version = versions.get(order_id)
        if version is None:
            raise BrokerError(f"Tradovate order {order_id} has no version to read")
        return version

    def _view(self, order_id: int, client_order_id: str) -> BrokerOrder:
        """An order as Tradovate holds it now."""
        order = self._order_item(order_id, client_order_id)
        fills = []
        if order.get("ordStatus") not in wire.OPEN_ORD_STATUSES:
            fills = wire.items(self.rest.get("fill/deps", {"masterid": order_id}))
        symbol = self.contracts.name_of(order["contractId"])
        return wire.broker_order(
            client_order_id=client_order_id,
            order=order,
            symbol=symbol,
            version=self._version(order_id),
            fills=fills,
        )

    def _after_place(self, placed: list[tuple[int | None, OrderRequest]]) -> list[BrokerOrder]:
        """The orders just placed, with their state when Tradovate says it at once.

        The order is placed whatever this read does: a failed read answers "working".
        The ids are remembered first, so cancel and modify find the orders either way.
        """
        account_id = self.broker_account().id
        for order_id, request in placed:
            if order_id is not None:
                DIRECTORY.remember_order(
                    self.rest.base_url, account_id, request.client_order_id, order_id
                )
        ids = [order_id for order_id, _ in placed if order_id is not None]
        markets = [
            order_id
            for order_id, request in placed
            if order_id is not None and OrderType(request.order_type) is OrderType.MARKET
        ]
        orders: dict[int, dict] = {}
        fills: dict[int, list[dict]] = {}
        try:
            orders = self._order_items(ids)
            self._await_market_fills(orders, markets)
            done = [
                i
                for i, order in orders.items()
                if order.get("ordStatus") in ("Filled", "Completed")
            ]
            if done:
                fills = _by_order(
                    self.rest.get("fill/ldeps", {"masterids": ",".join(map(str, done))})
                )
        except BrokerError as exc:
            logger.warning(
                "Tradovate took orders %s; their state is not read yet: %s", ids, exc.message
            )
        answers = []
        for order_id, request in placed:
            if order_id is None:
                answers.append(_unconfirmed(request))
                continue
            order = orders.get(order_id) or {
                "id": order_id,
                "action": wire.ACTIONS[Side(request.side)],
                "ordStatus": "Working",
            }
            answers.append(
                wire.broker_order(
                    client_order_id=request.client_order_id,
                    order=order,
                    symbol=request.symbol,
                    request=request,
                    fills=fills.get(order_id, []),
                )
            )
        return answers

    def _order_items(self, ids: list[int]) -> dict[int, dict]:
        listed = self.rest.get("order/items", {"ids": ",".join(map(str, ids))})
        return {int(item["id"]): item for item in wire.items(listed)}

    def _await_market_fills(self, orders: dict[int, dict], markets: list[int]) -> None:
        """Read market orders Tradovate answered before filling them again, briefly, so
        their answer carries the fill (`orders` is updated in place). One still working
        after `fill_wait` is answered as working; the poller books its fill later."""
        tuning = self.rest.tuning
        waited = 0.0
        while waited < tuning.fill_wait:
            pending = [
                i for i in markets if orders.get(i, {}).get("ordStatus") in wire.OPEN_ORD_STATUSES
            ]
            if not pending:
                return
            tuning.sleep(tuning.fill_poll)
            waited += tuning.fill_poll
            orders.update(self._order_items(pending))

    def _cancel_working(self, ref: wire.AccountRef, contract: wire.TradovateContract) -> None:
        failures = []
        for order in wire.items(self.rest.get("order/list")):
            if (
                order.get("accountId") != ref.id
                or order.get("contractId") != contract.id
                or order.get("ordStatus") not in wire.OPEN_ORD_STATUSES
            ):
                continue
            data = self.rest.post(
                "order/cancelorder", wire.cancel_body(int(order["id"])), idempotent=True
            )
            refusal = wire.command_refusal(data)
            if refusal:
                failures.append(f"order {order['id']}: {refusal}")
        if failures:
            raise BrokerError(
                f"Tradovate did not cancel every {contract.name} order: " + "; ".join(failures)
            )


# --- module helpers -------------------------------------------------------------------------

_md_absence_logged = False


def _market_data():
    """The market-data module when it is part of this build, else None (logged once)."""
    global _md_absence_logged
    name = f"{__package__}.market_data"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        if not _md_absence_logged:
            logger.info("Tradovate market data is not in this build; prices come from alerts")
            _md_absence_logged = True
        return None


def _by_order(fills: object) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for fill in wire.items(fills):
        if fill.get("orderId") is not None:
            grouped[int(fill["orderId"])].append(fill)
    return grouped


def _unconfirmed(request: OrderRequest) -> BrokerOrder:
    """A leg Tradovate's answer did not name: left pending for the poller to settle."""
    return BrokerOrder(
        client_order_id=request.client_order_id,
        broker_order_id=None,
        symbol=request.symbol,
        side=Side(request.side),
        qty=request.qty,
        order_type=OrderType(request.order_type),
        status=OrderStatus.PENDING,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
    )


def _refuse_if_rejected(answer: BrokerOrder) -> None:
    if answer.status is OrderStatus.REJECTED:
        raise OrderRejected(
            answer.reason or f"Tradovate rejected order {answer.broker_order_id} after taking it"
        )


def _no_longer_works(client_order_id: str, status: object) -> str:
    return f"Tradovate no longer works order {client_order_id}: it is {status}"


def _exit_problem(entry: OrderRequest, exits: list[OrderRequest], what: str) -> str | None:
    """Tradovate sizes a bracket from its entry: exits must close exactly the entry."""
    if not exits:
        return f"a {what} needs a take profit or a stop loss"
    closing = Side(entry.side).opposite
    for leg in exits:
        if (leg.symbol, Side(leg.side), leg.qty) != (entry.symbol, closing, entry.qty):
            return (
                f"a Tradovate {what}'s exits must {closing} {entry.qty} {entry.symbol}, the "
                "entry's size; nothing was sent"
            )
    return None


def _oco_problem(first: OrderRequest, second: OrderRequest) -> str | None:
    """Tradovate's `other` leg takes the first leg's symbol and size."""
    if (first.symbol, first.qty) != (second.symbol, second.qty):
        return "both legs of a Tradovate OCO pair trade the same symbol and size; nothing was sent"
    return None
