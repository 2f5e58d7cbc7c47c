"""Closing one position at the market, for whoever asks: the trader by hand, or a
strategy's time exit.

What is closed is the broker's figure, read under the account lock (our row may lag a
fill by a poll), and the exits that protected the position are withdrawn once it is
closed or closing, so no stop is left behind to open a new position.
"""

from dataclasses import dataclass
from datetime import datetime

from app.domain.contracts import resolve_symbol
from app.domain.vocabulary import ExitReason, OrderRole, OrderStatus, Side
from app.models import BrokerAccount, Order
from app.services.setup.access import broker_for
from app.services.trading import orders
from app.services.trading.locks import account_lock
from app.services.trading.orders import Attribution, OrderIntent


@dataclass(frozen=True)
class Closed:
    held: int  # what the broker showed; 0: flat already, and nothing was sent
    order: Order | None


def close_at_market(
    account: BrokerAccount,
    symbol: str,
    role: OrderRole,
    attribution: Attribution,
    now: datetime,
    exit_reason: ExitReason | None = None,
    lock_timeout: float | None = None,
) -> Closed:
    """Send the market order that flattens `symbol`; a BrokerError reading the position
    propagates (nothing was sent), a refusal is on the returned order. With
    `lock_timeout`, an account busy that long raises AccountBusy (nothing was sent)."""
    with account_lock(account.id, timeout=lock_timeout):
        broker = broker_for(account)
        held = {p.symbol: p.qty for p in broker.positions()}.get(symbol, 0)
        if held == 0:
            return Closed(0, None)
        intent = OrderIntent(
            account_id=account.id,
            contract=resolve_symbol(symbol, now.date()),
            side=Side.SELL if held > 0 else Side.BUY,
            qty=abs(held),
            role=role,
            exit_reason=exit_reason,
        )
        closing = orders.place(broker, intent, attribution)[0]
        if closing.status in (OrderStatus.FILLED, OrderStatus.WORKING):
            orders.cancel_orphaned_exits(broker, account.id, symbol, None)
        return Closed(held, closing)
