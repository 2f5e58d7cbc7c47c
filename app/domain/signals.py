"""A TradingView alert body, JSON or TradingView's default strategy message, as a Signal.

The body is parsed by its content, not its Content-Type (TradingView sends text/plain for
anything that is not valid JSON). The JSON contract is DESIGN §5.2; the rules that
section leaves open are settled here:

- Field names are case-sensitive. Aliases: action = side = data (PickMyTrade); symbol =
  ticker; quantity = contracts = qty; order_type = orderType (TradersPost; `type` is too
  generic to claim); take_profit = takeProfit = tp; stop_loss = stopLoss = sl;
  trailing_stop = trail (PickMyTrade) with `trail_trigger` as its activation;
  market_position = sentiment (TradersPost); time = date = timenow. A field given under
  two names must carry the same value there. JSON null means "not given".
- PickMyTrade writes 0 in tp, sl, trail and trail_trigger to mean "none", so there a
  zero is "not given"; elsewhere zero is rejected like any offset that is not positive.
- Unknown fields are ignored (traders add their own), except the few that other services
  give a meaning DeskPilot does not implement — a TradersPost `limitPrice`, PickMyTrade
  `dollar_sl` … — which are refused while non-zero, so no order silently loses its price
  or its protection.
- Actions, case-insensitive: buy (also long), sell (also short), exit (also close, flat,
  flatten), reverse, cancel. TradersPost's `add` adds in the direction of
  market_position (long → buy, short → sell) and needs it. With no action but a
  market_position or position_size the signal is `sync`: a position-sync target.
- A missing symbol takes the strategy's default. A missing quantity takes the default
  for buy and sell only: exit without quantity closes everything, reverse without it
  reverses the current size, cancel and sync take no quantity.
- The default order type applies to orders that open or change a position (buy, sell,
  reverse, sync to long or short). An exit or a sync to flat is market unless the alert
  says otherwise, so a flatten is never blocked by a default that needs a price; cancel
  places no order. Limit and stop orders need `price`; stop_limit (two prices) is not
  an alert order type.
- Exits (alert's own, else the strategy's) ride on signals that can open a position:
  buy, sell, reverse, and sync to long or short.
  A points offset as large as the alert's price is refused: no exit is that far, and it
  is most likely a price level written as a bare number (PickMyTrade's tp and sl are
  price levels).
- Target position: position_size may be signed (TradingView) or unsigned with
  market_position short; flat means 0; a size that contradicts market_position is
  refused. market_position is derived from the size's sign when absent. A sync to long
  or short needs a size.
- For a position-sync strategy (`SignalDefaults.position_sync`) the target governs even
  beside an action (execution decides with sizing.governing_intent), so a target of flat
  opens nothing; buy, sell or reverse without a target are refused, since adding blindly
  would undo the self-healing; exit (flat) and cancel need no target.
- time: ISO 8601 (a naive time is UTC) or epoch seconds or milliseconds, as a number or
  a string, between 2000 and 2100.

The passphrase is read by `read_passphrase` before anything else is checked, so a caller
can refuse a wrong secret (401) without telling the sender what else is wrong; a Signal
never carries it.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from app.domain.break_even import BreakEvenSpec, parse_break_even
from app.domain.errors import DomainValidationError
from app.domain.exit_preview import check_rules
from app.domain.exits import ExitSpec, OffsetUnit, TrailingSpec, parse_exit, parse_trailing
from app.domain.numbers import (
    parse_decimal,
    parse_positive_decimal,
    parse_quantity,
    parse_whole_number,
)
from app.domain.targets import Target, parse_targets
from app.domain.vocabulary import OrderType

MAX_SYMBOL_LENGTH = 40
MAX_ID_LENGTH = 100
MAX_COMMENT_LENGTH = 200
MAX_TIME_LENGTH = 64


class SignalError(DomainValidationError):
    """An alert that cannot be acted on; the webhook answers 400 invalid_payload with `field`."""


class SignalAction(StrEnum):
    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"
    REVERSE = "reverse"
    CANCEL = "cancel"
    SYNC = "sync"


class MarketPosition(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


@dataclass(frozen=True)
class SignalDefaults:
    """What the strategy fills in when an alert leaves it out, and the quantity cap."""

    max_quantity: int
    symbol: str | None = None
    quantity: int | None = None
    order_type: OrderType = OrderType.MARKET
    take_profit: ExitSpec | None = None
    stop_loss: ExitSpec | None = None
    trailing_stop: TrailingSpec | None = None
    # Applied where it can act (a stop to move, a market entry); an alert's own is refused
    # where it cannot.
    break_even: BreakEvenSpec | None = None
    targets: tuple[Target, ...] | None = None  # default scale-out targets (take_profit None)
    position_sync: bool = False  # the strategy's mode: the alert's target governs


@dataclass(frozen=True)
class Charted:
    """What the alert named before the strategy's symbol mapping changed it."""

    symbol: str
    quantity: int | None
    position_size: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "quantity": self.quantity,
            "position_size": self.position_size,
        }


