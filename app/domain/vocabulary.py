"""The closed sets of words the data model and the contract use (DESIGN §3, §5)."""

from enum import StrEnum


class BrokerKind(StrEnum):
    PAPER = "paper"
    TRADOVATE = "tradovate"


class Environment(StrEnum):
    DEMO = "demo"
    LIVE = "live"


class RiskMode(StrEnum):
    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    AGGRESSIVE = "aggressive"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class StrategyMode(StrEnum):
    ORDERS = "orders"
    POSITION_SYNC = "position-sync"


class SnapshotKind(StrEnum):
    """Why an equity snapshot was taken: a round trip closed, or the trading day ended."""

    TRADE = "trade"
    DAY = "day"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class OrderRole(StrEnum):
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    EXIT = "exit"
    MANUAL = "manual"
    KILL = "kill"


class OrderStatus(StrEnum):
    PENDING = "pending"
    WORKING = "working"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"


class EventStatus(StrEnum):
    RECEIVED = "received"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    FAILED = "failed"
    PENDING_APPROVAL = "pending_approval"  # held for the trader's click (approvals)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ExitReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    BREAK_EVEN = "break_even"
    SIGNAL = "signal"
    MANUAL = "manual"
    KILL_SWITCH = "kill_switch"
    TIME_EXIT = "time_exit"  # the strategy's exit_after_minutes ran out


class AuditCategory(StrEnum):
    SIGNAL = "signal"
    ORDER = "order"
    RISK = "risk"
    AUTH = "auth"
    SYSTEM = "system"
    KILL_SWITCH = "kill_switch"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class AdvancedKind(StrEnum):
    TRAILING = "trailing"
    OCO = "oco"


class AdvancedStatus(StrEnum):
    """An advanced order's life: watched while active (or triggered: its exit is on its
    way), then closed as done (the exit filled), cancelled or failed."""

    ACTIVE = "active"
    TRIGGERED = "triggered"
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"


class HaltKind(StrEnum):
    """Who halted an account, which decides what lifts the halt: the kill switch's re-arm
    lifts its own; the trader lifts a manual or daily-loss halt; the rest end with the
    rule or session that set them."""

    KILL_SWITCH = "kill_switch"
    DAILY_LOSS = "daily_loss"
    MANUAL = "manual"
    RULE = "rule"
    DONE_FOR_DAY = "done_for_day"
    SESSION_END = "session_end"
    # The broker says the account is locked or liquidation-only: final until the trader,
    # having dealt with the broker, lifts it.
    BROKER_LOCKED = "broker_locked"


class RejectCode(StrEnum):
    """Why an order was never placed or was refused, as code reads it (the reason says it
    to people): our risk gate, a halt, the kill switch, exits that could not be priced or
    made sense of, the broker's refusal (of which one is final: the account is locked or
    liquidation-only), or a broker that could not be reached."""

    RISK = "risk"
    HALTED = "halted"
    KILL_SWITCH = "kill_switch"
    NO_PRICE = "no_price"
    INVALID_EXITS = "invalid_exits"
    BROKER_REJECTED = "broker_rejected"
    BROKER_LOCKED = "broker_locked"
    BROKER_ERROR = "broker_error"


class NotificationChannel(StrEnum):
    DISCORD = "discord"
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class NotificationStatus(StrEnum):
    """An outbox row's life: pending (due at next_attempt_at: now, after a backoff, or at
    the end of quiet hours), then sent, or failed once the retries are spent or the
    channel refused it for good."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Tone(StrEnum):
    """How a notification reads at a glance: a Discord embed's colour, an e-mail's accent."""

    GOOD = "good"
    BAD = "bad"
    WARNING = "warning"
    INFO = "info"


class NotificationEvent(StrEnum):
    """The event types of DESIGN §5.4 a trader can be told of, and choose per channel."""

    SIGNAL_RECEIVED = "signal_received"
    SIGNAL_REJECTED = "signal_rejected"
    ORDER_FILLED = "order_filled"
    POSITION_OPENED = "position_opened"
    POSITION_CLOSED = "position_closed"
    STOP_MOVED = "stop_moved"
    TARGET_HIT = "target_hit"
    STOP_HIT = "stop_hit"
    RISK_LIMIT = "risk_limit"
    ACCOUNT_HALTED = "account_halted"
    KILL_SWITCH = "kill_switch"
    BROKER_DISCONNECTED = "broker_disconnected"
    BROKER_RECONNECTED = "broker_reconnected"
    JOB_FAILED = "job_failed"
    PRICE_ALERT = "price_alert"
    DAILY_SUMMARY = "daily_summary"
    MONTHLY_REVIEW = "monthly_review"
    LOGIN_NEW_DEVICE = "login_new_device"
    RULE_WARNING = "rule_warning"
    RULE_BREACHED = "rule_breached"
    SESSION_FLATTEN = "session_flatten"
    APPROVAL_NEEDED = "approval_needed"
    ALERT_SILENCE = "alert_silence"
    ORDER_REJECTED_LATE = "order_rejected_late"
    TEST = "test"


class Timeframe(StrEnum):
    """Bar lengths (DESIGN §5.4 /api/bars): 1m is built from prices and stored; the longer
    ones are rolled up from it on read (1d may also be imported as it is)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"


class BarSource(StrEnum):
    """Where a stored bar came from: built from the prices seen, imported, or the broker's
    history."""

    PRICES = "prices"
    IMPORT = "import"
    BROKER = "broker"


class ConditionJoin(StrEnum):
    AND = "and"
    OR = "or"


class OptionModel(StrEnum):
    """Black-76 prices options on futures (the trader's instruments); Black-Scholes-Merton
    with a continuous dividend yield prices options on a spot index or stock."""

    BLACK76 = "black76"
    BSM = "bsm"


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


class SentimentLabel(StrEnum):
    """The five bands of a news article's sentiment score (−1…+1), most negative first."""

    VERY_NEGATIVE = "very_negative"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"
    VERY_POSITIVE = "very_positive"
