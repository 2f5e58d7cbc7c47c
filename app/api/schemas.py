"""Request bodies of the setup resources, validated by pydantic before any service runs."""

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app, request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.domain.addresses import parse_network
from app.domain.break_even import parse_break_even
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.errors import DomainValidationError
from app.domain.exits import parse_exit, parse_trailing
from app.domain.targets import parse_targets
from app.domain.vocabulary import NotificationChannel, NotificationEvent
from app.errors import InvalidInput


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _exit_spec(value: Any) -> dict | None:
    if value is None:
        return None
    try:
        return parse_exit(value, "spec").to_json()
    except DomainValidationError as exc:
        raise ValueError(exc.message) from None


def _take_profit_spec(value: Any) -> dict | list | None:
    """A strategy's take profit: one exit, or scale-out targets as a list."""
    if not isinstance(value, list):
        return _exit_spec(value)
    try:
        return [target.to_json() for target in parse_targets(value, "spec")]
    except DomainValidationError as exc:
        raise ValueError(
            f"{exc.field.removeprefix('spec').lstrip('.')} {exc.message}".strip()
        ) from None


def _trailing_spec(value: Any) -> dict | None:
    if value is None:
        return None
    try:
        return parse_trailing(value, "spec").to_json()
    except DomainValidationError as exc:
        raise ValueError(
            f"{exc.field.removeprefix('spec').lstrip('.')} {exc.message}".strip()
        ) from None