@dataclass(frozen=True)
class Signal:
    """One alert, validated; `symbol` is still the alert's text, resolved to a contract later."""

    action: SignalAction
    symbol: str
    quantity: int | None
    order_type: OrderType | None
    price: Decimal | None
    take_profit: ExitSpec | None
    stop_loss: ExitSpec | None
    trailing_stop: TrailingSpec | None
    market_position: MarketPosition | None
    position_size: int | None  # signed target: long > 0, short < 0, flat 0
    alert_id: str | None
    alert_time: datetime | None
    received_at: datetime
    comment: str | None
    body_format: Literal["json", "text"]
    break_even: BreakEvenSpec | None = None
    targets: tuple[Target, ...] | None = None  # scale-out take profits (take_profit None)
    charted: Charted | None = None  # the alert's own contract and counts, when mapped
    confidence: Decimal | None = None  # 0-100, read by an account's risk mode

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (DESIGN §5.4: decimals as strings, times ISO 8601 UTC)."""
        return {
            "action": self.action.value,
            "symbol": self.symbol,
            "quantity": self.quantity,
            "order_type": _value_or_none(self.order_type),
            "price": None if self.price is None else format(self.price, "f"),
            "take_profit": _json_or_none(self.take_profit),
            "stop_loss": _json_or_none(self.stop_loss),
            "trailing_stop": _json_or_none(self.trailing_stop),
            "break_even": _json_or_none(self.break_even),
            "targets": None if self.targets is None else [t.to_json() for t in self.targets],
            "market_position": _value_or_none(self.market_position),
            "position_size": self.position_size,
            "alert_id": self.alert_id,
            "alert_time": _iso_or_none(self.alert_time),
            "received_at": _iso_or_none(self.received_at),
            "comment": self.comment,
            "body_format": self.body_format,
            "charted": None if self.charted is None else self.charted.to_json(),
            "confidence": None if self.confidence is None else format(self.confidence, "f"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Signal":
        """The signal `to_json` wrote (an alert held for approval trades what was parsed
        and shown then, not a re-read of its stored, redacted body)."""
        return cls(
            action=SignalAction(data["action"]),
            symbol=data["symbol"],
            quantity=data.get("quantity"),
            order_type=OrderType(data["order_type"]) if data.get("order_type") else None,
            price=Decimal(data["price"]) if data.get("price") is not None else None,
            take_profit=_exit_or_none(data, "take_profit"),
            stop_loss=_exit_or_none(data, "stop_loss"),
            trailing_stop=parse_trailing(data["trailing_stop"], "trailing_stop")
            if data.get("trailing_stop")
            else None,
            market_position=MarketPosition(data["market_position"])
            if data.get("market_position")
            else None,
            position_size=data.get("position_size"),
            alert_id=data.get("alert_id"),
            alert_time=_time_or_none(data.get("alert_time")),
            received_at=_time_or_none(data["received_at"]),
            comment=data.get("comment"),
            body_format=data["body_format"],
            break_even=parse_break_even(data["break_even"]) if data.get("break_even") else None,
            targets=parse_targets(data["targets"], "take_profit") if data.get("targets") else None,
            charted=Charted(**data["charted"]) if data.get("charted") else None,
            confidence=Decimal(data["confidence"]) if data.get("confidence") is not None else None,
        )


def _exit_or_none(data: dict[str, Any], name: str) -> ExitSpec | None:
    return parse_exit(data[name], name) if data.get(name) else None


def _time_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _value_or_none(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


def _json_or_none(spec: ExitSpec | TrailingSpec | None) -> dict | None:
    return None if spec is None else spec.to_json()


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- entry points -----------------------------------------------------------------------


def read_passphrase(body: str) -> str | None:
    """The `passphrase` of a JSON alert (a string, or a whole number as text), else None.

    Never raises: the caller checks the secret before the payload is validated.
    """
    try:
        data = json.loads(_clean(body))
    except (ValueError, RecursionError):
        return None
    value = data.get("passphrase") if isinstance(data, dict) else None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_signal(body: str, defaults: SignalDefaults, received_at: datetime) -> Signal:
    """Parse and validate one alert body; every fault raises SignalError naming its field."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    try:
        data, body_format = _load(body)
        return _build(_Payload(data), defaults, received_at, body_format)
    except SignalError:
        raise
    except DomainValidationError as error:  # from numbers.py and exits.py
        raise SignalError(error.field, error.message) from error


