"""Pre-trade risk checks: pure decisions over a snapshot of an account and one order.

An order that only reduces an existing position is never blocked by a limit (a trader
must always be able to get out), except when the account is halted: the kill switch and
an explicit halt stop everything an alert could send.
"""

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")


@dataclass(frozen=True)
class TradingWindow:
    """Wall-clock hours in a zone; start > end spans midnight (Globex: 17:00-16:00)."""

    start: time
    end: time
    timezone: str

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class RiskPolicy:
    max_contracts_per_order: int | None = None
    max_position: int | None = None
    max_open_positions: int | None = None
    max_daily_loss: Decimal | None = None
    max_trades_per_day: int | None = None
    window: TradingWindow | None = None
    halted: bool = False
    halted_reason: str | None = None
    safety_buffer: Decimal = Decimal(0)  # limits in dollars act this much early
    has_rules: bool = False  # funded-account rules to measure (domain.account_rules)
    news_blackout: bool = False  # no entries around high-impact news (domain.news)
    max_exposure: Decimal | None = None  # Σ |qty| × price × point value, in dollars
    # Who set max_open_positions when it is not the account's own limit ("risk mode …").
    open_positions_by: str | None = None


@dataclass(frozen=True)
class Exposure:
    """What the account holds and did today, as the caller measured it."""

    positions: dict[str, int] = field(default_factory=dict)  # symbol -> signed quantity
    realized_today: Decimal = Decimal(0)
    unrealized: Decimal = Decimal(0)
    entries_today: int = 0
    rule_breaches: tuple[str, ...] = ()  # funded-account rules breached, as sentences
    # Under an exposure limit: a price and the point value of every symbol held or ordered.
    marks: dict[str, Decimal] = field(default_factory=dict)
    point_values: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ProposedOrder:
    symbol: str
    signed_qty: int  # + buys, - sells


def reduces_only(order: ProposedOrder, current: int) -> bool:
    """True when the order moves the position toward flat without crossing it."""
    after = current + order.signed_qty
    return (
        current != 0 and abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0))
    )


def check_order(
    policy: RiskPolicy, exposure: Exposure, order: ProposedOrder, now: datetime
) -> list[str]:
    """Every limit the order would break, as sentences for the trader; empty means go."""
    if policy.halted:
        return [f"account is halted: {policy.halted_reason or 'no reason given'}"]
    current = exposure.positions.get(order.symbol, 0)
    if reduces_only(order, current):
        return []
    problems: list[str] = []
    qty = abs(order.signed_qty)
    if policy.max_contracts_per_order is not None and qty > policy.max_contracts_per_order:
        problems.append(
            f"{qty} contracts exceed the limit of {policy.max_contracts_per_order} per order"
        )
    after = current + order.signed_qty
    if policy.max_position is not None and abs(after) > policy.max_position:
        problems.append(
            f"position would be {after:+d} {order.symbol}, beyond the limit of "
            f"{policy.max_position}"
        )
    if policy.max_open_positions is not None and current == 0:
        open_count = sum(1 for qty_held in exposure.positions.values() if qty_held != 0)
        if open_count >= policy.max_open_positions:
            by = f", {policy.open_positions_by}" if policy.open_positions_by else ""
            problems.append(
                f"{open_count} positions already open (limit {policy.max_open_positions}{by})"
            )
    if policy.max_daily_loss is not None:
        day_pnl = exposure.realized_today + exposure.unrealized
        if day_pnl <= -(policy.max_daily_loss - policy.safety_buffer):
            buffer = f" less its {policy.safety_buffer} buffer" if policy.safety_buffer else ""
            problems.append(
                f"today's P&L {day_pnl} has reached the daily loss limit of "
                f"{policy.max_daily_loss}{buffer}"
            )
    if (
        policy.max_trades_per_day is not None
        and exposure.entries_today >= policy.max_trades_per_day
    ):
        problems.append(
            f"{exposure.entries_today} entries today reach the limit of "
            f"{policy.max_trades_per_day} per day"
        )
    if policy.max_exposure is not None:
        problems.extend(_exposure_problem(policy, exposure, order))
    problems.extend(exposure.rule_breaches)
    if policy.window is not None and not policy.window.contains(now):
        window = policy.window
        problems.append(
            f"outside the trading window {window.start:%H:%M}-{window.end:%H:%M} {window.timezone}"
        )
    return problems


def total_exposure(
    positions: dict[str, int], marks: dict[str, Decimal], point_values: dict[str, Decimal]
) -> Decimal:
    """Σ |qty| × price × point value over the open positions: the notional the account
    carries, in dollars. Raises KeyError naming a held symbol without a price."""
    return sum(
        (
            abs(qty) * marks[symbol] * point_values[symbol]
            for symbol, qty in positions.items()
            if qty
        ),
        Decimal(0),
    )


def _exposure_problem(policy: RiskPolicy, exposure: Exposure, order: ProposedOrder) -> list[str]:
    """The exposure limit, measured on the positions as they would be after the order.
    A symbol without a price refuses the order: an exposure that cannot be measured is
    not known to be within the limit."""
    after = dict(exposure.positions)
    after[order.symbol] = after.get(order.symbol, 0) + order.signed_qty
    limit = policy.max_exposure - policy.safety_buffer
    try:
        total = total_exposure(after, exposure.marks, exposure.point_values)
    except KeyError as missing:
        return [f"max_exposure: no price for {missing.args[0]} to measure the total exposure"]
    if total <= limit:
        return []
    buffer = f" less its {policy.safety_buffer} buffer" if policy.safety_buffer else ""
    return [
        f"max_exposure: total exposure would be {total.quantize(CENT)}, beyond "
        f"the limit of {policy.max_exposure.quantize(CENT)}{buffer}"
    ]
