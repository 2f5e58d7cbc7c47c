"""Position accounting: fills into a net position, exact P&L and closed round trips.

Shared by the paper venue's engine (domain/matching.py) and the ledger that books every
broker's fills into DeskPilot's positions and trades, so both compute P&L the same way.

Positions use average cost. `cost` is the open quantity times the average price, exact. A
partial exit removes its share of the cost (rounded to 1e-12 of a price unit; the rounding
stays in the open cost), so realized plus unrealized P&L is always exactly the cash-flow
P&L. A round trip lasts from flat to flat (a flip closes one and opens the next at the
flip's price) and yields one `ClosedTrade`: quantity is all contracts opened, prices are
the weighted averages of its opening and closing fills, and gross P&L is exact.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from app.domain.vocabulary import PositionSide, Side

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-12")


@dataclass(frozen=True)
class Fill:
    """One execution; the same fields as a `fills` row, so positions replay from rows."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    commission: Decimal
    time: datetime


@dataclass(frozen=True)
class ClosedTrade:
    """A round trip from flat to flat; `exit_order_id` lets the caller name the exit reason."""

    symbol: str
    side: PositionSide
    qty: int
    entry_price: Decimal
    exit_price: Decimal
    entry_time: datetime
    exit_time: datetime
    gross_pnl: Decimal
    commission: Decimal
    net_pnl: Decimal
    exit_order_id: str


@dataclass(frozen=True)
class Position:
    """Net position in one symbol, plus the sums of the round trip it is part of.

    `qty` is signed (short < 0); `cost` is |qty| x average price; `realized_pnl` is
    cumulative over all round trips, gross of commission. The `entry_*`, `exit_*` and
    `commission` sums cover only the open round trip and make its `ClosedTrade`.
    """

    symbol: str
    qty: int = 0
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    opened_at: datetime | None = None
    entry_qty: int = 0
    entry_value: Decimal = ZERO
    exit_qty: int = 0
    exit_value: Decimal = ZERO
    commission: Decimal = ZERO

    @property
    def avg_price(self) -> Decimal | None:
        return self.cost / abs(self.qty) if self.qty else None

    def unrealized_pnl(self, mark: Decimal, point_value: Decimal) -> Decimal:
        direction = 1 if self.qty > 0 else -1
        return (mark * self.qty - direction * self.cost) * point_value

    @classmethod
    def from_average(
        cls,
        symbol: str,
        qty: int,
        avg_price: Decimal | None,
        *,
        realized_pnl: Decimal = ZERO,
        opened_at: datetime | None = None,
    ) -> "Position":
        """Rebuild from a `positions` row; the round trip restarts at the open quantity.

        Exits already taken in this round trip are not in the row, so its trade record
        will cover only the contracts still open; `replay` over the fills is exact.
        """
        cost = (avg_price or ZERO) * abs(qty)
        return cls(
            symbol,
            qty,
            cost,
            realized_pnl=realized_pnl,
            opened_at=opened_at,
            entry_qty=abs(qty),
            entry_value=cost,
        )

    @classmethod
    def replay(cls, symbol: str, fills: Iterable[Fill], point_value: Decimal) -> "Position":
        """Rebuild exactly from the symbol's fills, oldest first."""
        position = cls(symbol)
        for fill in fills:
            position = apply_fill(position, fill, point_value).position
        return position


@dataclass(frozen=True)
class FillEffect:
    """What one fill did: the position after it and, for the contracts it closed
    (`closed_qty`, 0 when it only opened), their gross P&L and the trade it completed."""

    position: Position
    realized_pnl: Decimal
    trade: ClosedTrade | None
    closed_qty: int = 0


def apply_fill(position: Position, fill: Fill, point_value: Decimal) -> FillEffect:
    """Book one fill: reduce first (realizing P&L, maybe closing a trade), open the rest."""
    signed = fill.qty if fill.side is Side.BUY else -fill.qty
    if position.qty == 0 or (position.qty > 0) == (signed > 0):
        return FillEffect(_open(position, fill, fill.qty, fill.commission), ZERO, None)
    closing = min(fill.qty, abs(position.qty))
    closing_commission = fill.commission * closing / fill.qty
    position, realized = _reduce(position, fill, closing, closing_commission, point_value)
    trade = None
    if position.qty == 0:
        trade = _closed_trade(position, fill, point_value)
        position = Position(position.symbol, realized_pnl=position.realized_pnl)
    if fill.qty > closing:
        opening_commission = fill.commission - closing_commission
        position = _open(position, fill, fill.qty - closing, opening_commission)
    return FillEffect(position, realized, trade, closing)


def _open(position: Position, fill: Fill, qty: int, commission: Decimal) -> Position:
    value = fill.price * qty
    return replace(
        position,
        qty=position.qty + (qty if fill.side is Side.BUY else -qty),
        cost=position.cost + value,
        opened_at=position.opened_at if position.qty else fill.time,
        entry_qty=position.entry_qty + qty,
        entry_value=position.entry_value + value,
        commission=position.commission + commission,
    )


def _reduce(
    position: Position, fill: Fill, qty: int, commission: Decimal, point_value: Decimal
) -> tuple[Position, Decimal]:
    open_qty = abs(position.qty)
    share = position.cost
    if qty < open_qty:
        share = (position.cost * qty / open_qty).quantize(COST_QUANTUM)
    direction = 1 if position.qty > 0 else -1
    realized = direction * (fill.price * qty - share) * point_value
    reduced = replace(
        position,
        qty=position.qty - direction * qty,
        cost=position.cost - share,
        realized_pnl=position.realized_pnl + realized,
        exit_qty=position.exit_qty + qty,
        exit_value=position.exit_value + fill.price * qty,
        commission=position.commission + commission,
    )
    return reduced, realized


def _closed_trade(flat: Position, fill: Fill, point_value: Decimal) -> ClosedTrade:
    long = fill.side is Side.SELL
    gross = (flat.exit_value - flat.entry_value) * point_value * (1 if long else -1)
    return ClosedTrade(
        symbol=flat.symbol,
        side=PositionSide.LONG if long else PositionSide.SHORT,
        qty=flat.entry_qty,
        entry_price=flat.entry_value / flat.entry_qty,
        exit_price=flat.exit_value / flat.exit_qty,
        entry_time=flat.opened_at or fill.time,
        exit_time=fill.time,
        gross_pnl=gross,
        commission=flat.commission,
        net_pnl=gross - flat.commission,
        exit_order_id=fill.client_order_id,
    )
