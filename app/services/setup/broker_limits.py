"""The limits the broker itself enforces on an account, and the rules they suggest.

A prop firm sets its rules at Tradovate as the account's auto-liquidation settings; read
here (`Broker.broker_limits`), they are offered as the account's funded-account rules —
the same limits, with a safety buffer so DeskPilot acts before the broker liquidates.
"""

from decimal import ROUND_FLOOR, Decimal

from app.brokers.base import BrokerLimits
from app.brokers.errors import BrokerError
from app.errors import Conflict
from app.services.setup.access import broker_for
from app.services.setup.accounts import get_account

BUFFER_SHARE = Decimal("0.1")  # of the tightest loss limit, when the trader set no buffer


def read(account_id: int) -> tuple[BrokerLimits | None, dict]:
    """The broker's limits (None: it sets or says none) and the rules they suggest, as
    `PUT /api/risk/<id>` takes them."""
    account = get_account(account_id)
    try:
        limits = broker_for(account).broker_limits()
    except BrokerError as exc:
        raise Conflict(
            f"The broker could not be asked for its limits: {exc.message}", code="broker_error"
        ) from None
    if limits is None:
        return None, {}
    suggested = {
        "max_daily_loss": limits.daily_loss,
        "daily_profit_target": limits.daily_profit,
        "weekly_loss_limit": limits.weekly_loss,
        "weekly_profit_target": limits.weekly_profit,
        "trailing_drawdown": limits.trailing_drawdown,
        "trailing_drawdown_mode": limits.trailing_drawdown_mode,
    }
    suggested = {name: value for name, value in suggested.items() if value is not None}
    if limits.trailing_drawdown_limit is not None:
        suggested["trailing_stops_at_start"] = True
    own = account.risk_limits.safety_buffer if account.risk_limits is not None else None
    losses = [v for v in (limits.daily_loss, limits.trailing_drawdown) if v is not None]
    if own is not None:
        suggested["safety_buffer"] = own
    elif losses:
        buffer = (min(losses) * BUFFER_SHARE).to_integral_value(rounding=ROUND_FLOOR)
        if buffer > 0:
            suggested["safety_buffer"] = buffer
    return limits, suggested
