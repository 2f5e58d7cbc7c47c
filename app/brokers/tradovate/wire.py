"""Tradovate's wire formats: request bodies out, answers parsed into DeskPilot's types.

Pure functions over dicts, no I/O. Prices travel as JSON numbers (Tradovate has no
decimal strings): a Decimal goes out as the float whose shortest repr is the same text,
and answers are decoded with `parse_float=Decimal` by the transport, so `5012.25` stays
exact both ways. Field names and enums are those of reference/tradovate.md §2-§3.

Answers that refuse a command are HTTP 200 with `failureReason`/`failureText` (or
`errorText`, or `violations`); success is an id present and no failure reason other than
`Success` (§3.2). Those words become `OrderRejected` with Tradovate's own text, or
`AccountLocked` when the `failureReason` refuses the account itself (LOCKED_REASONS).
"""

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.brokers.base import (
    AccountState,
    BrokerFill,
    BrokerLimits,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from app.brokers.errors import AccountLocked, BrokerAuthError, BrokerError, OrderRejected
from app.domain.vocabulary import OrderStatus, OrderType, Side

logger = logging.getLogger(__name__)

# The shortest documented token life (§2.2: 80 minutes), for an answer without expirationTime.
DEFAULT_TOKEN_LIFE = timedelta(minutes=80)
PRICE_PLACES = Decimal("0.000000001")  # the orders table keeps nine decimals

ACTIONS = {Side.BUY: "Buy", Side.SELL: "Sell"}
SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
ORDER_TYPES = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "StopLimit",
}
# Types DeskPilot does not place can still be read (orders made on Tradovate's own site):
# each is shown as the nearest type we have, keeping its prices.
READ_ORDER_TYPES = {
    "Market": OrderType.MARKET,
    "Limit": OrderType.LIMIT,
    "Stop": OrderType.STOP,
    "StopLimit": OrderType.STOP_LIMIT,
    "MIT": OrderType.LIMIT,
    "QTS": OrderType.MARKET,
    "TrailingStop": OrderType.STOP,
    "TrailingStopLimit": OrderType.STOP_LIMIT,
}
# A FillFee's amounts (reference "Fees on fills"); each is a number or null.
FEE_FIELDS = (
    "clearingFee",
    "exchangeFee",
    "nfaFee",
    "brokerageFee",
    "ipFee",
    "commission",
    "orderRoutingFee",
)
# PlaceOrderResult reasons that refuse the account, not the order (§3.2): final, never
# retried. Of them, a liquidation-only account still takes orders that reduce a position.
LOCKED_REASONS = frozenset(
    {"TradingLocked", "AccountClosed", "LiquidationOnly", "LiquidationOnlyBeforeExpiration"}
)
CLOSING_ALLOWED_REASONS = frozenset({"LiquidationOnly", "LiquidationOnlyBeforeExpiration"})
# Tradovate still holds these orders: they can be modified or cancelled.
OPEN_ORD_STATUSES = frozenset(
    {"Working", "PendingNew", "PendingReplace", "PendingCancel", "Suspended"}
)
ORD_STATUSES = {
    "PendingNew": OrderStatus.WORKING,
    "Working": OrderStatus.WORKING,
    "PendingReplace": OrderStatus.WORKING,
    "PendingCancel": OrderStatus.WORKING,
    # A bracket held until its entry fills: "pending" with a broker order id.
    "Suspended": OrderStatus.PENDING,
    "Filled": OrderStatus.FILLED,
    "Canceled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
    "Unknown": OrderStatus.PENDING,
}


# --- credentials and tokens ---------------------------------------------------------------


class IncompleteCredentials(BrokerAuthError):
    """Stored credentials lack a field Tradovate requires; `missing` names them as the form does."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "Tradovate credentials are incomplete: missing "
            + ", ".join(missing)
            + ". Add them to the account (Accounts page or PUT /api/accounts/<id>)."
        )
        self.missing = missing


class LoginRefused(BrokerAuthError):
    """Tradovate answered the token request with `errorText`; `tradovate_text` is its words."""

    def __init__(self, message: str, tradovate_text: str | None = None) -> None:
        super().__init__(message)
        self.tradovate_text = tradovate_text


class CaptchaRequired(BrokerAuthError):
    """A penalty ticket with `p-captcha`: only a person on Tradovate's site can clear it."""