# --- the body: JSON or TradingView's strategy message ----------------------------------

_STRATEGY_MESSAGE = re.compile(
    r"\border\s+(?P<action>buy|sell)\s+@\s+(?P<quantity>\S+)\s+filled\s+on\s+(?P<symbol>\S+?)\."
    r"\s+New\s+strategy\s+position\s+is\s+(?P<position>\S+?)\.?\s*$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{\{[^{}]{0,60}\}\}")
_EXAMPLE_MESSAGE = "'<name>: order buy @ 1 filled on MES1!. New strategy position is 1'"


def _clean(body: str) -> str:
    return body.strip().lstrip("\ufeff").strip()


def _load(body: str) -> tuple[dict, Literal["json", "text"]]:
    text = _clean(body)
    if not text:
        raise SignalError("body", "is empty")
    try:
        data = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object_with_unique_keys,
        )
    except SignalError:
        raise
    except (ValueError, RecursionError) as error:
        if text.startswith("{"):
            raise SignalError("body", f"is not valid JSON ({error}){_hint(text)}") from None
        return _from_strategy_message(text), "text"
    if not isinstance(data, dict):
        raise SignalError("body", f"must be a JSON object, got {type(data).__name__}")
    return data, "json"


def _refuse_constant(name: str) -> None:
    raise SignalError("body", f"{name} is not a number")


def _object_with_unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise SignalError("body", f"key {_shown(key)} appears twice")
        data[key] = value
    return data


def _from_strategy_message(text: str) -> dict:
    """TradingView's default strategy alert, as the JSON fields it stands for."""
    match = _STRATEGY_MESSAGE.search(text)
    if match is None:
        raise SignalError(
            "body",
            f"is neither a JSON object nor TradingView's strategy message "
            f"{_EXAMPLE_MESSAGE}{_hint(text)}",
        )
    name = text[: match.start()].strip().removesuffix(":").strip()
    return {
        "action": match["action"],
        "quantity": match["quantity"],
        "symbol": match["symbol"],
        "position_size": match["position"],
        "comment": name or None,
    }


def _hint(text: str) -> str:
    placeholder = _PLACEHOLDER.search(text)
    if placeholder is None:
        return ""
    return f"; it contains the unrendered TradingView placeholder {placeholder[0]}"


# --- field lookup ---------------------------------------------------------------------

_ALIASES: dict[str, tuple[str, ...]] = {
    "action": ("action", "side", "data"),
    "symbol": ("symbol", "ticker"),
    "quantity": ("quantity", "contracts", "qty"),
    "order_type": ("order_type", "orderType"),
    "price": ("price",),
    "take_profit": ("take_profit", "takeProfit", "tp"),
    "stop_loss": ("stop_loss", "stopLoss", "sl"),
    "trailing_stop": ("trailing_stop", "trail"),
    "break_even": ("break_even",),
    "trail_trigger": ("trail_trigger",),
    "market_position": ("market_position", "sentiment"),
    "position_size": ("position_size",),
    "id": ("id",),
    "time": ("time", "date", "timenow"),
    "comment": ("comment",),
    "confidence": ("confidence",),
}
# PickMyTrade's "none" for these is 0.
_ZERO_MEANS_ABSENT = frozenset({"tp", "sl", "trail", "trail_trigger"})
# Meanings other services give these fields; dropping them would change the order.
_UNSUPPORTED: dict[str, str] = {
    "limitPrice": "is not supported; use order_type limit with price",
    "stopPrice": "is not supported; use order_type stop with price",
    "trailAmount": "is not supported; use trailing_stop",
    "trailPercent": "is not supported; use trailing_stop with percent",
    "trail_stop": "is not supported; use trailing_stop",
    "percentage_tp": "is not supported; use take_profit with percent",
    "dollar_tp": "is not supported; use take_profit in ticks, points or percent",
    "percentage_sl": "is not supported; use stop_loss with percent",
    "dollar_sl": "is not supported; use stop_loss in ticks, points or percent",
}


