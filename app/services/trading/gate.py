"""The risk gate's first question before anything opens exposure: is the kill switch engaged?

The flag lives in `system_state` (one row) so every process and every restart sees it; it
is read from the database each time. Engaging and re-arming is the kill switch's job
(services.protection), which sits above trading.
"""

import logging

from sqlalchemy import select

from app.errors import Locked
from app.extensions import db
from app.models import SystemState
from app.models.system import SYSTEM_STATE_ID

logger = logging.getLogger(__name__)


def kill_switch_engaged() -> bool:
    """Read from the database each time: another process may have engaged it."""
    return bool(
        db.session.scalar(
            select(SystemState.kill_switch_engaged).where(SystemState.id == SYSTEM_STATE_ID)
        )
    )


def refuse_if_engaged() -> None:
    """Fail closed: 423 halted while the kill switch is engaged."""
    if kill_switch_engaged():
        raise Locked(
            "The kill switch is engaged: nothing is placed until it is re-armed.", code="halted"
        )