def _break_even_spec(value: Any) -> dict | None:
    """A break-even default as DESIGN §5.2 writes it; an empty one (every part null) is none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError('must be an object like {"trigger": {"ticks": 8}}')
    given = {key: part for key, part in value.items() if part is not None}
    if not given:
        return None
    try:
        spec = parse_break_even(given, "spec")
    except DomainValidationError as exc:
        raise ValueError(
            f"{exc.field.removeprefix('spec').lstrip('.')} {exc.message}".strip()
        ) from None
    return spec.to_json()


def _time_of_day(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a time as HH:MM (24-hour)")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value[:64]!r}") from None
    if value not in available_timezones() and value != "UTC":
        raise ValueError(f"unknown time zone {value[:64]!r}")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[
    Decimal,
    BeforeValidator(_no_bool),
    Field(gt=0, le=Decimal("1000000000"), allow_inf_nan=False, decimal_places=2),
]
Multiplier = Annotated[
    Decimal,
    BeforeValidator(_no_bool),
    Field(gt=0, le=100, allow_inf_nan=False, decimal_places=4),
]
Count = Annotated[StrictInt, Field(ge=1, le=100_000)]
RowId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
ExitSpecField = Annotated[Any, AfterValidator(_exit_spec)]
TakeProfitField = Annotated[Any, AfterValidator(_take_profit_spec)]
TrailingField = Annotated[Any, AfterValidator(_trailing_spec)]
BreakEvenField = Annotated[Any, AfterValidator(_break_even_spec)]
TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]
TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
SymbolText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_:!.]+$"
    ),
]


def _tradable(symbol: str) -> str:
    """A trade_symbol must name a contract DeskPilot knows, checked when it is saved rather
    than on the first alert."""
    try:
        resolve_symbol(symbol, date.today())
    except UnknownSymbol as exc:
        raise ValueError(exc.message) from None
    return symbol


TradeSymbol = Annotated[SymbolText, AfterValidator(_tradable)]
Minutes = Annotated[StrictInt, Field(ge=1, le=10_080)]  # up to a week


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_default(schema: dict) -> None:
    """For a field that may be left out (unchanged) but not set to null: its None default
    means "not sent", not a value a client may send, so the JSON schema omits it."""
    schema.pop("default", None)


def _within_quantity_cap(value: int | None, info: ValidationInfo) -> int | None:
    """Quantities stop at MAX_ORDER_QUANTITY, passed in the validation context."""
    cap = (info.context or {}).get("max_quantity", 100)
    if value is not None and not 1 <= value <= cap:
        raise ValueError(f"must be between 1 and {cap}")
    return value


class TradovateCredentials(Body):
    username: ShortText | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    app_id: ShortText | None = None
    app_version: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    cid: Annotated[StrictInt, Field(ge=0)] | ShortText | None = None
    sec: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @field_validator("cid")
    @classmethod
    def _cid_as_text(cls, value: int | str | None) -> str | None:
        return None if value is None else str(value)


BrokerAccountId = Annotated[
    StrictInt | Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,20}$")],
    AfterValidator(str),
]


class AccountCreate(Body):
    name: Name
    broker: Literal["paper", "tradovate"]
    environment: Literal["demo", "live"] | None = None
    starting_balance: Amount | None = None
    credentials: TradovateCredentials | None = None
    broker_account_id: BrokerAccountId | None = None
    enabled: StrictBool | None = None


class AccountUpdate(Body):
    name: Name = Field(None, json_schema_extra=_no_default)  # an account always has a name
    broker: Literal["paper", "tradovate"] | None = None
    environment: Literal["demo", "live"] | None = None
    starting_balance: Amount | None = None
    credentials: TradovateCredentials | None = None
    broker_account_id: BrokerAccountId | None = None
    enabled: StrictBool | None = None


class TradingWindow(Body):
    start: TimeOfDay
    end: TimeOfDay
    timezone: TimeZoneName | None = None  # the service defaults it to the CME's zone

    @model_validator(mode="after")
    def _not_empty(self) -> "TradingWindow":
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class NewsBlackout(Body):
    """No new entries from `before_minutes` before to `after_minutes` after an economic
    event of at least `min_impact` (domain.news); with `flatten`, the account is flattened
    as the window opens (services.protection.news_watch)."""

    before_minutes: Annotated[StrictInt, Field(ge=0, le=360)]
    after_minutes: Annotated[StrictInt, Field(ge=0, le=360)]
    min_impact: Literal["low", "medium", "high"] = "high"
    flatten: StrictBool = False


class RiskUpdate(Body):
    max_contracts_per_order: Count | None = None
    max_position: Count | None = None
    max_open_positions: Count | None = None
    max_exposure: Amount | None = None  # dollars: Σ |qty| × price × point value
    max_daily_loss: Amount | None = None
    max_trades_per_day: Count | None = None
    trading_window: TradingWindow | None = None
    risk_mode: Literal["conservative", "moderate", "aggressive"] | None = None  # null: none
    # Funded-account rules (domain.account_rules); a null turns one off.
    trailing_drawdown: Amount | None = None
    trailing_drawdown_mode: Literal["eod", "realtime"] | None = None
    trailing_stops_at_start: StrictBool | None = None
    daily_profit_target: Amount | None = None
    profit_lock_trail: Amount | None = None
    weekly_loss_limit: Amount | None = None
    weekly_profit_target: Amount | None = None
    consistency_pct: Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=1, le=99)] | None = None
    loss_cooldown_minutes: Annotated[StrictInt, Field(ge=1, le=1440)] | None = None
    max_consecutive_losses: Count | None = None
    safety_buffer: Amount | None = None
    breach_action: Literal["refuse", "flatten"] | None = None
    flatten_at: TimeOfDay | None = None  # "HH:MM" in the trading window's zone
    flatten_before_close_minutes: Annotated[StrictInt, Field(ge=1, le=240)] | None = None
    news_blackout: NewsBlackout | None = None
    session_guard: StrictBool | None = None  # null: the broker's default


class StrategyFields(Body):
    symbol: SymbolText | None = None
    quantity: StrictInt | None = None
    order_type: Literal["market", "limit", "stop"] | None = None
    take_profit: TakeProfitField = None
    stop_loss: ExitSpecField = None
    trailing_stop: TrailingField = None
    break_even: BreakEvenField = None
    max_alert_age_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] | None = None
    mode: Literal["orders", "position-sync"] | None = None
    passphrase: Annotated[str, StringConstraints(max_length=72)] | None = None
    enabled: StrictBool | None = None
    require_approval: StrictBool | None = None  # alerts wait for the trader's click
    trade_symbol: TradeSymbol | None = None  # the contract traded, when not the alert's
    quantity_ratio: Multiplier | None = None  # contracts traded per charted contract
    entry_timeout_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] | None = None
    exit_after_minutes: Minutes | None = None
    expect_alert_every_minutes: Minutes | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None

    _quantity_in_range = field_validator("quantity")(_within_quantity_cap)


class StrategyCreate(StrategyFields):
    name: Name


class StrategyUpdate(StrategyFields):
    name: Name = Field(None, json_schema_extra=_no_default)  # a strategy always has a name


class TraderCreate(Body):
    strategy_id: RowId
    account_id: RowId
    quantity_multiplier: Multiplier | None = None
    fixed_quantity: StrictInt | None = None
    enabled: StrictBool | None = None

    _fixed_in_range = field_validator("fixed_quantity")(_within_quantity_cap)


class TraderUpdate(Body):
    quantity_multiplier: Multiplier | None = None
    fixed_quantity: StrictInt | None = None
    enabled: StrictBool | None = None

    _fixed_in_range = field_validator("fixed_quantity")(_within_quantity_cap)


def _calendar_url(value: str) -> str | None:
    """An http(s) URL with a host; "" turns the fetch off like null. The URL is never
    repeated in the message: it may carry a token."""
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        raise ValueError("must be an http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ValueError("must be an http or https URL")
    return value


HttpUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_calendar_url)]
EmailAddress = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]  # E.164
Secret = Annotated[str, StringConstraints(min_length=1, max_length=500)]
HostName = Annotated[str, StringConstraints(max_length=255, pattern=r"^[A-Za-z0-9.\-]+$")]


def _clock(value: Any) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a time of day as HH:MM")
    return time.fromisoformat(value)


ClockTime = Annotated[time, BeforeValidator(_clock)]


def _network(value: Any) -> str:
    """An address or CIDR range (IPv4 or IPv6, host bits allowed) in its canonical form."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    try:
        return str(parse_network(value))
    except DomainValidationError as exc:
        raise ValueError(exc.message) from None


