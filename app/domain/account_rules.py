"""Funded-account rules: how much room an account has left before it breaks one.

A prop firm ends an account for one broken rule, so DeskPilot measures each rule the
trader set against the account's figures and acts before the firm (or the broker) would:
a rule whose room is gone refuses new entries, or flattens and halts the account, as the
trader chose (`BreachAction`). Pure arithmetic over `Decimal`; the services measure the
figures (`AccountPicture`) and keep the state that trails (the high-water mark, the day's
best P&L). The rules:

- **Trailing drawdown** (`trailing_drawdown`): equity may not fall to the high-water mark
  less the drawdown. In `EOD` mode the mark rises only with each day's closing equity; in
  `REALTIME` mode with every equity seen (`high_water_mark`). With
  `trailing_stops_at_start`, the floor trails only up to the starting balance.
- **Daily loss** (`max_daily_loss`), **weekly loss** (`weekly_loss_limit`): today's
  (this week's) realized + open P&L may not fall to minus the limit.
- **Profit target** (`daily_profit_target`, `weekly_profit_target`): the day (week) is
  done once P&L reaches it — the profit is locked by stopping.
- **Profit lock trail** (`profit_lock_trail`): once the day's best P&L exceeds the trail,
  a floor follows it at that distance; P&L falling to the floor ends the day.
- **Consistency** (`consistency_pct`): no day may make more than N % of the total profit
  (the days before and today's). Today's P&L may grow to N % × prior ÷ (100 − N) %;
  not applied before there is a prior profit. Refuses entries; never flattens.
- **Loss cooldown** (`loss_cooldown_minutes`): no entry until N minutes after a losing
  trade. **Consecutive losses** (`max_consecutive_losses`): no entry for the rest of the
  day after N losing trades in a row.
- **Safety buffer** (`safety_buffer`, dollars): every dollar rule is breached that much
  early, so DeskPilot acts before the firm's own limit is touched.

A rule's room is `room_left` in its unit; at or below zero it is breached. It warns once
the room is within `WARN_SHARE` of the limit.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from app.domain.numbers import shown

ZERO = Decimal(0)
WARN_SHARE = Decimal("0.2")  # a rule warns with a fifth of its room left


class DrawdownMode(StrEnum):
    EOD = "eod"
    REALTIME = "realtime"


class BreachAction(StrEnum):
    REFUSE = "refuse"  # no new entries; what is open stays with its exits
    FLATTEN = "flatten"  # flatten the account and halt it


class RuleName(StrEnum):
    TRAILING_DRAWDOWN = "trailing_drawdown"
    DAILY_LOSS = "daily_loss"
    WEEKLY_LOSS = "weekly_loss"
    DAILY_PROFIT_TARGET = "daily_profit_target"
    WEEKLY_PROFIT_TARGET = "weekly_profit_target"
    PROFIT_LOCK = "profit_lock"
    CONSISTENCY = "consistency"
    LOSS_COOLDOWN = "loss_cooldown"
    CONSECUTIVE_LOSSES = "consecutive_losses"


class RuleUnit(StrEnum):
    DOLLARS = "usd"
    MINUTES = "minutes"
    LOSSES = "losses"


# Rules that only refuse entries, whatever the breach action: flattening would not undo them.
REFUSE_ONLY = frozenset({RuleName.CONSISTENCY, RuleName.LOSS_COOLDOWN, RuleName.CONSECUTIVE_LOSSES})


@dataclass(frozen=True)
class AccountRules:
    """The rules the trader set for one account; None (or 0 for the buffer) is off."""

    trailing_drawdown: Decimal | None = None
    trailing_mode: DrawdownMode = DrawdownMode.EOD
    trailing_stops_at_start: bool = False
    max_daily_loss: Decimal | None = None
    weekly_loss_limit: Decimal | None = None
    daily_profit_target: Decimal | None = None
    weekly_profit_target: Decimal | None = None
    profit_lock_trail: Decimal | None = None
    consistency_pct: Decimal | None = None
    loss_cooldown_minutes: int | None = None
    max_consecutive_losses: int | None = None
    safety_buffer: Decimal = ZERO
    breach_action: BreachAction = BreachAction.REFUSE

    @property
    def any(self) -> bool:
        return any(
            value is not None
            for value in (
                self.trailing_drawdown,
                self.max_daily_loss,
                self.weekly_loss_limit,
                self.daily_profit_target,
                self.weekly_profit_target,
                self.profit_lock_trail,
                self.consistency_pct,
                self.loss_cooldown_minutes,
                self.max_consecutive_losses,
            )
        )


@dataclass(frozen=True)
class AccountPicture:
    """An account's figures now, as the services measured them."""

    equity: Decimal  # cash plus open P&L
    starting_balance: Decimal
    high_water_mark: Decimal  # by the drawdown's mode (`high_water_mark`)
    day_pnl: Decimal = ZERO  # realized today plus open
    day_best_pnl: Decimal = ZERO  # the day's highest `day_pnl` so far
    week_pnl: Decimal = ZERO
    prior_profit: Decimal = ZERO  # net P&L of the days before today (consistency)
    last_loss_at: datetime | None = None
    losses_in_a_row: int = 0  # today's losing trades since the last winner


