"""A fake Tradovate REST server on 127.0.0.1, speaking reference/tradovate.md's wire formats.

What it does, as Tradovate does it (section numbers are the reference's):
- §2 tokens: /auth/accesstokenrequest answers an AccessTokenResponse with `expirationTime`
  (`token_lifetime`), or HTTP 200 with `errorText` for bad credentials; `cid` may be a
  number or a string; /auth/renewaccesstoken extends the session. Every other call wants
  `Authorization: Bearer <token>` and answers 401 without a valid one. Paths are matched
  case-insensitively (§2.1 [U]).
- §3 entities: accounts, contracts (made on demand for the products in PRODUCTS),
  products, positions, orders (no qty or price on the Order: those are OrderVersions),
  commands (carrying our clOrdId), fills and the cash balance snapshot, read through
  `list`, `item`, `items`, `find`, `deps` and `ldeps`; `userAccountAutoLiq` from
  `auto_liq` (per account id).
- §3.2-3.4 commands: placeorder, placeoso (brackets held `Suspended` until the entry
  fills, then working as an OCO pair — an assumption, §3.3 [U]), placeoco (`ocoId` is the
  other leg's id), modifyorder (orderQty and orderType required), cancelorder,
  liquidateposition. A refusal is HTTP 200 with failureReason/failureText, or
  `violations` when account fields are missing.
- A simple exchange: `set_price(symbol, price)` fills working orders the price reaches
  (market at once when a price is known, limits at or better, stops once touched,
  stop-limits as limits once touched) and keeps positions, P&L and cash. With
  `market_fill_reads` set, a market order fills only once `order/items` has read it that
  many times, as one Tradovate answers before its fill.
- Fees ("Fees on fills"): each fill gets a FillFee (id = the fill's id, every fee field
  a number or null) from `fees`, the amounts per contract by field (none by default: a
  free account). With `hold_fees` set, fills get none until `post_fees()`, as when
  Tradovate has not posted them yet.
- §4 trouble on demand: `penalize_next` (p-ticket/p-time, or p-captcha), `fail_next` with
  an HTTP status (429 with an empty body, 423, 5xx), `timeout=True` (answer after the
  client gave up, without doing anything), `drop=True` (do it, then answer too late: an
  order accepted whose answer is lost) or `reset=True` (do it, then reset the TCP
  connection instead of answering: "connection reset by peer"); `clear_faults` ends what
  is still queued. `reject_next` (failureReason/failureText), `revoke_tokens`,
  `expire_tokens` (401 from now on, as at expirationTime), `approved_devices` (live's
  device check: 401 on order calls).

Tests read what happened: `calls(path)`, `bodies(path)`, `placed` (orders made per
clOrdId: the proof that nothing was sent twice), `logins`, `renewals`, `order_for(clOrdId)`,
`working()` (what the exchange still works).
The `fake_tradovate` fixture starts it, points TRADOVATE_API_URL at it, makes the client's
waits instant (recorded in `client_sleeps`) and its clock movable (`client_clock`).
"""

import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer
from tests.fakes.tradovate_user import FakeUserSocket

# product root → (id, $ per point, tick size, description)
PRODUCTS = {
    "ES": (1001, Decimal(50), Decimal("0.25"), "E-Mini S&P 500"),
    "MES": (1002, Decimal(5), Decimal("0.25"), "Micro E-Mini S&P 500"),
    "NQ": (1003, Decimal(20), Decimal("0.25"), "E-Mini NASDAQ 100"),
    "MNQ": (1004, Decimal(2), Decimal("0.25"), "Micro E-Mini NASDAQ 100"),
    "CL": (1005, Decimal(1000), Decimal("0.01"), "Crude Oil"),
    "GC": (1006, Decimal(100), Decimal("0.1"), "Gold"),
}
MONTH_CODES = "FGHJKMNQUVXZ"
BAD_LOGIN = (
    "Incorrect username or password. Please try again, noting that passwords are case-sensitive."
)
OPEN = {"Working", "Suspended", "PendingNew"}
FEE_FIELDS = (
    "clearingFee",
    "exchangeFee",
    "nfaFee",
    "brokerageFee",
    "ipFee",
    "commission",
    "orderRoutingFee",
)
STARTING_CASH = Decimal("50000")


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime | None = None) -> str:
    return (moment or _now()).isoformat().replace("+00:00", "Z")


def _trade_date(moment: datetime) -> dict:
    return {"year": moment.year, "month": moment.month, "day": moment.day}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _reset(environ) -> None:
    """Abort the request's TCP connection with a RST and no FIN (SO_LINGER 0), as a proxy
    or a crashing server does: the client reads "Connection reset by peer". Werkzeug takes
    the ConnectionError as a dropped connection and writes no response."""
    connection = environ["werkzeug.socket"]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.shutdown(socket.SHUT_RD)  # the handler reads no further request: it ends
    connection.close()  # the real close (a RST, no FIN) comes when its files are closed
    raise ConnectionResetError("the fake reset the connection")


def _json(value) -> str:
    def default(item):
        if isinstance(item, Decimal):
            return _number(item)
        raise TypeError(type(item).__name__)

    return json.dumps(value, default=default)