# Field, as the account form labels it. device_id is optional (§2.1); live enforces it.
REQUIRED_CREDENTIALS = (
    ("username", "username"),
    ("password", "password"),
    ("app_id", "app id"),
    ("cid", "cid"),
    ("sec", "sec (API secret)"),
)


@dataclass(frozen=True, repr=False)
class Credentials:
    """What /auth/accesstokenrequest needs; repr never shows the secrets."""

    username: str
    password: str
    app_id: str
    app_version: str
    cid: str | int
    sec: str
    device_id: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Credentials":
        """From decrypted `credentials_encrypted`; IncompleteCredentials when one is missing."""
        missing = [label for key, label in REQUIRED_CREDENTIALS if data.get(key) in (None, "")]
        if missing:
            raise IncompleteCredentials(missing)
        return cls(
            username=str(data["username"]),
            password=str(data["password"]),
            app_id=str(data["app_id"]),
            app_version=str(data.get("app_version") or "1.0"),
            cid=data["cid"],
            sec=str(data["sec"]),
            device_id=str(data["device_id"]) if data.get("device_id") else None,
        )

    def fingerprint(self, base_url: str) -> str:
        """One login per server and credentials: a changed password means a new session."""
        parts = (
            base_url,
            self.username,
            self.password,
            self.app_id,
            self.app_version,
            str(self.cid),
            self.sec,
            self.device_id or "",
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, app_id={self.app_id!r}, secrets hidden)"


def token_request(credentials: Credentials) -> dict:
    """The AccessTokenRequest body; `cid` goes as a number when it is one (§2.1 [U])."""
    cid = credentials.cid
    if isinstance(cid, str) and cid.strip().isdigit():
        cid = int(cid.strip())
    body = {
        "name": credentials.username,
        "password": credentials.password,
        "appId": credentials.app_id,
        "appVersion": credentials.app_version,
        "cid": cid,
        "sec": credentials.sec,
    }
    if credentials.device_id:
        body["deviceId"] = credentials.device_id
    return body


@dataclass(frozen=True, repr=False)
class TokenGrant:
    """An AccessTokenResponse that carried a token."""

    access_token: str
    md_access_token: str | None
    expires_at: datetime
    user_id: int | None
    name: str | None
    has_live: bool | None
    user_status: str | None

    def __repr__(self) -> str:
        return f"TokenGrant(user={self.name!r}, expires_at={self.expires_at.isoformat()})"


def parse_token(data: Any, now: datetime, previous: TokenGrant | None = None) -> TokenGrant:
    """A token answer (request or renewal); LoginRefused with Tradovate's words otherwise.

    A renewal may leave out what the first answer gave (mdAccessToken, userId); those are
    kept from `previous`.
    """
    if not isinstance(data, dict):
        raise LoginRefused("Tradovate answered the login with something that is not a token")
    error = data.get("errorText")
    if error:
        raise LoginRefused(f"Tradovate refused the login: {error}", str(error))
    token = data.get("accessToken")
    if not token:
        status = data.get("userStatus")
        detail = f" (user status {status})" if status else ""
        raise LoginRefused(f"Tradovate gave no access token{detail}", None)
    expires = parse_time(data.get("expirationTime")) or now + DEFAULT_TOKEN_LIFE

    def kept(key: str, old: object) -> Any:
        value = data.get(key)
        return old if value is None and previous is not None else value

    return TokenGrant(
        access_token=str(token),
        md_access_token=kept("mdAccessToken", previous and previous.md_access_token),
        expires_at=expires,
        user_id=kept("userId", previous and previous.user_id),
        name=kept("name", previous and previous.name),
        has_live=kept("hasLive", previous and previous.has_live),
        user_status=kept("userStatus", previous and previous.user_status),
    )


@dataclass(frozen=True)
class PenaltyTicket:
    """§4: wait `wait` seconds and resend with `ticket`; `captcha` needs a person."""

    ticket: str | None
    wait: float
    captcha: bool


