"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from .account import BrokerAccount, RiskLimits
from .audit import AuditEntry
from .base import Base, utcnow
from .order import Fill, Order
from .position import Position
from .strategy import Strategy, Trader
from .trade import Trade
from .user import User
from .webhook import WebhookEvent

__all__ = [
    "AuditEntry",
    "Base",
    "BrokerAccount",
    "Fill",
    "Order",
    "Position",
    "RiskLimits",
    "Strategy",
    "Trade",
    "Trader",
    "User",
    "WebhookEvent",
    "utcnow",
]