@dataclass(frozen=True)
class RuleRoom:
    rule: RuleName
    unit: RuleUnit
    limit: Decimal
    used: Decimal
    room_left: Decimal
    breached: bool
    warning: bool
    flattens: bool  # a breach flattens and halts (else it refuses entries)
    detail: str  # the figures in a trader's words


def high_water_mark(
    mode: DrawdownMode, mark: Decimal, equity: Decimal, day_closed: bool
) -> Decimal:
    """The mark after seeing `equity`: in real time every equity counts, end of day only a
    day's closing one (`day_closed`)."""
    if mode is DrawdownMode.REALTIME or day_closed:
        return max(mark, equity)
    return mark


def drawdown_floor(rules: AccountRules, mark: Decimal, starting_balance: Decimal) -> Decimal:
    """The equity the trailing drawdown allows no lower than (before the buffer)."""
    floor = mark - rules.trailing_drawdown
    if rules.trailing_stops_at_start:
        floor = min(floor, starting_balance)
    return floor


def rooms(rules: AccountRules, picture: AccountPicture, now: datetime) -> list[RuleRoom]:
    """Every rule set, with its room left; in the order the rules are listed above."""
    buffer = rules.safety_buffer
    flattens = rules.breach_action is BreachAction.FLATTEN
    found: list[RuleRoom] = []

    def dollars(rule: RuleName, limit: Decimal, used: Decimal, room: Decimal, detail: str):
        found.append(_room(rule, RuleUnit.DOLLARS, limit, used, room, flattens, detail))

    if rules.trailing_drawdown is not None:
        floor = drawdown_floor(rules, picture.high_water_mark, picture.starting_balance)
        dollars(
            RuleName.TRAILING_DRAWDOWN,
            rules.trailing_drawdown,
            picture.high_water_mark - picture.equity,
            picture.equity - floor - buffer,
            f"equity {shown(picture.equity)}, floor {shown(floor)} (high-water mark "
            f"{shown(picture.high_water_mark)}, {rules.trailing_mode.value})",
        )
    if rules.max_daily_loss is not None:
        dollars(
            RuleName.DAILY_LOSS,
            rules.max_daily_loss,
            -picture.day_pnl,
            rules.max_daily_loss + picture.day_pnl - buffer,
            f"today's P&L {shown(picture.day_pnl)}",
        )
    if rules.weekly_loss_limit is not None:
        dollars(
            RuleName.WEEKLY_LOSS,
            rules.weekly_loss_limit,
            -picture.week_pnl,
            rules.weekly_loss_limit + picture.week_pnl - buffer,
            f"this week's P&L {shown(picture.week_pnl)}",
        )
    if rules.daily_profit_target is not None:
        dollars(
            RuleName.DAILY_PROFIT_TARGET,
            rules.daily_profit_target,
            picture.day_pnl,
            rules.daily_profit_target - picture.day_pnl - buffer,
            f"today's P&L {shown(picture.day_pnl)}",
        )
    if rules.weekly_profit_target is not None:
        dollars(
            RuleName.WEEKLY_PROFIT_TARGET,
            rules.weekly_profit_target,
            picture.week_pnl,
            rules.weekly_profit_target - picture.week_pnl - buffer,
            f"this week's P&L {shown(picture.week_pnl)}",
        )
    if rules.profit_lock_trail is not None:
        found.append(_profit_lock(rules, picture, flattens))
    if rules.consistency_pct is not None and picture.prior_profit > 0:
        share = rules.consistency_pct / 100  # below 1: the API takes 1 to 99
        cap = share * picture.prior_profit / (1 - share)
        found.append(
            _room(
                RuleName.CONSISTENCY,
                RuleUnit.DOLLARS,
                cap,
                picture.day_pnl,
                cap - picture.day_pnl - buffer,
                False,
                f"today's P&L {shown(picture.day_pnl)} of at most {shown(cap)} "
                f"({shown(rules.consistency_pct)} % of the total with "
                f"{shown(picture.prior_profit)} before today)",
            )
        )
    if rules.loss_cooldown_minutes is not None:
        found.append(_cooldown(rules.loss_cooldown_minutes, picture.last_loss_at, now))
    if rules.max_consecutive_losses is not None:
        limit = Decimal(rules.max_consecutive_losses)
        used = Decimal(picture.losses_in_a_row)
        found.append(
            _room(
                RuleName.CONSECUTIVE_LOSSES,
                RuleUnit.LOSSES,
                limit,
                used,
                limit - used,
                False,
                f"{picture.losses_in_a_row} losing trades in a row today",
            )
        )
    return found


