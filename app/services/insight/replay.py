"""POST /api/replay (DESIGN §5.4): a strategy's recorded alerts run again on the recorded
bars with other exits, quantity or risk limits, beside what actually happened.

What is replayed: every alert of the strategy received in [start, end] that was parsed
(its stored signal: the alert's body read with the strategy's settings of the time and
its symbol mapping), whatever became of it — executed, refused by risk or a halt, stale,
waiting for approval or failed at the broker — since the overrides may change the
outcome and the replay asks what the alerts would have done. Malformed alerts have no
signal and are not replayed; duplicates and unauthorised calls were never stored.

Each enabled trader of the strategy is replayed on a venue of its own with its own sizing
(multiplier or fixed quantity) and its account's starting balance, and their trades are
read together, as `actual` reads the strategy's trades over all its accounts. Overrides
replace the stored signal's part for every alert that can open a position (an override
set to null removes that exit); `quantity` is a fixed size per alert for every trader;
the risk limits and risk mode apply to each replay account (without them it has none),
the mode sizing from its starting balance plus its replay's closed P&L. The venue is a fresh
paper venue (`app.domain.replay`) with the paper broker's slippage and commission:
nothing is sent to an account's broker and no order, fill, position or trade row is
made. `actual` is what `GET /api/analytics` answers for the strategy over the same
period; the replay's metrics start from the same balance.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select, true

from app.domain.analytics import Metrics, metrics
from app.domain.bar_building import period_start
from app.domain.bars import Bar
from app.domain.break_even import parse_break_even
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.exits import parse_exit, parse_trailing
from app.domain.matching import ContractTerms
from app.domain.replay import (
    Gap,
    OpenPosition,
    ReplayAlert,
    ReplayResult,
    ReplaySettings,
    Skipped,
    replay,
)
from app.domain.risk import RiskPolicy
from app.domain.signals import Signal, SignalAction
from app.domain.sizing import Sizing
from app.domain.targets import parse_targets
from app.domain.vocabulary import RiskMode, StrategyMode, Timeframe
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import Bar as BarRow
from app.models import BrokerAccount, Strategy, Trade, Trader, WebhookEvent
from app.models.base import utcnow
from app.services.insight.analytics import analytics_of

logger = logging.getLogger(__name__)

RISK_LIMITS = (
    "max_contracts_per_order",
    "max_position",
    "max_open_positions",
    "max_daily_loss",
    "max_trades_per_day",
    "max_exposure",
)
OPENING = (SignalAction.BUY, SignalAction.SELL, SignalAction.REVERSE, SignalAction.SYNC)


@dataclass(frozen=True)
class TradeLine:
    """One closed trade as both sides list it; `id` is the trade row's (actual) or None,
    `alert_id` the webhook event that opened it (replay) or None."""

    id: int | None
    alert_id: int | None
    symbol: str
    side: str
    qty: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    commission: Decimal
    pnl: Decimal
    exit_reason: str


@dataclass(frozen=True)
class Performance:
    """One side of the comparison: the metrics and the closed trades they were read from."""

    metrics: Metrics
    trades: list[TradeLine]


@dataclass(frozen=True)
class ReplayAnswer:
    actual: Performance
    replay: Performance
    alerts: int  # alerts replayed
    skipped: list[Skipped]
    gaps: list[Gap]
    open_positions: list[OpenPosition]


def replay_of(
    strategy_id: int, start: datetime | None, end: datetime | None, overrides: dict
) -> ReplayAnswer:
    """Replay the strategy's alerts in [start, end] with `overrides` (validated by the
    API's schema: exits as DESIGN §5.2 writes them, quantity, risk limits)."""
    strategy = db.session.get(Strategy, strategy_id)
    if strategy is None:
        raise NotFound(f"No strategy {strategy_id}.")
    alerts, unresolved = _alerts(strategy_id, start, end, overrides)
    terms = {alert.symbol: _terms(alert) for alert in alerts}
    actual = analytics_of(
        account_id=None, strategy_id=strategy_id, symbol=None, start=start, end=end
    )
    balance = actual.curve_equity[0] if actual.curve_equity else _balance(strategy_id)
    recorded = _bars(alerts, end)
    found = _merged(
        [
            replay(alerts, recorded, terms, _settings(strategy, overrides, account))
            for account in _accounts(strategy_id, overrides, balance)
        ]
    )
    replayed = metrics([trade.record for trade in found.trades], balance)
    return ReplayAnswer(
        actual=Performance(actual, _actual_trades(strategy_id, start, end)),
        replay=Performance(replayed, _replay_trades(found)),
        alerts=len(alerts),
        skipped=sorted(unresolved + found.skipped, key=lambda s: (s.time, s.alert_id)),
        gaps=found.gaps,
        open_positions=found.open_positions,
    )