def penalty_of(data: Any) -> PenaltyTicket | None:
    if not isinstance(data, dict) or not ("p-ticket" in data or data.get("p-captcha")):
        return None
    try:
        wait = max(float(data.get("p-time") or 0), 0.0)
    except (TypeError, ValueError):
        wait = 0.0
    ticket = data.get("p-ticket")
    return PenaltyTicket(str(ticket) if ticket else None, wait, bool(data.get("p-captcha")))


# --- accounts, contracts ------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRef:
    """A Tradovate account: its numeric id (accountId) and its name (accountSpec)."""

    id: int
    name: str
    active: bool = True


def parse_accounts(data: Any) -> list[AccountRef]:
    return [
        AccountRef(int(item["id"]), str(item.get("name") or item["id"]), item.get("active", True))
        for item in items(data)
        if item.get("id") is not None
    ]


@dataclass(frozen=True)
class TradovateContract:
    """A contract as Tradovate knows it, with the product's tick size and $ per point."""

    id: int
    name: str
    tick_size: Decimal
    point_value: Decimal


def product_root(contract_name: str) -> str:
    """`MESZ6` → `MES`: the official bot's shortcut, name minus month letter and year (§6)."""
    return contract_name[:-2]


# --- orders out ---------------------------------------------------------------------------


def price_out(value: Decimal) -> float:
    """A price as a JSON number; the float's shortest repr is the Decimal's own text."""
    number = float(value)
    if Decimal(repr(number)) != value:
        raise OrderRejected(f"price {value} cannot be sent exactly")
    return number


def _prices(request: OrderRequest) -> dict:
    kind = OrderType(request.order_type)
    prices: dict = {}
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if request.limit_price is None:
            raise OrderRejected(f"a {kind} order needs its limit price; nothing was sent")
        prices["price"] = price_out(request.limit_price)
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        if request.stop_price is None:
            raise OrderRejected(f"a {kind} order needs its stop price; nothing was sent")
        prices["stopPrice"] = price_out(request.stop_price)
    return prices


def order_body(
    request: OrderRequest, account: AccountRef, *, time_in_force: str | None = None
) -> dict:
    """PlaceOrder (§3.2): both account fields, our clOrdId, and isAutomated as bots must."""
    body = {
        "accountSpec": account.name,
        "accountId": account.id,
        "clOrdId": request.client_order_id,
        "action": ACTIONS[Side(request.side)],
        "symbol": request.symbol,
        "orderQty": request.qty,
        "orderType": ORDER_TYPES[OrderType(request.order_type)],
        **_prices(request),
        "isAutomated": True,
    }
    if time_in_force:
        body["timeInForce"] = time_in_force
    if request.expires_at is not None:  # the exchange cancels it then, even if we are down
        body["timeInForce"] = "GTD"
        body["expireTime"] = utc_stamp(request.expires_at)
    return body


