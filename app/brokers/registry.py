"""broker_for(access): the one place that knows which adapter serves an account."""

import logging

from app.brokers.base import AccountAccess, Broker
from app.brokers.errors import BrokerError
from app.domain.vocabulary import BrokerKind

logger = logging.getLogger(__name__)


class BrokerUnavailable(BrokerError):
    """No adapter can trade this account in this version; nothing was sent."""


def broker_for(access: AccountAccess) -> Broker:
    if access.broker == BrokerKind.PAPER:
        from app.brokers.paper.broker import PaperBroker

        return PaperBroker(access.account_id, access.starting_cash)
    if access.broker == BrokerKind.TRADOVATE:
        from app.brokers.tradovate.broker import TradovateBroker

        return TradovateBroker(access)
    raise BrokerUnavailable(
        f"{access.broker} trading is not available in this version; nothing was sent"
    )