NetworkRange = Annotated[str, BeforeValidator(_network)]


class SettingsUpdate(Body):
    timezone: TimeZoneName | None = None
    discord_user_id: Annotated[str, StringConstraints(pattern=r"^\d{15,21}$")] | None = None
    discord_dm_enabled: StrictBool | None = None
    calendar_url: HttpUrl | None = None
    # Notification channels (DESIGN §5.4); secrets are write-only, null clears one.
    daily_summary_time: ClockTime | None = None
    discord_bot_token: Secret | None = None
    smtp_host: HostName | None = None
    smtp_port: Annotated[StrictInt, Field(ge=1, le=65535)] | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: Annotated[str, StringConstraints(max_length=255)] | None = None
    smtp_password: Secret | None = None
    email_from: EmailAddress | None = None
    email_to: Annotated[list[EmailAddress], Field(max_length=10)] | None = None
    sms_to: Annotated[list[PhoneNumber], Field(max_length=5)] | None = None
    textbelt_key: Secret | None = None
    outgoing_webhook_url: HttpUrl | None = None
    # Who may send alerts (DESIGN §5.2); null or [] leaves it to TRADINGVIEW_IP_ALLOWLIST.
    webhook_allowlist: Annotated[list[NetworkRange], Field(max_length=50)] | None = None


class NotificationFilters(Body):
    strategy_ids: list[RowId] = []
    account_ids: list[RowId] = []
    symbols: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,10}$")]] = []
    direction: Literal["all", "long", "short"] = "all"