@dataclass(frozen=True)
class _Account:
    """One of the strategy's traders as the replay runs it: its sizing and the balance a
    risk mode sizes from."""

    sizing: Sizing
    balance: Decimal


def _accounts(strategy_id: int, overrides: dict, balance: Decimal) -> list[_Account]:
    """Each enabled trader of the strategy on an enabled account, sized as it trades live
    (its multiplier or fixed quantity; an override `quantity` replaces both), on a venue
    of its own, so the replay is read over the same accounts as `actual`. A strategy
    without one is replayed once at multiplier 1 on the whole `balance`."""
    quantity = overrides.get("quantity")
    rows = db.session.execute(
        select(Trader.quantity_multiplier, Trader.fixed_quantity, BrokerAccount.starting_balance)
        .join(BrokerAccount, Trader.account_id == BrokerAccount.id)
        .where(
            Trader.strategy_id == strategy_id,
            Trader.enabled.is_(True),
            BrokerAccount.enabled.is_(True),
        )
        .order_by(Trader.id)
    ).all() or [(Decimal(1), None, balance)]
    return [
        _Account(
            Sizing(fixed_quantity=quantity) if quantity else Sizing(multiplier, fixed),
            start if start and start > 0 else balance,
        )
        for multiplier, fixed, start in rows
    ]


def _merged(runs: list[ReplayResult]) -> ReplayResult:
    """The accounts' replays as one: their trades in exit order, an alert skipped or a gap
    said once (every account meets the same ones), the positions left open listed."""
    return ReplayResult(
        trades=sorted(
            (trade for run in runs for trade in run.trades),
            key=lambda trade: trade.record.exit_time,
        ),
        skipped=list(dict.fromkeys(item for run in runs for item in run.skipped)),
        gaps=list(dict.fromkeys(gap for run in runs for gap in run.gaps)),
        open_positions=[position for run in runs for position in run.open_positions],
    )


def _balance(strategy_id: int) -> Decimal:
    """The starting balance when the strategy closed no trade in the period: its traders'
    accounts' (else every account's, as the analytics take it)."""
    accounts = select(Trader.account_id).where(Trader.strategy_id == strategy_id)
    for scope in (BrokerAccount.id.in_(accounts), true()):
        found = db.session.scalar(select(func.sum(BrokerAccount.starting_balance)).where(scope))
        if found and found > 0:
            return Decimal(found)
    raise InvalidInput(
        "The replay needs a starting balance above 0 (the strategy's accounts').",
        {"strategy_id": "has no account with a starting balance"},
    )


def _alerts(
    strategy_id: int, start: datetime | None, end: datetime | None, overrides: dict
) -> tuple[list[ReplayAlert], list[Skipped]]:
    """The parsed alerts of the period with the overrides applied, each with its contract;
    those whose symbol no longer resolves to a contract are skipped."""
    query = (
        select(WebhookEvent.id, WebhookEvent.received_at, WebhookEvent.signal)
        .where(WebhookEvent.strategy_id == strategy_id, WebhookEvent.signal.is_not(None))
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
    )
    if start is not None:
        query = query.where(WebhookEvent.received_at >= start)
    if end is not None:
        query = query.where(WebhookEvent.received_at <= end)
    changes = _signal_changes(overrides)
    alerts, skipped = [], []
    for event_id, received_at, stored in db.session.execute(query):
        signal = Signal.from_json(stored)
        if changes and signal.action in OPENING:
            signal = replace(signal, **changes)
        try:
            contract = resolve_symbol(signal.symbol, received_at.date())
        except UnknownSymbol as exc:
            skipped.append(Skipped(event_id, received_at, exc.message))
            continue
        alerts.append(ReplayAlert(event_id, received_at, signal, contract.code))
    return alerts, skipped