def utc_stamp(moment: datetime) -> str:
    """A time as Tradovate writes one: ISO 8601 UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def restrained(request: OrderRequest, *, time_in_force: str | None = None) -> dict:
    """A RestrainedOrderVersion (a bracket or an OCO's other leg): no symbol, no quantity."""
    body = {
        "action": ACTIONS[Side(request.side)],
        "orderType": ORDER_TYPES[OrderType(request.order_type)],
        "clOrdId": request.client_order_id,
        **_prices(request),
    }
    if time_in_force:
        body["timeInForce"] = time_in_force
    return body


def oso_body(
    entry: OrderRequest, brackets: list[OrderRequest], account: AccountRef, *, exit_tif: str
) -> dict:
    """PlaceOSO (§3.3): the entry, bracket1 and (when two) bracket2."""
    body = order_body(entry, account)
    for number, bracket in enumerate(brackets, start=1):
        body[f"bracket{number}"] = restrained(bracket, time_in_force=exit_tif)
    return body


def oco_body(first: OrderRequest, second: OrderRequest, account: AccountRef, *, tif: str) -> dict:
    """PlaceOCO (§3.3): the first leg as a placeorder, the second as `other`."""
    return {
        **order_body(first, account, time_in_force=tif),
        "other": restrained(second, time_in_force=tif),
    }


def modify_body(
    order_id: int,
    qty: int,
    order_type: str,
    price: Decimal | None,
    stop_price: Decimal | None,
) -> dict:
    """ModifyOrder (§3.4): quantity and type are required even for a price-only change."""
    body: dict = {"orderId": order_id, "orderQty": qty, "orderType": order_type}
    if price is not None:
        body["price"] = price_out(price)
    if stop_price is not None:
        body["stopPrice"] = price_out(stop_price)
    body["isAutomated"] = True
    return body


def cancel_body(order_id: int) -> dict:
    return {"orderId": order_id, "isAutomated": True}


def liquidate_body(account_id: int, contract_id: int) -> dict:
    return {"accountId": account_id, "contractId": contract_id, "admin": False, "isAutomated": True}


# --- answers ------------------------------------------------------------------------------


def _words(text: object, reason: object) -> str:
    text, reason = (str(text).strip() if text else ""), (str(reason).strip() if reason else "")
    if text and reason and reason not in text:
        return f"{text} ({reason})"
    return text or reason


def refusal(data: Any, id_field: str) -> str | None:
    """Tradovate's words when a 200 answer refuses the command; None when it succeeded."""
    if not isinstance(data, dict):
        return "Tradovate answered with something that is not a command result"
    reason = data.get("failureReason")
    if reason and reason != "Success":
        return _words(data.get("failureText"), reason)
    if data.get("errorText"):
        return str(data["errorText"])
    if data.get("violations"):
        return "; ".join(
            str(v.get("description") or v.get("constraint") or v) if isinstance(v, dict) else str(v)
            for v in data["violations"]
        )
    if data.get(id_field) is None:
        return _words(data.get("failureText"), None) or f"Tradovate answered without {id_field}"
    return None


def _rejected(data: Any, id_field: str) -> None:
    words = refusal(data, id_field)
    if not words:
        return
    reason = data.get("failureReason") if isinstance(data, dict) else None
    if reason in LOCKED_REASONS:
        raise AccountLocked(
            f"Tradovate: {words}", closing_allowed=reason in CLOSING_ALLOWED_REASONS
        )
    raise OrderRejected(f"Tradovate: {words}")


def parse_place(data: Any) -> int:
    """PlaceOrderResult → the order id; OrderRejected with Tradovate's words."""
    _rejected(data, "orderId")
    return int(data["orderId"])


def parse_oso(data: Any) -> tuple[int, int | None, int | None]:
    """PlaceOsoResult → (entry id, bracket1 id, bracket2 id)."""
    _rejected(data, "orderId")
    return int(data["orderId"]), _int(data.get("oso1Id")), _int(data.get("oso2Id"))


def parse_oco(data: Any) -> tuple[int, int | None]:
    """PlaceOcoResult → (first leg id, other leg id). [U] `ocoId` is read as the other leg."""
    _rejected(data, "orderId")
    return int(data["orderId"]), _int(data.get("ocoId"))


def command_refusal(data: Any) -> str | None:
    """CommandResult (modify, cancel): Tradovate's words when refused, else None."""
    return refusal(data, "commandId")


def new_order_ids(commands: Any, client_order_ids: Iterable[str]) -> dict[str, int]:
    """Our clOrdId → Tradovate's order id, from Command entities (`/command/list`).

    The Order entity carries no clOrdId (§3.1); the Command that created it does
    (`commandType` New), which is how an order whose answer was lost is found again.
    """
    wanted = set(client_order_ids)
    found: dict[str, int] = {}
    for command in items(commands):
        cl_ord_id = command.get("clOrdId")
        if cl_ord_id in wanted and command.get("orderId") is not None:
            if command.get("commandType", "New") == "New":
                found.setdefault(str(cl_ord_id), int(command["orderId"]))
    return found


def command_client_ids(commands: Any, order_ids: Iterable[int]) -> dict[int, str]:
    """Tradovate order id → the clOrdId its New command carried, for the ids asked."""
    wanted = set(order_ids)
    found: dict[int, str] = {}
    for command in items(commands):
        order_id = _int(command.get("orderId"))
        cl_ord_id = command.get("clOrdId")
        if order_id in wanted and cl_ord_id and command.get("commandType", "New") == "New":
            found.setdefault(order_id, str(cl_ord_id))
    return found


def choose_account(accounts: list[AccountRef], wanted: str | int | None) -> AccountRef:
    """The account `broker_account_id` names, else the first (active) one the login sees."""
    if not accounts:
        raise BrokerAuthError("this Tradovate login sees no trading account")
    if wanted not in (None, ""):
        for account in accounts:
            if str(account.id) == str(wanted).strip():
                return account
        seen = ", ".join(f"{a.name} (#{a.id})" for a in accounts)
        raise BrokerAuthError(
            f"Tradovate account #{wanted} is not among the accounts this login sees: {seen}. "
            "Fix the account's Tradovate account id, or leave it empty to use the first"
        )
    return next((a for a in accounts if a.active), accounts[0])


def latest_versions(versions: Any) -> dict[int, dict]:
    """orderId → its newest OrderVersion (the highest id)."""
    latest: dict[int, dict] = {}
    for version in items(versions):
        order_id = _int(version.get("orderId"))
        if order_id is None:
            continue
        held = latest.get(order_id)
        if held is None or (_int(version.get("id")) or 0) >= (_int(held.get("id")) or 0):
            latest[order_id] = version
    return latest


def fill_totals(fills: Iterable[dict]) -> tuple[int, Decimal | None]:
    """Filled quantity and average price of an order's active fills."""
    qty, value = 0, Decimal(0)
    for fill in fills:
        if fill.get("active", True) is False:
            continue
        amount = int(fill.get("qty") or 0)
        price = decimal(fill.get("price"))
        if amount and price is not None:
            qty += amount
            value += price * amount
    if not qty:
        return 0, None
    return qty, (value / qty).quantize(PRICE_PLACES).normalize()


def order_status(ord_status: str | None, filled_qty: int, qty: int) -> OrderStatus:
    """Tradovate's ordStatus as ours. `Completed` is done: filled if its fills say so."""
    if ord_status == "Completed":
        return OrderStatus.FILLED if qty and filled_qty >= qty else OrderStatus.CANCELLED
    status = ORD_STATUSES.get(ord_status or "")
    if status is None:
        logger.warning("unknown Tradovate ordStatus %r read as pending", ord_status)
        return OrderStatus.PENDING
    return status


def broker_order(
    *,
    client_order_id: str,
    order: dict,
    symbol: str,
    version: dict | None = None,
    request: OrderRequest | None = None,
    fills: Iterable[dict] = (),
) -> BrokerOrder:
    """An Order (+ its newest version, or the request that made it) as a BrokerOrder."""
    filled_qty, avg = fill_totals(fills)
    if version is not None:
        qty = int(version.get("orderQty") or (request.qty if request else 0))
        kind = READ_ORDER_TYPES.get(str(version.get("orderType")), OrderType.MARKET)
        limit = (
            decimal(version.get("price"))
            if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
            else None
        )
        stop = (
            decimal(version.get("stopPrice"))
            if kind in (OrderType.STOP, OrderType.STOP_LIMIT)
            else None
        )
    elif request is not None:
        qty, kind, limit, stop = (
            request.qty,
            OrderType(request.order_type),
            request.limit_price,
            request.stop_price,
        )
    else:
        raise BrokerError(f"order {order.get('id')}: no version to read its terms from")
    side = SIDES.get(str(order.get("action")))
    if side is None:
        side = Side(request.side) if request else Side.BUY
    return BrokerOrder(
        client_order_id=client_order_id,
        broker_order_id=str(order["id"]),
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=kind,
        status=order_status(order.get("ordStatus"), filled_qty, qty),
        limit_price=limit,
        stop_price=stop,
        filled_qty=filled_qty,
        avg_fill_price=avg,
    )


def broker_position(position: dict, symbol: str) -> BrokerPosition:
    return BrokerPosition(symbol, int(position["netPos"]), decimal(position.get("netPrice")))


def broker_fill(
    fill: dict, symbol: str, client_order_id: str | None, fees: Decimal | None
) -> BrokerFill:
    """A Fill as a BrokerFill; `fees` from its FillFee (the Fill itself carries none, §3.1),
    None while Tradovate has not posted them."""
    return BrokerFill(
        broker_fill_id=str(fill["id"]),
        client_order_id=client_order_id,
        broker_order_id=str(fill["orderId"]) if fill.get("orderId") is not None else None,
        symbol=symbol,
        side=SIDES[str(fill["action"])],
        qty=int(fill["qty"]),
        price=decimal(fill["price"]) or Decimal(0),
        commission=fees,
        time=parse_time(fill.get("timestamp")) or datetime.min.replace(tzinfo=UTC),
    )


def fill_fees(data: Any) -> dict[int, Decimal]:
    """Fill id → its total fees, from FillFee entities (reference "Fees on fills").

    A FillFee's id is its fill's id. A fill missing from the answer has no FillFee yet, or
    one that cannot be read: either way its fees are not known, never taken as 0.
    """
    totals: dict[int, Decimal] = {}
    for fee in items(data):
        fill_id = _int(fee.get("id"))
        total = _fee_total(fee)
        if fill_id is not None and total is not None:
            totals[fill_id] = total
    return totals


def _fee_total(fee: dict) -> Decimal | None:
    """The sum of a FillFee's non-null amounts, exact; None (logged) when one is no number."""
    total = Decimal(0)
    for name in FEE_FIELDS:
        value = fee.get(name)
        if value is None:
            continue
        amount = decimal(value)
        if amount is None:
            logger.warning(
                "Tradovate fill fee %s: %s=%r is not a number", fee.get("id"), name, value
            )
            return None
        total += amount
    return total


@dataclass(frozen=True)
class CashSnapshot:
    """CashBalanceSnapshot; P&L fields are None when Tradovate omits them (§3.1)."""

    total_cash: Decimal
    net_liq: Decimal | None
    open_pnl: Decimal | None
    realized_pnl: Decimal | None


def parse_snapshot(data: Any) -> CashSnapshot:
    if not isinstance(data, dict):
        raise BrokerError("Tradovate's cash balance snapshot is not an object")
    if data.get("errorText"):
        raise BrokerError(f"Tradovate: {data['errorText']}")
    total = decimal(data.get("totalCashValue"))
    if total is None:
        raise BrokerError("Tradovate's cash balance snapshot has no totalCashValue")
    return CashSnapshot(
        total_cash=total,
        net_liq=decimal(data.get("netLiq")),
        open_pnl=decimal(data.get("openPnL")),
        realized_pnl=decimal(data.get("realizedPnL")),
    )


def account_state(snapshot: CashSnapshot, unrealized: Decimal) -> AccountState:
    """Cash is totalCashValue; equity is netLiq when given, else cash + open P&L."""
    realized = snapshot.realized_pnl or Decimal(0)
    equity = snapshot.net_liq if snapshot.net_liq is not None else snapshot.total_cash + unrealized
    return AccountState(
        cash=snapshot.total_cash, realized_pnl=realized, unrealized_pnl=unrealized, equity=equity
    )


# --- small parsers ------------------------------------------------------------------------


def decimal(value: object) -> Decimal | None:
    """A number from the wire as an exact Decimal (floats via their shortest text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def items(data: Any) -> list[dict]:
    """A list answer's objects (a find or item may answer one object, or null)."""
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    return [item for item in data if isinstance(item, dict)]


AUTO_LIQ_MODES = {"EOD": "eod", "RealTime": "realtime"}


def parse_auto_liq(data: Any) -> BrokerLimits | None:
    """A UserAccountAutoLiq (reference "The broker's own risk settings"): an omitted or null
    field means that rule is not applied."""
    if not isinstance(data, dict):
        return None
    stamp = data.get("flattenTimestamp")
    return BrokerLimits(
        daily_loss=decimal(data.get("dailyLossAutoLiq")),
        daily_profit=decimal(data.get("dailyProfitAutoLiq")),
        weekly_loss=decimal(data.get("weeklyLossAutoLiq")),
        weekly_profit=decimal(data.get("weeklyProfitAutoLiq")),
        trailing_drawdown=decimal(data.get("trailingMaxDrawdown")),
        trailing_drawdown_mode=AUTO_LIQ_MODES.get(str(data.get("trailingMaxDrawdownMode"))),
        trailing_drawdown_limit=decimal(data.get("trailingMaxDrawdownLimit")),
        flatten_at=parse_time(stamp),
        changes_locked=bool(data.get("changesLocked")),
    )