class QuietHours(Body):
    start: ClockTime | None = None
    end: ClockTime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> "QuietHours":
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        return self


class NotificationPreferencesUpdate(Body):
    """A part left out stays as it is; null is refused, since `{}` already clears filters
    and quiet hours (the service merges these parts as objects)."""

    events: dict[str, dict[str, StrictBool]] = Field(default_factory=dict)
    filters: NotificationFilters = Field(default_factory=NotificationFilters)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)

    @field_validator("events")
    @classmethod
    def _known_events_and_channels(cls, value):
        events = {e.value for e in NotificationEvent}
        channels = {c.value for c in NotificationChannel}
        for event, choices in (value or {}).items():
            if event not in events:
                raise ValueError(f"{event!r} is not a notification event")
            for channel in choices:
                if channel not in channels:
                    raise ValueError(f"{channel!r} is not a channel")
        return value


Price = Annotated[
    Decimal,
    BeforeValidator(_no_bool),
    Field(gt=0, le=Decimal("100000000"), allow_inf_nan=False, decimal_places=9),
]


class ManualOrder(Body):
    account_id: RowId
    symbol: SymbolText
    side: Literal["buy", "sell"]
    qty: StrictInt
    order_type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    limit_price: Price | None = None
    stop_price: Price | None = None
    take_profit: TakeProfitField = None  # one exit, or a list of scale-out targets
    stop_loss: ExitSpecField = None
    trailing_stop: TrailingField = None
    break_even: BreakEvenField = None

    _qty_in_range = field_validator("qty")(_within_quantity_cap)

    @model_validator(mode="after")
    def _prices_fit_the_type(self) -> "ManualOrder":
        needs = {
            "market": (False, False),
            "limit": (True, False),
            "stop": (False, True),
            "stop_limit": (True, True),
        }[self.order_type]
        for name, needed in zip(("limit_price", "stop_price"), needs, strict=True):
            given = getattr(self, name) is not None
            if needed and not given:
                raise ValueError(f"a {self.order_type} order needs {name}")
            if given and not needed:
                raise ValueError(f"a {self.order_type} order takes no {name}")
        return self


class BulkClose(Body):
    position_ids: Annotated[list[RowId], Field(min_length=1, max_length=100)]


Distance = Annotated[
    Decimal,
    BeforeValidator(_no_bool),
    Field(gt=0, le=Decimal("100000000"), allow_inf_nan=False, decimal_places=9),
]