class _Payload:
    """The alert's JSON object, read field by field with the alias rules applied."""

    def __init__(self, data: dict) -> None:
        self._data = data
        for name, refusal in _UNSUPPORTED.items():
            if not _is_blank(data.get(name)):
                raise SignalError(name, refusal)

    def get(self, field: str) -> Any:
        """The value under `field` or one of its aliases, None when not given."""
        given = [
            (name, self._data[name])
            for name in _ALIASES[field]
            if self._data.get(name) is not None
            and not (name in _ZERO_MEANS_ABSENT and _is_zero(self._data[name]))
        ]
        for _, value in given:
            _refuse_placeholders(value, field)
        if not given:
            return None
        name, value = given[0]
        for other, other_value in given[1:]:
            if other_value != value:
                raise SignalError(field, f"is given as {name} and as {other} with different values")
        return value


def _is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return parse_decimal(value, "") == 0
    except DomainValidationError:
        return False


def _is_blank(value: Any) -> bool:
    return value is None or value is False or value == "" or _is_zero(value)


def _refuse_placeholders(value: Any, field: str) -> None:
    """Reject a {{placeholder}} TradingView left unrendered, anywhere inside the value."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (placeholder := _PLACEHOLDER.search(item)):
            raise SignalError(
                field, f"contains the unrendered TradingView placeholder {placeholder[0]}"
            )


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise SignalError(field, f"must be text, got {type(value).__name__}")
    return value.strip()


def _shown(value: object) -> str:
    """Quote untrusted text for a message, cut to a readable length."""
    shown = str(value)
    return repr(shown if len(shown) <= 40 else shown[:40] + "…")


# --- building the signal --------------------------------------------------------------

_ACTIONS = {
    "buy": SignalAction.BUY,
    "long": SignalAction.BUY,
    "sell": SignalAction.SELL,
    "short": SignalAction.SELL,
    "exit": SignalAction.EXIT,
    "close": SignalAction.EXIT,
    "flat": SignalAction.EXIT,
    "flatten": SignalAction.EXIT,
    "reverse": SignalAction.REVERSE,
    "cancel": SignalAction.CANCEL,
}
_SIZED = frozenset({SignalAction.BUY, SignalAction.SELL, SignalAction.REVERSE, SignalAction.EXIT})
_ALERT_ORDER_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP)


def _build(
    payload: _Payload,
    defaults: SignalDefaults,
    received_at: datetime,
    body_format: Literal["json", "text"],
) -> Signal:
    market_position, position_size = _target(payload)
    action = _action(payload, market_position, position_size)
    if defaults.position_sync:
        _require_target(action, position_size)
    closes_only = _closes_only(action, position_size, defaults.position_sync)
    order_type = _order_type(payload, defaults, action, closes_only)
    price = _price(payload, order_type)
    targets = _targets(payload, order_type, closes_only)
    take_profit, stop_loss, trailing_stop = _exits(payload, defaults, closes_only, price)
    if targets is None and defaults.targets and not closes_only:
        if payload.get("take_profit") is None:  # the alert's own take profit overrides them
            targets = _default_targets(defaults.targets, order_type)
    if targets is not None:
        take_profit = None  # the targets are the take profit
        if trailing_stop is not None:
            raise SignalError(
                "take_profit", "scale-out targets beside a trailing stop are not followed yet"
            )
    break_even = _break_even(payload, order_type, stop_loss, trailing_stop, closes_only, targets)
    if break_even is None and payload.get("break_even") is None and not closes_only:
        break_even = _default_break_even(
            defaults.break_even, order_type, stop_loss, trailing_stop, targets
        )
    return Signal(
        action=action,
        symbol=_symbol(payload, defaults),
        quantity=_quantity(payload, defaults, action),
        order_type=order_type,
        price=price,
        take_profit=take_profit,
        stop_loss=stop_loss,
        trailing_stop=trailing_stop,
        market_position=market_position,
        position_size=position_size,
        alert_id=_alert_id(payload.get("id")),
        alert_time=_alert_time(payload.get("time")),
        received_at=received_at,
        comment=_comment(payload.get("comment")),
        body_format=body_format,
        break_even=break_even,
        targets=targets,
        confidence=_confidence(payload.get("confidence")),
    )


def _action(
    payload: _Payload, market_position: MarketPosition | None, position_size: int | None
) -> SignalAction:
    value = payload.get("action")
    if value is None:
        if market_position is None:
            raise SignalError(
                "action",
                "is required (buy, sell, exit, reverse or cancel), "
                "or give market_position and position_size to sync",
            )
        if position_size is None:
            raise SignalError("position_size", f"is required to sync to {market_position}")
        return SignalAction.SYNC
    word = _text(value, "action").lower()
    if word == "add":
        return _add_direction(market_position)
    if word not in _ACTIONS:
        raise SignalError(
            "action", f"must be buy, sell, exit, reverse or cancel, got {_shown(value)}"
        )
    return _ACTIONS[word]


def _require_target(action: SignalAction, position_size: int | None) -> None:
    """A position-sync strategy orders toward a target; an alert that only adds has none."""
    if position_size is None and action in (
        SignalAction.BUY,
        SignalAction.SELL,
        SignalAction.REVERSE,
    ):
        raise SignalError(
            "position_size",
            "is required: this strategy is in position-sync mode, so each alert must give "
            "the target position (market_position and position_size, as TradingView's "
            f"strategy placeholders do); '{action}' alone would not heal a missed alert",
        )


def _add_direction(market_position: MarketPosition | None) -> SignalAction:
    if market_position is MarketPosition.LONG:
        return SignalAction.BUY
    if market_position is MarketPosition.SHORT:
        return SignalAction.SELL
    raise SignalError("action", "add needs market_position long or short to know its side")


def _target(payload: _Payload) -> tuple[MarketPosition | None, int | None]:
    """The strategy's position after this alert, as (market_position, signed size)."""
    position = _market_position(payload.get("market_position"))
    raw_size = payload.get("position_size")
    if raw_size is None:
        return position, (0 if position is MarketPosition.FLAT else None)
    size = parse_whole_number(raw_size, "position_size")
    if position is None:
        return _position_of(size), size
    if position is MarketPosition.SHORT and size > 0:
        size = -size
    if _position_of(size) is not position:
        raise SignalError("position_size", f"is {size} but market_position is {position}")
    return position, size