@dataclass
class FakeUser:
    username: str
    password: str
    app_id: str
    cid: str
    sec: str
    user_id: int
    accounts: list[dict]
    has_live: bool = False


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # lower case, without /v1/
    query: dict
    body: dict | None
    authorized: bool


@dataclass
class _Fault:
    path: str
    status: int | None = None
    timeout: bool = False
    drop: bool = False
    reset: bool = False
    after: int = 0  # calls to `path` that still go through before this one fails


@dataclass
class _Penalty:
    ticket: str
    seconds: float
    captcha: bool


@dataclass
class _Exchange:
    """What an order needs besides its entity: how it fills and what it pulls with it."""

    cl_ord_id: str | None
    version: dict
    triggered: bool = False
    children: list[int] = field(default_factory=list)
    oco_with: int | None = None
    filled: int = 0  # contracts filled so far
    reads_to_fill: int = 0  # a market order held until `order/items` read it this often


class ClientClock:
    """The adapter's clock in tests: real time plus whatever the test advanced."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return _now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class FakeTradovate:
    """Tradovate's REST API in one process, with switches for everything that goes wrong."""

    def __init__(self, *, token_lifetime: timedelta = timedelta(minutes=80)) -> None:
        self.lock = threading.RLock()
        self.token_lifetime = token_lifetime
        self.stall_seconds = 0.6  # longer than the tests' client read timeout
        self.approved_devices: set[str] | None = None
        self.md_token: str | None = None  # a fixed mdAccessToken (for the market-data fake)
        self.users: dict[str, FakeUser] = {}
        self.tokens: dict[str, dict] = {}
        self.logins = 0
        self.renewals = 0
        self.recorded: list[Call] = []
        self.placed: Counter[str] = Counter()
        self.contracts: dict[str, dict] = {}
        self.prices: dict[int, Decimal] = {}
        self.orders: dict[int, dict] = {}
        self.exchange: dict[int, _Exchange] = {}
        self.versions: list[dict] = []
        self.commands: list[dict] = []
        self.fills: list[dict] = []
        self.fees: dict[str, Decimal] = {}  # per contract, by FillFee field
        self.hold_fees = False
        # Auto-liquidation settings per account id (UserAccountAutoLiq fields), as a prop
        # firm sets them; none by default.
        self.auto_liq: dict[int, dict] = {}
        # Reads of `order/items` before a new market order fills (0: it fills at once), as
        # a real one may fill only after placeorder has answered.
        self.market_fill_reads = 0
        # Like the paper venue's PAPER_MAX_FILL_PER_PRINT: the most contracts one print
        # fills of a resting limit order (None: whole).
        self.max_fill_per_print: int | None = None
        self.fill_fees: dict[int, dict] = {}
        self._held_fees: list[dict] = []
        self.positions: dict[tuple[int, int], dict] = {}
        self.realized: Counter[int] = Counter()
        self._ids = itertools.count(900001)
        self._faults: deque[_Fault] = deque()
        self._penalties: dict[str, _Penalty] = {}
        self._rejections: dict[str, deque[tuple[str, str]]] = {}
        self.client_sleeps: list[float] = []
        self.client_clock = ClientClock()
        self.user_socket = FakeUserSocket(self)
        self._server = LocalServer(self._wsgi, "fake-tradovate")
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> "FakeTradovate":
        port = self._server.start()
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- set-up and switches --------------------------------------------------------------

    def add_user(
        self,
        credentials: dict,
        *,
        accounts: list[tuple[int, str]] | None = None,
        has_live: bool = False,
    ) -> FakeUser:
        user = FakeUser(
            username=credentials["username"],
            password=credentials["password"],
            app_id=credentials["app_id"],
            cid=str(credentials["cid"]),
            sec=credentials["sec"],
            user_id=next(self._ids),
            accounts=[
                {
                    "id": account_id,
                    "name": name,
                    "userId": 0,
                    "accountType": "Customer",
                    "active": True,
                    "clearingHouseId": 2,
                    "riskCategoryId": 2,
                    "autoLiqProfileId": 2,
                    "marginAccountType": "Speculator",
                    "legalStatus": "Individual",
                    "readonly": False,
                    "timestamp": _stamp(),
                }
                for account_id, name in (
                    accounts or [(720001, "DEMO720001"), (720002, "DEMO720002")]
                )
            ],
            has_live=has_live,
        )
        for account in user.accounts:
            account["userId"] = user.user_id
        self.users[user.username] = user
        return user

    def fail_next(
        self,
        path: str,
        *,
        status: int | None = None,
        timeout: bool = False,
        drop: bool = False,
        reset: bool = False,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """The next `times` calls to `path` (once `after` more went through) fail: with
        `status`, by timing out before doing anything, or by doing it and then answering
        after the client gave up (`drop`) or resetting the connection (`reset`)."""
        for _ in range(times):
            self._faults.append(_Fault(path.lower(), status, timeout, drop, reset, after))

    def clear_faults(self) -> None:
        """The trouble is over: every fault still queued by `fail_next` is dropped."""
        with self.lock:
            self._faults.clear()

    def penalize_next(self, path: str, seconds: float = 2, *, captcha: bool = False) -> None:
        """The next call to `path` gets a penalty ticket; a resend carrying it goes through."""
        self._penalties[path.lower()] = _Penalty(f"pt-{uuid.uuid4().hex[:12]}", seconds, captcha)

    def reject_next(self, path: str, reason: str, text: str) -> None:
        self._rejections.setdefault(path.lower(), deque()).append((reason, text))

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far reaches its expirationTime now, whatever the client's
        clock says (a clock running behind): the next call with one is answered 401."""
        with self.lock:
            for session in self.tokens.values():
                session["expires"] = _now()

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def record_sleep(self, seconds: float) -> None:
        self.client_sleeps.append(seconds)

    # --- the exchange ---------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str | int) -> None:
        """A print: working orders of `symbol` that it reaches fill, like an exchange's."""
        with self.lock:
            contract = self._contract(symbol)
            assert contract is not None, f"the fake lists no {symbol}"
            self.prices[contract["id"]] = Decimal(str(price))
            self._match(contract["id"], print_=True)
            self.user_socket.publish()

    def seed_position(self, account_id: int, symbol: str, qty: int, price) -> None:
        """A filled order made outside DeskPilot (Tradovate's own site): no clOrdId."""
        with self.lock:
            contract = self._contract(symbol)
            order_id = self._new_order(
                account_id,
                contract["id"],
                {
                    "action": "Buy" if qty > 0 else "Sell",
                    "orderQty": abs(qty),
                    "orderType": "Market",
                },
                None,
            )
            self._fill(order_id, Decimal(str(price)), abs(qty))
            self.user_socket.publish()

    def post_fees(self) -> None:
        """Post the FillFees held back by `hold_fees`."""
        with self.lock:
            for fill in self._held_fees:
                self._post_fee(fill)
            self._held_fees.clear()

    def seed_order(self, account_id: int, symbol: str, **terms) -> int:
        """A working order made outside DeskPilot (no clOrdId); `terms` as a placeorder's."""
        with self.lock:
            contract = self._contract(symbol)
            order_id = self._new_order(account_id, contract["id"], terms, None)
            self._match(contract["id"])
            self.user_socket.publish()
            return order_id

    # --- what happened ----------------------------------------------------------------------

    def calls(self, path: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.recorded if path is None or c.path == path.lower()]

    def bodies(self, path: str) -> list[dict]:
        return [c.body for c in self.calls(path)]

    def order_for(self, cl_ord_id: str) -> dict:
        """The order our clOrdId made, with its newest version's terms merged in."""
        with self.lock:
            for order_id, state in self.exchange.items():
                if state.cl_ord_id == cl_ord_id:
                    return {**self.orders[order_id], **self._version_terms(state.version)}
        raise KeyError(cl_ord_id)

    def reject_working(self, cl_ord_id: str) -> None:
        """The exchange rejects an order it had accepted (a late rejection)."""
        with self.lock:
            for order_id, state in self.exchange.items():
                if state.cl_ord_id == cl_ord_id:
                    self.orders[order_id]["ordStatus"] = "Rejected"
                    self.user_socket.publish()
                    return
        raise KeyError(cl_ord_id)

    def working(self) -> list[dict]:
        """The orders the exchange still works, oldest first, terms merged in (`order_for`)."""
        with self.lock:
            return [
                {**self.orders[order_id], **self._version_terms(state.version)}
                for order_id, state in sorted(self.exchange.items())
                if self.orders[order_id]["ordStatus"] in OPEN
            ]

    def position(self, account_id: int, symbol: str) -> dict | None:
        with self.lock:
            contract = self.contracts.get(symbol)
            if contract is None:
                return None
            return self.positions.get((account_id, contract["id"]))

    # --- the user-data socket's view (tradovate_user.py) --------------------------------

    def user_of_token(self, token: str) -> FakeUser | None:
        """Whose token this is, while it is valid (the socket's authorize)."""
        session = self.tokens.get(token)
        return session["user"] if session is not None and session["expires"] > _now() else None

    def entities_of(self, user: FakeUser) -> dict[str, list[dict]]:
        """What `user/syncrequest` shows of a user, by entity type (the lock is held)."""
        found = {
            entity: self._entities(entity.lower(), user)
            for entity in ("account", "order", "orderVersion", "fill", "command", "position")
        }
        found["cashBalance"] = [self._cash_balance(account) for account in user.accounts]
        return found

    def _cash_balance(self, account: dict) -> dict:
        realized = self.realized[account["id"]]
        return {
            "id": account["id"],
            "accountId": account["id"],
            "timestamp": account["timestamp"],
            "tradeDate": _trade_date(_now()),
            "currencyId": 1,
            "amount": STARTING_CASH + realized,
            "realizedPnL": realized,
            "weekRealizedPnL": realized,
        }

    @staticmethod
    def to_json(value) -> str:
        return _json(value)

    # --- HTTP -----------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path.lower().removeprefix("/v1/").strip("/")
        if path == "websocket":
            return self.user_socket.serve(environ)
        body = request.get_json(silent=True) if request.method == "POST" else None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self.lock:
            session = self.tokens.get(token)
            valid = session is not None and session["expires"] > _now()
            self.recorded.append(Call(request.method, path, dict(request.args), body, valid))
            fault = self._take_fault(path)
        if fault is not None and fault.timeout:
            time.sleep(self.stall_seconds)
            return Response("", status=504)(environ, start_response)
        if fault is not None and fault.status is not None:
            text = "" if fault.status == 429 else f"fake failure {fault.status}"
            return Response(text, status=fault.status)(environ, start_response)
        with self.lock:
            self._expire_due(_now())
            status, payload = self._penalty(path, body)
            if status is None:
                status, payload = self._dispatch(request, path, body, session if valid else None)
            self.user_socket.publish()
        if fault is not None and fault.drop:
            time.sleep(self.stall_seconds)
        if fault is not None and fault.reset:
            _reset(environ)
        if isinstance(payload, str):
            return Response(payload, status=status)(environ, start_response)
        return Response(_json(payload), status=status, mimetype="application/json")(
            environ, start_response
        )

    def _take_fault(self, path: str) -> _Fault | None:
        waiting = [fault for fault in self._faults if fault.path == path]
        if waiting and waiting[0].after > 0:
            for fault in waiting:  # this call goes through: one fewer to wait for
                fault.after -= 1
            return None
        if waiting:
            self._faults.remove(waiting[0])
            return waiting[0]
        return None

    def _penalty(self, path: str, body: dict | None):
        penalty = self._penalties.get(path)
        if penalty is None:
            return None, None
        if not penalty.captcha and body is not None and body.get("p-ticket") == penalty.ticket:
            del self._penalties[path]
            return None, None
        if body is None or penalty.captcha:
            del self._penalties[path]  # a GET cannot carry the ticket back; one penalty only
        answer = {"p-ticket": penalty.ticket, "p-time": penalty.seconds}
        if penalty.captcha:
            answer["p-captcha"] = True
        return 200, answer

    def _dispatch(self, request: Request, path: str, body, session):
        if path == "auth/accesstokenrequest" and request.method == "POST":
            return 200, self._login(body or {})
        if session is None:
            return 401, "Access is denied"
        user: FakeUser = session["user"]
        args = request.args
        if path == "auth/renewaccesstoken":
            return 200, self._renew(session)
        if path.startswith("order/") and path in ORDER_COMMANDS:
            if self.approved_devices is not None and session["device"] not in self.approved_devices:
                return 401, "Access is denied"
            refusal = self._rejections.get(path)
            if refusal:
                reason, text = refusal.popleft()
                return 200, {"failureReason": reason, "failureText": text}
            return 200, getattr(self, ORDER_COMMANDS[path])(user, body or {})
        if path == "cashbalance/getcashbalancesnapshot":
            return 200, self._snapshot(user, (body or {}).get("accountId"))
        entity, _, operation = path.partition("/")
        if (entity, operation) == ("order", "items"):
            self._count_reads(args.get("ids", ""))
        rows = self._entities(entity, user)
        if rows is None:
            return 404, "Not found"
        return self._read(entity, operation, rows, args)

    def _read(self, entity: str, operation: str, rows: list[dict], args):
        if operation == "list":
            return 200, rows
        if operation == "item":
            found = [r for r in rows if str(r.get("id")) == args.get("id")]
            return (200, found[0]) if found else (404, "Not found")
        if operation == "items":
            wanted = set(args.get("ids", "").split(","))
            return 200, [r for r in rows if str(r.get("id")) in wanted]
        if operation == "find":
            if entity == "contract":
                found = self._contract(args.get("name", ""))
                return (200, found) if found else (404, "Not found")
            found = [r for r in rows if r.get("name") == args.get("name")]
            return (200, found[0]) if found else (404, "Not found")
        if operation in ("deps", "ldeps"):
            masters = set((args.get("masterid") or args.get("masterids") or "").split(","))
            master = MASTER_FIELDS.get(entity)
            if master is None:
                return 404, "Not found"
            return 200, [r for r in rows if str(r.get(master)) in masters]
        return 404, "Not found"

    def _count_reads(self, ids: str) -> None:
        """A held market order fills once it has been read `market_fill_reads` times."""
        for text in ids.split(","):
            state = self.exchange.get(int(text)) if text.isdigit() else None
            if state is not None and state.reads_to_fill > 0:
                state.reads_to_fill -= 1
                if state.reads_to_fill == 0:
                    self._match(self.orders[int(text)]["contractId"])

    def _entities(self, entity: str, user: FakeUser) -> list[dict] | None:
        accounts = {a["id"] for a in user.accounts}
        mine = {i for i, o in self.orders.items() if o["accountId"] in accounts}
        if entity == "account":
            return user.accounts
        if entity == "contract":
            return list(self.contracts.values())
        if entity == "product":
            return [self._product(root) for root in PRODUCTS]
        if entity == "position":
            return [p for (account, _), p in self.positions.items() if account in accounts]
        if entity == "order":
            return [self.orders[i] for i in sorted(mine)]
        if entity == "orderversion":
            return [v for v in self.versions if v["orderId"] in mine]
        if entity == "fill":
            return [f for f in self.fills if f["orderId"] in mine]
        if entity == "fillfee":
            ids = {f["id"] for f in self.fills if f["orderId"] in mine}
            return [fee for fill_id, fee in self.fill_fees.items() if fill_id in ids]
        if entity == "command":
            return [c for c in self.commands if c["orderId"] in mine]
        if entity == "useraccountautoliq":
            return [
                {"id": account, **settings}
                for account, settings in self.auto_liq.items()
                if account in accounts
            ]
        return None

    # --- auth -----------------------------------------------------------------------------

    def _login(self, body: dict) -> dict:
        user = self.users.get(body.get("name"))
        if user is None or body.get("password") != user.password:
            return {"errorText": BAD_LOGIN}
        if str(body.get("cid")) != user.cid or body.get("sec") != user.sec:
            return {"errorText": "The application key is not valid: check cid and sec."}
        if not body.get("appId"):
            return {"errorText": "appId is required."}
        self.logins += 1
        return self._issue(user, body.get("deviceId"))

    def _renew(self, session: dict) -> dict:
        self.renewals += 1
        return self._issue(session["user"], session["device"])

    def _issue(self, user: FakeUser, device: str | None) -> dict:
        token = f"tok-{uuid.uuid4().hex}"
        expires = _now() + self.token_lifetime
        self.tokens[token] = {"user": user, "expires": expires, "device": device}
        return {
            "accessToken": token,
            "mdAccessToken": self.md_token or f"md-{token}",
            "expirationTime": _stamp(expires),
            "passwordExpirationTime": _stamp(_now() + timedelta(days=90)),
            "userStatus": "Active",
            "userId": user.user_id,
            "name": user.username,
            "hasLive": user.has_live,
        }

    # --- contracts --------------------------------------------------------------------------

    def _contract(self, name: str) -> dict | None:
        if name in self.contracts:
            return self.contracts[name]
        root, month, year = name[:-2], name[-2:-1], name[-1:]
        if root not in PRODUCTS or month not in MONTH_CODES or not year.isdigit():
            return None
        contract = {
            "id": next(self._ids),
            "name": name,
            "contractMaturityId": next(self._ids),
            "status": "DefinitionChecked",
            "providerTickSize": PRODUCTS[root][2],
        }
        self.contracts[name] = contract
        return contract

    def _contract_by_id(self, contract_id: int) -> dict:
        return next(c for c in self.contracts.values() if c["id"] == contract_id)

    def _product(self, root: str) -> dict:
        product_id, per_point, tick, description = PRODUCTS[root]
        return {
            "id": product_id,
            "name": root,
            "currencyId": 1,
            "productType": "Futures",
            "description": description,
            "exchangeId": 2,
            "contractGroupId": 3,
            "status": "Verified",
            "months": "HMUZ",
            "valuePerPoint": per_point,
            "priceFormatType": "Decimal",
            "priceFormat": -2,
            "tickSize": tick,
        }

    def _point_value(self, contract_id: int) -> Decimal:
        return PRODUCTS[self._contract_by_id(contract_id)["name"][:-2]][1]

    # --- order commands -------------------------------------------------------------------

    def _account_of(self, user: FakeUser, body: dict) -> tuple[dict | None, dict | None]:
        """The order's account, or the refusal to answer instead."""
        missing = [f for f in ("accountSpec", "accountId") if body.get(f) in (None, "")]
        if missing:
            return None, {
                "violations": [
                    {"constraint": f, "value": "", "description": f"{f} should be specified"}
                    for f in missing
                ]
            }
        account = next((a for a in user.accounts if a["id"] == body["accountId"]), None)
        if account is None or account["name"] != body["accountSpec"]:
            return None, {"failureReason": "UnknownReason", "failureText": "Access is denied"}
        return account, None

    def _terms_problem(self, terms: dict) -> dict | None:
        kind = terms.get("orderType")
        if kind not in ("Market", "Limit", "Stop", "StopLimit"):
            return {"failureReason": "Unsupported", "failureText": f"Order type {kind}"}
        if terms.get("action") not in ("Buy", "Sell"):
            return {"failureReason": "UnknownReason", "failureText": "action must be Buy or Sell"}
        if kind in ("Limit", "StopLimit") and terms.get("price") is None:
            return {"failureReason": "InvalidPrice", "failureText": "Limit price is required"}
        if kind in ("Stop", "StopLimit") and terms.get("stopPrice") is None:
            return {"failureReason": "InvalidPrice", "failureText": "Stop price is required"}
        return None

    def _entry(self, user: FakeUser, body: dict):
        """Validate placeorder fields: (account, contract) or the refusal."""
        account, refusal = self._account_of(user, body)
        if refusal:
            return None, None, refusal
        contract = self._contract(str(body.get("symbol", "")))
        if contract is None:
            return (
                None,
                None,
                {
                    "failureReason": "InvalidContract",
                    "failureText": f"Unknown symbol {body.get('symbol')}",
                },
            )
        qty = body.get("orderQty")
        if not isinstance(qty, int) or qty <= 0:
            return None, None, {"failureReason": "UnknownReason", "failureText": "Bad orderQty"}
        refusal = self._terms_problem(body)
        return account, contract, refusal

    def _place_order(self, user: FakeUser, body: dict) -> dict:
        account, contract, refusal = self._entry(user, body)
        if refusal:
            return refusal
        order_id = self._new_order(account["id"], contract["id"], body, body.get("clOrdId"))
        self._match(contract["id"])
        return {"orderId": order_id}

    def _place_oso(self, user: FakeUser, body: dict) -> dict:
        account, contract, refusal = self._entry(user, body)
        brackets = [body[k] for k in ("bracket1", "bracket2") if body.get(k)]
        if not refusal and not brackets:
            refusal = {"violations": [{"constraint": "bracket1", "description": "required"}]}
        for bracket in brackets:
            refusal = refusal or self._terms_problem(bracket)
        if refusal:
            return refusal
        entry_id = self._new_order(account["id"], contract["id"], body, body.get("clOrdId"))
        ids = []
        for bracket in brackets:
            terms = {**bracket, "orderQty": body["orderQty"]}
            ids.append(
                self._new_order(
                    account["id"],
                    contract["id"],
                    terms,
                    bracket.get("clOrdId"),
                    status="Suspended",
                    parent=entry_id,
                )
            )
        if len(ids) == 2:
            self._link_oco(*ids)
        self._match(contract["id"])
        answer = {"orderId": entry_id, "oso1Id": ids[0]}
        if len(ids) == 2:
            answer["oso2Id"] = ids[1]
        return answer

    def _place_oco(self, user: FakeUser, body: dict) -> dict:
        account, contract, refusal = self._entry(user, body)
        other = body.get("other")
        if not refusal and not other:
            refusal = {"violations": [{"constraint": "other", "description": "required"}]}
        refusal = refusal or self._terms_problem(other)
        if refusal:
            return refusal
        first = self._new_order(account["id"], contract["id"], body, body.get("clOrdId"))
        second = self._new_order(
            account["id"],
            contract["id"],
            {**other, "orderQty": body["orderQty"]},
            other.get("clOrdId"),
        )
        self._link_oco(first, second)
        self._match(contract["id"])
        return {"orderId": first, "ocoId": second}

    def _modify_order(self, user: FakeUser, body: dict) -> dict:
        missing = [f for f in ("orderId", "orderQty", "orderType") if body.get(f) is None]
        if missing:
            return {
                "violations": [
                    {"constraint": f, "value": "", "description": f"{f} is required"}
                    for f in missing
                ]
            }
        order = self._users_order(user, body["orderId"])
        if order is None:
            return {"failureReason": "UnknownReason", "failureText": "Order not found"}
        if order["ordStatus"] not in OPEN:
            return {"failureReason": "TooLate", "failureText": f"Order is {order['ordStatus']}"}
        state = self.exchange[order["id"]]
        terms = {**state.version, **body, "action": order["action"]}
        refusal = self._terms_problem(terms)
        if refusal:
            return refusal
        state.version = self._add_version(order["id"], terms)
        command = self._command(order["id"], None, "Modify")
        self._match(order["contractId"])
        return {"commandId": command}

    def _cancel_order(self, user: FakeUser, body: dict) -> dict:
        order = self._users_order(user, body.get("orderId"))
        if order is None:
            return {"failureReason": "UnknownReason", "failureText": "Order not found"}
        if order["ordStatus"] not in OPEN:
            return {"failureReason": "TooLate", "failureText": f"Order is {order['ordStatus']}"}
        command = self._command(order["id"], body.get("clOrdId"), "Cancel")
        self._cancel(order["id"])
        return {"commandId": command}

    def _liquidate(self, user: FakeUser, body: dict) -> dict:
        account = next((a for a in user.accounts if a["id"] == body.get("accountId")), None)
        if account is None or body.get("contractId") is None or "admin" not in body:
            return {
                "violations": [
                    {"constraint": "accountId/contractId/admin", "description": "required"}
                ]
            }
        for order in list(self.orders.values()):
            same = order["accountId"] == account["id"] and order["contractId"] == body["contractId"]
            if same and order["ordStatus"] in OPEN:
                self._cancel(order["id"])
        position = self.positions.get((account["id"], body["contractId"]))
        if position is None or position["netPos"] == 0:
            return {"failureReason": "UnknownReason", "failureText": "No position to liquidate"}
        terms = {
            "action": "Sell" if position["netPos"] > 0 else "Buy",
            "orderQty": abs(position["netPos"]),
            "orderType": "Market",
        }
        order_id = self._new_order(account["id"], body["contractId"], terms, None)
        self._match(body["contractId"])
        return {"orderId": order_id}

    def _users_order(self, user: FakeUser, order_id) -> dict | None:
        order = self.orders.get(order_id) if isinstance(order_id, int) else None
        if order is None or order["accountId"] not in {a["id"] for a in user.accounts}:
            return None
        return order

    # --- order state ------------------------------------------------------------------------

    def _new_order(
        self,
        account_id: int,
        contract_id: int,
        terms: dict,
        cl_ord_id: str | None,
        *,
        status: str = "Working",
        parent: int | None = None,
    ) -> int:
        order_id = next(self._ids)
        self.orders[order_id] = {
            "id": order_id,
            "accountId": account_id,
            "contractId": contract_id,
            "timestamp": _stamp(),
            "action": terms["action"],
            "ordStatus": status,
            "admin": False,
            **({"parentId": parent} if parent else {}),
        }
        version = self._add_version(order_id, terms)
        self.exchange[order_id] = _Exchange(cl_ord_id, version)
        if terms["orderType"] == "Market":
            self.exchange[order_id].reads_to_fill = self.market_fill_reads
        if parent is not None:
            self.exchange[parent].children.append(order_id)
        self._command(order_id, cl_ord_id, "New", automated=terms.get("isAutomated"))
        if cl_ord_id:
            self.placed[cl_ord_id] += 1
        return order_id

    def _add_version(self, order_id: int, terms: dict) -> dict:
        version = {
            "id": next(self._ids),
            "orderId": order_id,
            "orderQty": terms["orderQty"],
            "orderType": terms["orderType"],
        }
        for key in ("price", "stopPrice", "timeInForce", "expireTime"):
            if terms.get(key) is not None:
                version[key] = Decimal(str(terms[key])) if "rice" in key else terms[key]
        self.versions.append(version)
        return version

    def _command(self, order_id: int, cl_ord_id: str | None, kind: str, automated=None) -> int:
        command_id = next(self._ids)
        command = {
            "id": command_id,
            "orderId": order_id,
            "timestamp": _stamp(),
            "commandType": kind,
            "commandStatus": "RiskPassed",
            "isAutomated": bool(automated),
        }
        if cl_ord_id:
            command["clOrdId"] = cl_ord_id
        self.commands.append(command)
        return command_id

    def _link_oco(self, first: int, second: int) -> None:
        self.exchange[first].oco_with = second
        self.exchange[second].oco_with = first
        self.orders[first]["ocoId"] = second
        self.orders[second]["ocoId"] = first

    def _expire_due(self, now: datetime) -> None:
        """Good-till-date orders past their expireTime end as the exchange ends them:
        `Expired`, their bracket children cancelled (checked before each call is answered)."""
        latest = {version["orderId"]: version for version in self.versions}
        for order_id, order in self.orders.items():
            version = latest.get(order_id, {})
            if order["ordStatus"] not in OPEN or version.get("timeInForce") != "GTD":
                continue
            expires = datetime.fromisoformat(version["expireTime"].replace("Z", "+00:00"))
            if expires <= now:
                self._cancel(order_id)
                order["ordStatus"] = "Expired"

    def _cancel(self, order_id: int) -> None:
        order = self.orders[order_id]
        if order["ordStatus"] not in OPEN:
            return
        order["ordStatus"] = "Canceled"
        for child in self.exchange[order_id].children:
            self._cancel(child)

    @staticmethod
    def _version_terms(version: dict) -> dict:
        return {k: v for k, v in version.items() if k not in ("id", "orderId")}

    def _match(self, contract_id: int, *, print_: bool = False) -> None:
        """Fill what the last price reaches, until nothing more fills. On a new print
        (`print_`) a resting limit fills at most `max_fill_per_print` contracts, once."""
        price = self.prices.get(contract_id)
        if price is None:
            return
        parted: set[int] = set()
        progress = True
        while progress:
            progress = False
            for order_id in sorted(self.orders):
                order = self.orders[order_id]
                if order["contractId"] != contract_id or order["ordStatus"] != "Working":
                    continue
                if order_id in parted or not self._reaches(order, price):
                    continue
                state = self.exchange[order_id]
                qty = int(state.version["orderQty"]) - state.filled
                resting = state.version["orderType"] in ("Limit", "StopLimit")
                if print_ and resting and self.max_fill_per_print is not None:
                    qty = min(qty, self.max_fill_per_print)
                    parted.add(order_id)
                self._fill(order_id, price, qty)
                progress = True
                break

    def _reaches(self, order: dict, price: Decimal) -> bool:
        state = self.exchange[order["id"]]
        version = state.version
        buy = order["action"] == "Buy"
        kind = version["orderType"]
        if kind in ("Stop", "StopLimit") and not state.triggered:
            stop = version["stopPrice"]
            if (buy and price >= stop) or (not buy and price <= stop):
                state.triggered = True
            else:
                return False
        if kind == "Market" and state.reads_to_fill > 0:
            return False
        if kind in ("Market", "Stop"):
            return True
        limit = version["price"]
        return price <= limit if buy else price >= limit

    def _fill(self, order_id: int, price: Decimal, qty: int) -> None:
        """Fill `qty` contracts: all that is left (the order is Filled, its OCO partner
        cancelled, its brackets released) or a part (it keeps working, and its OCO
        partner gives up as many contracts: the pair never holds more than the position)."""
        order = self.orders[order_id]
        state = self.exchange[order_id]
        now = _now()
        fill = {
            "id": next(self._ids),
            "orderId": order_id,
            "contractId": order["contractId"],
            "timestamp": _stamp(now),
            "tradeDate": _trade_date(now),
            "action": order["action"],
            "qty": qty,
            "price": price,
            "active": True,
            "finallyPaired": 0,
        }
        self.fills.append(fill)
        if self.hold_fees:
            self._held_fees.append(fill)
        else:
            self._post_fee(fill)
        state.filled += qty
        self._book(order["accountId"], order["contractId"], order["action"], qty, price, now)
        if state.filled < int(state.version["orderQty"]):
            if state.oco_with is not None:
                partner = self.exchange[state.oco_with]
                left = int(partner.version["orderQty"]) - qty
                partner.version = self._add_version(
                    state.oco_with, {**partner.version, "orderQty": left}
                )
            return
        order["ordStatus"] = "Filled"
        if state.oco_with is not None:
            self._cancel(state.oco_with)
        for child in state.children:
            if self.orders[child]["ordStatus"] == "Suspended":
                self.orders[child]["ordStatus"] = "Working"

    def _post_fee(self, fill: dict) -> None:
        """The fill's FillFee: each field `fees` names times the quantity, the others null."""
        fee: dict = {"id": fill["id"]}
        for name in FEE_FIELDS:
            per_contract = self.fees.get(name)
            fee[name] = None if per_contract is None else per_contract * fill["qty"]
            fee[f"{name}CurrencyId"] = None if per_contract is None else 1
        self.fill_fees[fill["id"]] = fee

    def _book(self, account_id, contract_id, action, qty, price: Decimal, now: datetime) -> None:
        key = (account_id, contract_id)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = {
                "id": next(self._ids),
                "accountId": account_id,
                "contractId": contract_id,
                "timestamp": _stamp(now),
                "tradeDate": _trade_date(now),
                "netPos": 0,
                "netPrice": None,
                "bought": 0,
                "boughtValue": Decimal(0),
                "sold": 0,
                "soldValue": Decimal(0),
                "prevPos": 0,
                "prevPrice": None,
            }
        signed = qty if action == "Buy" else -qty
        if action == "Buy":
            position["bought"] += qty
            position["boughtValue"] += price * qty
        else:
            position["sold"] += qty
            position["soldValue"] += price * qty
        held, average = position["netPos"], position["netPrice"]
        after = held + signed
        if held == 0 or (held > 0) == (signed > 0):
            position["netPrice"] = (abs(held) * (average or 0) + qty * price) / abs(after)
        else:
            closed = min(abs(held), qty)
            direction = 1 if held > 0 else -1
            self.realized[account_id] += (
                (price - average) * closed * direction * self._point_value(contract_id)
            )
            if after == 0:
                position["netPrice"] = None
            elif (after > 0) != (held > 0):
                position["netPrice"] = price
        position["netPos"] = after
        position["timestamp"] = _stamp(now)

    def _snapshot(self, user: FakeUser, account_id) -> dict:
        if account_id not in {a["id"] for a in user.accounts}:
            return {"errorText": "Access is denied"}
        total = STARTING_CASH + self.realized[account_id]
        answer: dict = {
            "totalCashValue": total,
            "initialMargin": Decimal(0),
            "maintenanceMargin": Decimal(0),
        }
        open_pnl = None
        for (account, contract_id), position in self.positions.items():
            if account != account_id or not position["netPos"]:
                continue
            price = self.prices.get(contract_id)
            if price is None:
                continue
            gain = (price - position["netPrice"]) * position["netPos"]
            open_pnl = (open_pnl or Decimal(0)) + gain * self._point_value(contract_id)
        if open_pnl is not None:
            answer["openPnL"] = open_pnl
        if self.realized[account_id]:
            answer["realizedPnL"] = self.realized[account_id]
        answer["netLiq"] = total + (open_pnl or 0)
        answer["totalPnL"] = self.realized[account_id] + (open_pnl or 0)
        return answer


ORDER_COMMANDS = {
    "order/placeorder": "_place_order",
    "order/placeoso": "_place_oso",
    "order/placeoco": "_place_oco",
    "order/modifyorder": "_modify_order",
    "order/cancelorder": "_cancel_order",
    "order/liquidateposition": "_liquidate",
}
MASTER_FIELDS = {
    "orderversion": "orderId",
    "fill": "orderId",
    "command": "orderId",
    "useraccountautoliq": "id",  # one per account, keyed by the account id
}


@pytest.fixture
def fake_tradovate(app, monkeypatch):
    """A running fake Tradovate that the app's Tradovate accounts talk to.

    The client's timeouts are short, its waits are recorded instead of slept
    (`client_sleeps`), its clock can be moved (`client_clock.advance`), and market data is
    left out (the fake speaks REST only; tests/fakes/tradovate_md.py is the socket).
    """
    from app.brokers.tradovate import broker, rest
    from tests.conftest import TRADOVATE_CREDENTIALS

    fake = FakeTradovate().start()
    fake.add_user(TRADOVATE_CREDENTIALS)
    app.config["TRADOVATE_API_URL"] = fake.url
    monkeypatch.setattr(
        rest,
        "TUNING",
        replace(
            rest.TUNING,
            connect_timeout=1.0,
            read_timeout=0.25,
            backoff=0.01,
            sleep=fake.record_sleep,
            clock=fake.client_clock,
        ),
    )
    monkeypatch.setattr(broker, "_market_data", lambda: None)
    rest.reset()
    broker.DIRECTORY.clear()
    yield fake
    fake.stop()
    rest.reset()
    broker.DIRECTORY.clear()