class TrailingStopCreate(Body):
    """POST /api/orders/trailing-stop: one of percent, points or ticks."""

    position_id: RowId
    percent: Distance | None = None
    points: Distance | None = None
    ticks: Distance | None = None
    activation_price: Price | None = None
    # {"trigger": {"ticks": 8}, "offset": {"ticks": 1}}: read by domain.break_even.
    break_even: dict[str, Any] | None = None
    replace: StrictBool = False  # withdraw the position's exits first

    @model_validator(mode="after")
    def _one_distance(self) -> "TrailingStopCreate":
        given = [name for name in ("percent", "points", "ticks") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of percent, points or ticks")
        if self.ticks is not None and self.ticks != self.ticks.to_integral_value():
            raise ValueError("ticks must be a whole number")
        if self.percent is not None and self.percent >= 100:
            raise ValueError("percent must be below 100")
        return self


class OcoCreate(Body):
    """POST /api/orders/oco: a take profit and a stop loss for a position (or qty of it)."""

    position_id: RowId
    take_profit_price: Price
    stop_loss_price: Price
    qty: StrictInt | None = None
    break_even: dict[str, Any] | None = None  # as on a trailing stop
    replace: StrictBool = False  # withdraw the position's exits first

    _qty_in_range = field_validator("qty")(_within_quantity_cap)


class TargetsCreate(Body):
    """POST /api/orders/targets: scale-out targets (and a stop) on an open position."""

    position_id: RowId
    targets: list[Any]  # read by domain.targets, which names each target's faults
    stop_loss_price: Price | None = None
    break_even: dict[str, Any] | None = None  # as on an OCO pair
    replace: StrictBool = False  # withdraw the position's exits first


class HaltRequest(Body):
    """POST and DELETE /api/accounts/<id>/halt: why, in the trader's words (optional)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class PasswordChange(Body):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    new_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


SecondFactorCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class TwoFactorEnable(Body):
    """POST /api/2fa/enable: a code from the app, proving it holds the new secret."""

    code: SecondFactorCode


class TwoFactorCode(Body):
    """POST /api/2fa/step-up and /api/2fa/sms/enable: a second factor's code alone."""

    code: SecondFactorCode


class TwoFactorProof(Body):
    """POST /api/2fa/disable and /api/2fa/backup-codes: the password and a second factor
    (an app code or a backup code), so a session left open cannot do either alone."""

    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    code: SecondFactorCode


class ProjectionRequest(Body):
    """POST /api/analytics/projection (DESIGN §5.4): whose trades, how, and how far."""

    account_id: RowId | None = None
    strategy_id: RowId | None = None
    risk_mode: Literal["conservative", "moderate", "aggressive"] | None = None
    starting_balance: Amount
    trades: Annotated[StrictInt, Field(ge=1, le=5000)]
    runs: Annotated[StrictInt, Field(ge=1, le=20000)] = Field(2000, json_schema_extra=_no_default)
    seed: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None
    ruin_pct: Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, lt=100)] = Field(
        Decimal(50), json_schema_extra=_no_default
    )


def _utc(moment: datetime) -> datetime:
    """A time without a zone is UTC (as the query strings' `start` and `end` are)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


class ReplayOverrides(Body):
    """What a replay changes (DESIGN §5.4 POST /api/replay): exits as §5.2 writes them
    (null removes one), a fixed quantity per alert, the replay account's risk limits and
    risk mode (sized from the replay's own equity)."""

    take_profit: TakeProfitField = None
    stop_loss: ExitSpecField = None
    trailing_stop: TrailingField = None
    break_even: BreakEvenField = None
    quantity: StrictInt | None = None
    max_contracts_per_order: Count | None = None
    max_position: Count | None = None
    max_open_positions: Count | None = None
    max_daily_loss: Amount | None = None
    max_trades_per_day: Count | None = None
    max_exposure: Amount | None = None  # dollars: Σ |qty| × price × point value
    risk_mode: Literal["conservative", "moderate", "aggressive"] | None = None  # null: none

    _quantity_in_range = field_validator("quantity")(_within_quantity_cap)


class ReplayRequest(Body):
    """POST /api/replay: whose alerts, over which period (received times), changed how."""

    strategy_id: RowId
    start: UtcTime | None = None
    end: UtcTime | None = None
    overrides: ReplayOverrides | None = None

    @model_validator(mode="after")
    def _in_order(self) -> "ReplayRequest":
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("start must not be after end")
        return self


class PriceAlertFields(Body):
    """PUT /api/price-alerts/<id>: what a price alert may change. Conditions are checked by
    the domain (app/domain/price_rules.py), which names `conditions[i].field`."""

    name: Name = Field(None, json_schema_extra=_no_default)
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        None, json_schema_extra=_no_default
    )
    conditions: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=10)] = Field(
        None, json_schema_extra=_no_default
    )
    join: Literal["and", "or"] = Field(None, json_schema_extra=_no_default)
    timeframe: Literal["1m", "5m", "15m", "1h", "1d"] = Field(None, json_schema_extra=_no_default)
    cooldown_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 86400)] = Field(
        None, json_schema_extra=_no_default
    )
    max_triggers_per_day: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    one_shot: StrictBool = Field(None, json_schema_extra=_no_default)
    enabled: StrictBool = Field(None, json_schema_extra=_no_default)