def _market_position(value: Any) -> MarketPosition | None:
    if value is None:
        return None
    word = _text(value, "market_position").lower()
    try:
        return MarketPosition(word)
    except ValueError:
        raise SignalError(
            "market_position", f"must be long, short or flat, got {_shown(value)}"
        ) from None


def _position_of(size: int) -> MarketPosition:
    if size > 0:
        return MarketPosition.LONG
    return MarketPosition.SHORT if size < 0 else MarketPosition.FLAT


def _symbol(payload: _Payload, defaults: SignalDefaults) -> str:
    value = payload.get("symbol")
    if value is None:
        if defaults.symbol:
            return defaults.symbol
        raise SignalError("symbol", "is required: the alert has none and the strategy no default")
    symbol = _text(value, "symbol")
    if not symbol:
        raise SignalError("symbol", "must not be empty")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise SignalError("symbol", f"is longer than {MAX_SYMBOL_LENGTH} characters")
    return symbol


def _quantity(payload: _Payload, defaults: SignalDefaults, action: SignalAction) -> int | None:
    value = payload.get("quantity")
    if value is not None:
        # Checked even where unused, so a broken template is caught on any alert.
        quantity = parse_quantity(value, "quantity", defaults.max_quantity)
        return quantity if action in _SIZED else None
    if action not in (SignalAction.BUY, SignalAction.SELL):
        return None
    if defaults.quantity is None:
        raise SignalError("quantity", "is required: the alert has none and the strategy no default")
    return parse_quantity(defaults.quantity, "quantity", defaults.max_quantity)