def _signal_changes(overrides: dict) -> dict:
    """The stored signal's fields the overrides replace (null removes an exit)."""
    changes: dict = {}
    if "take_profit" in overrides:
        value = overrides["take_profit"]
        changes["take_profit"] = (
            parse_exit(value, "take_profit") if isinstance(value, dict) else None
        )
        changes["targets"] = (
            parse_targets(value, "take_profit") if isinstance(value, list) else None
        )
    if "stop_loss" in overrides:
        value = overrides["stop_loss"]
        changes["stop_loss"] = None if value is None else parse_exit(value, "stop_loss")
    if "trailing_stop" in overrides:
        value = overrides["trailing_stop"]
        changes["trailing_stop"] = None if value is None else parse_trailing(value, "trailing_stop")
    if "break_even" in overrides:
        value = overrides["break_even"]
        changes["break_even"] = None if value is None else parse_break_even(value)
    return changes


def _bars(alerts: list[ReplayAlert], end: datetime | None) -> dict[str, list[Bar]]:
    """Each contract's recorded 1-minute bars from its first alert to `end` (else now).

    Read as columns, not through `market.bars.read`: loading a month of bars as ORM rows
    was most of a replay's time (bench/replay.py), and the minute still being built in
    this process's memory is no recorded bar (its high, low and close are not final)."""
    first: dict[str, datetime] = {}
    for alert in alerts:
        first.setdefault(alert.symbol, alert.time)
    until = end or utcnow()
    found: dict[str, list[Bar]] = {}
    for symbol, since in first.items():
        rows = db.session.execute(
            select(BarRow.start, BarRow.open, BarRow.high, BarRow.low, BarRow.close, BarRow.volume)
            .where(
                BarRow.symbol == symbol,
                BarRow.timeframe == Timeframe.M1,
                BarRow.start >= period_start(since, Timeframe.M1),
                BarRow.start <= until,
            )
            .order_by(BarRow.start)
        )
        found[symbol] = [Bar(*row) for row in rows]
    return found


def _terms(alert: ReplayAlert) -> ContractTerms:
    spec = resolve_symbol(alert.symbol, alert.time.date()).spec
    return ContractTerms(spec.tick_size, spec.point_value)


def _settings(strategy: Strategy, overrides: dict, account: _Account) -> ReplaySettings:
    """One replay account: its sizing, the overrides' limits and risk mode, the starting
    balance a mode sizes from, the paper broker's slippage and commission, the order size
    cap."""
    limits = {name: overrides[name] for name in RISK_LIMITS if overrides.get(name) is not None}
    mode = overrides.get("risk_mode")
    return ReplaySettings(
        sizing=account.sizing,
        position_sync=strategy.mode == StrategyMode.POSITION_SYNC,
        policy=RiskPolicy(**limits),
        risk_mode=RiskMode(mode) if mode else None,
        starting_balance=account.balance,
        max_order_quantity=int(current_app.config["MAX_ORDER_QUANTITY"]),
        slippage_ticks=int(current_app.config["PAPER_SLIPPAGE_TICKS"]),
        commission_per_contract=Decimal(str(current_app.config["PAPER_COMMISSION_PER_CONTRACT"])),
    )


def _actual_trades(
    strategy_id: int, start: datetime | None, end: datetime | None
) -> list[TradeLine]:
    """The strategy's closed trades the actual metrics count (exit time in the period)."""
    query = (
        select(Trade).where(Trade.strategy_id == strategy_id).order_by(Trade.exit_time, Trade.id)
    )
    if start is not None:
        query = query.where(Trade.exit_time >= start)
    if end is not None:
        query = query.where(Trade.exit_time <= end)
    return [
        TradeLine(
            row.id,
            None,
            row.symbol,
            row.side.value,
            row.quantity,
            row.entry_time,
            row.exit_time,
            row.entry_price,
            row.exit_price,
            row.gross_pnl,
            row.commission,
            row.pnl,
            row.exit_reason.value,
        )
        for row in db.session.scalars(query)
    ]


def _replay_trades(found: ReplayResult) -> list[TradeLine]:
    return [
        TradeLine(
            None,
            trade.alert_id,
            record.symbol,
            record.side.value,
            record.qty,
            record.entry_time,
            record.exit_time,
            record.entry_price,
            record.exit_price,
            record.gross_pnl,
            record.commission,
            record.pnl,
            trade.exit_reason.value,
        )
        for trade in found.trades
        for record in (trade.record,)
    ]