class PriceAlertCreate(PriceAlertFields):
    """POST /api/price-alerts: a name, a symbol and conditions at least."""

    name: Name
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    conditions: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=10)]


def _distinct_tags(tags: list[str] | None) -> list[str] | None:
    """The tags once each, in the order given; none at all is stored as null."""
    return list(dict.fromkeys(tags)) if tags else None


# A tag is one cell of the export's `;`-joined column, so it cannot hold a `;`.
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^;]+$")
]


class TradeJournal(Body):
    """PATCH /api/trades/<id>: the trader's notes, tags and 1-5 rating of a trade; null (or
    an empty text or list) clears one."""

    notes: Annotated[
        Annotated[str, StringConstraints(max_length=5000)] | None,
        AfterValidator(lambda text: text or None),
    ] = Field(None, json_schema_extra=_no_default)
    tags: Annotated[
        Annotated[list[Tag], Field(max_length=20)] | None, AfterValidator(_distinct_tags)
    ] = Field(None, json_schema_extra=_no_default)
    rating: Annotated[StrictInt, Field(ge=1, le=5)] | None = Field(
        None, json_schema_extra=_no_default
    )


OptionNumber = Annotated[
    Decimal, BeforeValidator(_no_bool), Field(gt=0, le=10**12, allow_inf_nan=False)
]
OptionRate = Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=-1, le=1, allow_inf_nan=False)]


class OptionTerms(Body):
    """An option as the calculator takes it (DESIGN §5.4 /api/options). Rates, yields and
    volatilities are decimal fractions a year (0.05 is 5 %); time is `years` or an
    `expiry` date (its end, 24:00 UTC), one of the two."""

    model: Literal["black76", "bsm"]
    option_type: Literal["call", "put"]
    underlying: OptionNumber
    strike: OptionNumber
    years: Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, le=100)] | None = None
    expiry: date | None = None
    rate: OptionRate
    dividend_yield: OptionRate | None = None


class OptionGreeksRequest(OptionTerms):
    """POST /api/options/greeks: the option and its volatility."""

    volatility: Annotated[
        Decimal, BeforeValidator(_no_bool), Field(ge=Decimal("0.0001"), le=10, allow_inf_nan=False)
    ]


class ImpliedVolatilityRequest(OptionTerms):
    """POST /api/options/implied-volatility: the option and its price."""

    price: OptionNumber


NewsUrl = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_calendar_url)
]
SourceWeight = Annotated[
    Decimal,
    BeforeValidator(_no_bool),
    Field(ge=0, le=100, allow_inf_nan=False, decimal_places=3),
]


class NewsSourceFields(Body):
    """PUT /api/news/sources/<id>: what a news source may change. `weight` is how much its
    articles count in a symbol's sentiment (0 mutes it)."""

    name: Name = Field(None, json_schema_extra=_no_default)
    url: NewsUrl = Field(None, json_schema_extra=_no_default)
    enabled: StrictBool = Field(None, json_schema_extra=_no_default)
    weight: SourceWeight = Field(None, json_schema_extra=_no_default)


class NewsSourceCreate(NewsSourceFields):
    """POST /api/news/sources: an RSS or Atom feed's name and http(s) URL."""

    name: Name
    url: NewsUrl


class NewsFetch(Body):
    """POST /api/news/fetch: one source at once (whatever its backoff), else all due."""

    source_id: RowId | None = None


BodyModel = TypeVar("BodyModel", bound=Body)


def parse_body(model: type[BodyModel], optional: bool = False) -> dict:
    """Validate the request's JSON body against `model`; only the fields sent are returned.
    An `optional` body may be left out altogether (every field of its model is optional)."""
    if optional and not request.get_data():
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="invalid_json")
    context = {"max_quantity": current_app.config["MAX_ORDER_QUANTITY"]}
    parsed = model.model_validate(data, context=context)
    return parsed.model_dump(exclude_unset=True)