def _profit_lock(rules: AccountRules, picture: AccountPicture, flattens: bool) -> RuleRoom:
    """Armed once the day's best P&L is beyond the trail: the floor follows it."""
    trail = rules.profit_lock_trail
    armed = picture.day_best_pnl > trail
    floor = picture.day_best_pnl - trail if armed else None
    room = picture.day_pnl - floor - rules.safety_buffer if armed else trail
    detail = (
        f"today's P&L {shown(picture.day_pnl)}, locked floor {shown(floor)} "
        f"(best {shown(picture.day_best_pnl)})"
        if armed
        else f"arms once today's P&L passes {shown(trail)} (best so far "
        f"{shown(picture.day_best_pnl)})"
    )
    used = picture.day_best_pnl - picture.day_pnl if armed else ZERO
    return _room(RuleName.PROFIT_LOCK, RuleUnit.DOLLARS, trail, used, room, flattens, detail)


def _cooldown(minutes: int, last_loss_at: datetime | None, now: datetime) -> RuleRoom:
    """No room while cooling down (`used`: the whole minutes still to wait); all of it
    otherwise."""
    limit = Decimal(minutes)
    ends = last_loss_at + timedelta(minutes=minutes) if last_loss_at is not None else None
    if ends is None or now >= ends:
        detail = "no loss to cool down from" if ends is None else f"cooled down at {ends:%H:%M} UTC"
        return _room(RuleName.LOSS_COOLDOWN, RuleUnit.MINUTES, limit, ZERO, limit, False, detail)
    waiting = Decimal(math.ceil((ends - now).total_seconds() / 60))
    detail = f"cooling down after a loss until {ends:%H:%M} UTC"
    return _room(RuleName.LOSS_COOLDOWN, RuleUnit.MINUTES, limit, waiting, ZERO, False, detail)


def _room(
    rule: RuleName,
    unit: RuleUnit,
    limit: Decimal,
    used: Decimal,
    room: Decimal,
    flattens: bool,
    detail: str,
) -> RuleRoom:
    breached = room <= 0
    warning = not breached and limit > 0 and room <= limit * WARN_SHARE
    return RuleRoom(
        rule,
        unit,
        limit,
        used,
        room,
        breached,
        warning,
        flattens and rule not in REFUSE_ONLY,
        detail,
    )


def breaches(found: list[RuleRoom]) -> list[RuleRoom]:
    return [room for room in found if room.breached]
