"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from .account import BrokerAccount, RiskLimits
from .advanced_order import AdvancedOrder
from .audit import AuditEntry
from .base import Base, utcnow
from .order import Fill, Order
from .position import Position
from .strategy import Strategy, Trader
from .system import SystemState
from .trade import Trade
from .user import User
from .webhook import WebhookEvent

__all__ = [
    "AdvancedOrder",
    "AuditEntry",
    "Base",
    "BrokerAccount",
    "Fill",
    "Order",
    "Position",
    "RiskLimits",
    "Strategy",
    "SystemState",
    "Trade",
    "Trader",
    "User",
    "WebhookEvent",
    "utcnow",
]