def _closes_only(action: SignalAction, position_size: int | None, position_sync: bool) -> bool:
    """True for signals that open nothing: exits, syncs to flat and cancels."""
    governed_by_target = position_sync and position_size is not None
    if action is SignalAction.SYNC or (governed_by_target and action is not SignalAction.CANCEL):
        return position_size == 0
    return action in (SignalAction.EXIT, SignalAction.CANCEL)


def _order_type(
    payload: _Payload, defaults: SignalDefaults, action: SignalAction, closes_only: bool
) -> OrderType | None:
    value = payload.get("order_type")
    if value is not None:
        word = _text(value, "order_type").lower()
        if word not in _ALERT_ORDER_TYPES:
            raise SignalError("order_type", f"must be market, limit or stop, got {_shown(value)}")
        order_type = OrderType(word)
    elif closes_only:
        order_type = OrderType.MARKET
    else:
        order_type = defaults.order_type
    if action is SignalAction.CANCEL:
        return None
    if order_type not in _ALERT_ORDER_TYPES:
        raise SignalError(
            "order_type", f"{order_type} needs two prices; alerts place market, limit or stop"
        )
    return order_type


def _price(payload: _Payload, order_type: OrderType | None) -> Decimal | None:
    value = payload.get("price")
    price = None if value is None else parse_positive_decimal(value, "price")
    if price is None and order_type in (OrderType.LIMIT, OrderType.STOP):
        raise SignalError("price", f"is required for a {order_type} order")
    return price


def _exits(
    payload: _Payload, defaults: SignalDefaults, closes_only: bool, price: Decimal | None
) -> tuple[ExitSpec | None, ExitSpec | None, TrailingSpec | None]:
    take_profit = _optional_exit(payload, "take_profit")
    stop_loss = _optional_exit(payload, "stop_loss")
    trailing_stop = _trailing(payload)
    if closes_only:
        return None, None, None
    take_profit = defaults.take_profit if take_profit is None else take_profit
    stop_loss = defaults.stop_loss if stop_loss is None else stop_loss
    trailing_stop = defaults.trailing_stop if trailing_stop is None else trailing_stop
    _check_points_below_price(take_profit, price, "take_profit")
    _check_points_below_price(stop_loss, price, "stop_loss")
    if trailing_stop is not None:
        _check_points_below_price(trailing_stop.trail, price, "trailing_stop")
    return take_profit, stop_loss, trailing_stop


def _break_even(
    payload: _Payload,
    order_type: OrderType | None,
    stop_loss: ExitSpec | None,
    trailing_stop: TrailingSpec | None,
    closes_only: bool,
    targets: tuple[Target, ...] | None,
) -> BreakEvenSpec | None:
    """The alert's break-even: it moves the stop the alert sets, from the entry's fill;
    `"first_target"` arms it at the first scale-out target."""
    value = payload.get("break_even")
    if value is None:
        return None
    try:
        spec = parse_break_even(value)
    except DomainValidationError as exc:
        raise SignalError(exc.field, exc.message) from None
    if closes_only:
        return None  # a closing order carries no exits
    try:
        check_rules(
            market=order_type in (None, OrderType.MARKET),
            stop_loss=stop_loss is not None,
            trailing=trailing_stop,
            targets=bool(targets),
            break_even=spec,
        )
    except DomainValidationError as exc:
        raise SignalError(exc.field, exc.message) from None
    return spec


def _default_targets(
    targets: tuple[Target, ...], order_type: OrderType | None
) -> tuple[Target, ...]:
    """The strategy's targets are its take profit: refused, never dropped, where they
    cannot be followed."""
    if order_type not in (None, OrderType.MARKET):
        raise SignalError(
            "take_profit",
            "the strategy's scale-out targets are followed on market entries for now",
        )
    return targets


