"""Text a second-factor code through the TextBelt channel, at once and to one number.

Not through the outbox: a code must never rest in a row in plain, and it is wanted now,
not at the next delivery round. It goes to the first of the SMS numbers in Settings only
(the others may be a partner's phone that gets the trading alerts).
"""

import dataclasses
import logging
from datetime import datetime

from app.domain.vocabulary import AuditCategory, Severity
from app.errors import Conflict
from app.extensions import db
from app.models import User
from app.services.notify.channels.base import DeliveryError, Message
from app.services.notify.channels.sms import SmsChannel
from app.services.notify.settings import notify_settings
from app.services.records import audit
from app.services.setup import sms_codes, two_factor

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Sent:
    to: str  # masked: "••• 4567"
    valid_until: datetime


def send_for_setup(user: User, now: datetime) -> Sent:
    """A code proving the phone reaches the trader, before SMS becomes the second factor."""
    two_factor.require_off(user)
    return _send(user, now, "turning on two-factor by SMS")


def send_for_second_factor(user: User, now: datetime, purpose: str) -> Sent:
    """A code for a login's second step or a step-up; only while SMS is the factor."""
    if two_factor.method(user) != two_factor.SMS:
        raise Conflict("Two-factor login does not use SMS.", code="not_sms")
    return _send(user, now, purpose)


def _send(user: User, now: datetime, purpose: str) -> Sent:
    settings = notify_settings(user)
    channel = SmsChannel()
    unready = channel.unready(settings)
    if unready:
        raise Conflict(
            f"The SMS channel is not ready: {unready} Set it up under Notifications.",
            code="sms_not_ready",
        )
    phone = settings.sms_to[0]
    code = sms_codes.issue(user, now)
    message = Message(
        event_type="second_factor_code",
        title="login code",
        text=f"{code} is your code. It expires in 5 minutes. Never tell it to anyone.",
        occurred_at=now,
    )
    try:
        channel.send(message, dataclasses.replace(settings, sms_to=(phone,)))
    except DeliveryError as error:
        db.session.rollback()  # the new code never reached the phone: an earlier one holds
        audit.record(
            AuditCategory.AUTH,
            f"SMS code not sent: {error}",
            severity=Severity.WARNING,
            actor=user.username,
        )
        db.session.commit()
        raise Conflict(f"The code could not be texted: {error}", code="sms_not_sent") from error
    sms_codes.sent(user, phone, purpose)
    return Sent(sms_codes.masked(phone), user.sms_code_expires_at)
