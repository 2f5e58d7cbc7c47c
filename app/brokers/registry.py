"""broker_for(account): the one place that knows which adapter serves an account."""

import logging

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain.vocabulary import BrokerKind
from app.models import BrokerAccount

logger = logging.getLogger(__name__)


class BrokerUnavailable(BrokerError):
    """No adapter can trade this account in this version; nothing was sent."""


def broker_for(account: BrokerAccount) -> Broker:
    if account.broker == BrokerKind.PAPER:
        from app.brokers.paper.broker import PaperBroker

        return PaperBroker(account.id)
    if account.broker == BrokerKind.TRADOVATE:
        from app.brokers.tradovate.broker import TradovateBroker

        return TradovateBroker(account)
    raise BrokerUnavailable(
        f"{account.broker} trading is not available in this version; nothing was sent"
    )
