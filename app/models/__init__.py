"""SQLAlchemy models, one module per aggregate; importing this registers them all."""

from app.models.account import BrokerAccount, RiskLimits
from app.models.advanced_order import AdvancedOrder
from app.models.approval import Approval
from app.models.audit import AuditEntry
from app.models.base import Base, utcnow
from app.models.calendar_event import CalendarEvent
from app.models.equity import EquitySnapshot
from app.models.market import Bar, PriceAlert, PriceAlertTrigger
from app.models.notification import Notification, NotificationPrefs
from app.models.order import Fill, Order
from app.models.position import Position
from app.models.research import NewsArticle, NewsSource, OptionChain, OptionContract
from app.models.security import LoginSighting, TrustedDevice
from app.models.strategy import Strategy, Trader
from app.models.system import SystemState
from app.models.trade import Trade, TradeExit
from app.models.user import User
from app.models.webhook import WebhookEvent

__all__ = [
    "AdvancedOrder",
    "Approval",
    "AuditEntry",
    "Bar",
    "Base",
    "BrokerAccount",
    "CalendarEvent",
    "EquitySnapshot",
    "Fill",
    "LoginSighting",
    "NewsArticle",
    "NewsSource",
    "Notification",
    "NotificationPrefs",
    "OptionChain",
    "OptionContract",
    "Order",
    "Position",
    "PriceAlert",
    "PriceAlertTrigger",
    "RiskLimits",
    "Strategy",
    "SystemState",
    "Trade",
    "TradeExit",
    "TrustedDevice",
    "Trader",
    "User",
    "WebhookEvent",
    "utcnow",
]