def _default_break_even(
    spec: BreakEvenSpec | None,
    order_type: OrderType | None,
    stop_loss: ExitSpec | None,
    trailing_stop: TrailingSpec | None,
    targets: tuple[Target, ...] | None,
) -> BreakEvenSpec | None:
    """The strategy's break-even, for the alerts whose stop it can move."""
    if spec is None or order_type not in (None, OrderType.MARKET):
        return None
    if spec.on_first_target and not targets:
        return None
    if stop_loss is None and (trailing_stop is None or trailing_stop.activation is not None):
        return None
    return spec


def _targets(
    payload: _Payload, order_type: OrderType | None, closes_only: bool
) -> tuple[Target, ...] | None:
    """`take_profit` as a list: scale-out targets, set from a market entry's fill."""
    value = payload.get("take_profit")
    if not isinstance(value, list):
        return None
    try:
        targets = parse_targets(value, "take_profit")
    except DomainValidationError as exc:
        raise SignalError(exc.field, exc.message) from None
    if closes_only:
        return None
    if order_type not in (None, OrderType.MARKET):
        raise SignalError("take_profit", "scale-out targets are followed on market entries for now")
    return targets


def _optional_exit(payload: _Payload, field: str) -> ExitSpec | None:
    value = payload.get(field)
    if field == "take_profit" and isinstance(value, list):
        return None  # scale-out targets (_targets)
    return None if value is None else parse_exit(value, field)


def _trailing(payload: _Payload) -> TrailingSpec | None:
    value = payload.get("trailing_stop")
    trigger = payload.get("trail_trigger")
    if value is None:
        if trigger is not None:
            raise SignalError("trail_trigger", "needs trail, the trailing distance")
        return None
    spec = parse_trailing(value, "trailing_stop")
    if trigger is None:
        return spec
    if spec.activation is not None:
        raise SignalError("trail_trigger", "is given beside an activation in trailing_stop")
    return TrailingSpec(spec.trail, parse_exit(trigger, "trailing_stop.activation"))


def _check_points_below_price(spec: ExitSpec | None, price: Decimal | None, field: str) -> None:
    if spec is None or price is None or spec.unit is not OffsetUnit.POINTS:
        return
    if spec.amount >= price:
        raise SignalError(
            f"{field}.points",
            f"is {spec.amount} points, as far as the price {price} itself; "
            'for a price level write {"price": ...}',
        )


def _alert_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SignalError("id", "must be text or a whole number")
    alert_id = str(value).strip()
    if len(alert_id) > MAX_ID_LENGTH:
        raise SignalError("id", f"is longer than {MAX_ID_LENGTH} characters")
    return alert_id or None


def _confidence(value: Any) -> Decimal | None:
    """How sure the alert says it is, 0-100; an account's risk mode refuses one below
    its threshold (domain.risk_modes)."""
    if value is None:
        return None
    confidence = parse_decimal(value, "confidence")
    if not 0 <= confidence <= 100:
        raise SignalError("confidence", "must be between 0 and 100")
    return confidence


def _comment(value: Any) -> str | None:
    if value is None:
        return None
    return _text(value, "comment")[:MAX_COMMENT_LENGTH] or None


# --- time -------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EPOCH_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
# Epoch values from here up are milliseconds: as seconds they would be past the year 5000.
_MILLISECONDS_FROM = Decimal(10) ** 11


def _alert_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SignalError("time", "must be an ISO 8601 time or epoch seconds")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TIME_LENGTH:
            raise SignalError("time", f"is longer than {MAX_TIME_LENGTH} characters")
        moment = _from_epoch(text) if _EPOCH_NUMBER.fullmatch(text) else _from_iso(text)
    else:
        moment = _from_epoch(value)
    if not _EARLIEST <= moment < _LATEST:
        raise SignalError("time", f"{_iso_or_none(moment)} is outside 2000–2099")
    return moment


def _from_iso(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SignalError(
            "time", f"must be an ISO 8601 time or epoch seconds, got {_shown(text)}"
        ) from None


def _from_epoch(value: Any) -> datetime:
    seconds = parse_decimal(value, "time")
    if seconds >= _MILLISECONDS_FROM:
        seconds /= 1000
    if not 0 <= seconds < (_LATEST - _EPOCH).total_seconds():
        raise SignalError("time", f"epoch {_shown(value)} is outside 2000–2099")
    return _EPOCH + timedelta(microseconds=int(seconds * 1_000_000))
