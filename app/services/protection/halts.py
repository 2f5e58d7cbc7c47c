"""Account halts (DESIGN §4): set and lifted by kind, every change audited and published.

Who halted an account (`risk_limits.halted_by`) decides what lifts it, never the wording
of the reason: re-arming the kill switch lifts the kill switch's halts; the trader lifts
a manual, daily-loss or broker-locked halt (the accounts page, the API); a rule,
done-for-day or session-end halt ends with what set it. A halt in place keeps its kind
when something else halts the account again, with two exceptions, so that nothing
reopens an account the trader must look at: a daily-loss halt replaces the kill
switch's, and a broker-locked halt (the broker refuses the account: locked, closed,
liquidation-only) replaces any halt that would end by itself.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.domain.vocabulary import AuditCategory, HaltKind, Severity
from app.errors import Conflict
from app.extensions import db
from app.models import BrokerAccount, RiskLimits
from app.services.records import audit, events
from app.services.setup.accounts import get_account

logger = logging.getLogger(__name__)

TRADER_LIFTS = frozenset({HaltKind.MANUAL, HaltKind.DAILY_LOSS, HaltKind.BROKER_LOCKED})
MANUAL_REASON = "halted by the trader"
LIFT_REASON = "lifted by the trader"
_REASON_LENGTH = 255  # risk_limits.halted_reason


@dataclass(frozen=True)
class HaltChange:
    """One halt set or lifted: what its audit entry records and its event says."""

    account_id: int
    account: str
    halted: bool  # True: the account was halted; False: its halt was lifted
    kind: HaltKind
    reason: str | None  # why it was halted, or why the halt was lifted
    actor: str | None
    at: datetime

    @property
    def event(self) -> str:
        return "account_halted" if self.halted else "account_halt_lifted"

    def to_json(self) -> dict:
        return {
            "account_id": self.account_id,
            "account": self.account,
            "halted": self.halted,
            "halted_by": self.kind.value,
            "reason": self.reason,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }


# --- in the caller's transaction ------------------------------------------------------------


def fresh_limits(account: BrokerAccount) -> RiskLimits:
    """The account's limits as the database has them now (another process may have halted
    it), created when missing."""
    limits = db.session.scalar(
        select(RiskLimits)
        .where(RiskLimits.account_id == account.id)
        .execution_options(populate_existing=True)
    )
    if limits is None:
        limits = account.risk_limits = RiskLimits(halted=False)
    return limits


def set_halt(
    account: BrokerAccount,
    kind: HaltKind,
    reason: str,
    now: datetime,
    actor: str | None = None,
    severity: Severity = Severity.WARNING,
) -> HaltChange | None:
    """Halt the account, audited, uncommitted; None when a halt already in place stays."""
    limits = fresh_limits(account)
    if limits.halted and not _replaces(kind, _kind(limits)):
        return None
    limits.halted = True
    limits.halted_by = kind
    limits.halted_reason = reason[:_REASON_LENGTH]
    limits.halted_at = now
    actor = actor or audit.current_actor()
    change = HaltChange(account.id, account.name, True, kind, limits.halted_reason, actor, now)
    _audit(change, f"account {account.name!r} halted ({kind}): {limits.halted_reason}", severity)
    return change


def _replaces(kind: HaltKind, current: HaltKind) -> bool:
    """Whether a halt of `kind` takes the place of the account's `current` one."""
    if kind == HaltKind.DAILY_LOSS:
        return current == HaltKind.KILL_SWITCH
    if kind == HaltKind.BROKER_LOCKED:
        return current not in TRADER_LIFTS
    return False


def clear_halt(
    account: BrokerAccount, limits: RiskLimits, reason: str, now: datetime, actor: str | None
) -> HaltChange:
    """Lift the account's halt, audited with the reason it had, uncommitted."""
    actor = actor or audit.current_actor()
    change = HaltChange(account.id, account.name, False, _kind(limits), reason, actor, now)
    _audit(
        change,
        f"account {account.name!r} halt lifted ({change.kind}): {reason}",
        Severity.WARNING,
        halt_reason=limits.halted_reason,
    )
    limits.halted = False
    limits.halted_by = None
    limits.halted_reason = None
    limits.halted_at = None
    return change


def lift_kill_switch_halts(now: datetime, actor: str, reason: str) -> list[HaltChange]:
    """Lift exactly the halts the kill switch set (the re-arm), uncommitted."""
    halted = db.session.scalars(
        select(RiskLimits)
        .where(RiskLimits.halted.is_(True), RiskLimits.halted_by == HaltKind.KILL_SWITCH)
        .order_by(RiskLimits.account_id)
        .execution_options(populate_existing=True)
    ).all()
    return [clear_halt(limits.account, limits, reason, now, actor) for limits in halted]


def announce(changes: list[HaltChange], **extra) -> None:
    """Tell the subscribers once the session's next commit keeps the changes (and the
    outbox writes its rows in that commit); `extra` joins each payload."""
    for change in changes:
        events.publish_after_commit(db.session(), change.event, {**change.to_json(), **extra})


# --- the broker's lock -----------------------------------------------------------------------


def halt_broker_locked(account_id: int, words: str, now: datetime) -> HaltChange | None:
    """The broker refused an order because the account itself is locked, closed or
    liquidation-only: halt it (final until the trader lifts it), audited as critical,
    committed and published. Registered with services.trading (lockouts) by create_app,
    so a refusal halts the account where it is recorded."""
    account = get_account(account_id)
    reason = f"the broker refuses the account: {words}"
    change = set_halt(
        account, HaltKind.BROKER_LOCKED, reason, now, "broker", severity=Severity.CRITICAL
    )
    if change is not None:
        announce([change])
    db.session.commit()
    if change is not None:
        logger.critical("account %s (%s) halted: %s", account.id, account.name, reason)
    return change


# --- the trader's own halt ------------------------------------------------------------------


def halt_account(account_id: int, reason: str | None, now: datetime) -> RiskLimits:
    """Halt one account by hand. An account already halted stays as it is (409): halting
    it again must not change who halted it, since that decides what lifts it."""
    account = get_account(account_id)
    limits = fresh_limits(account)
    if limits.halted:
        raise Conflict(
            f"Account {account.name!r} is already halted ({_kind(limits)}): "
            f"{limits.halted_reason or 'no reason given'}.",
            code="already_halted",
        )
    change = set_halt(account, HaltKind.MANUAL, reason or MANUAL_REASON, now)
    announce([change])
    db.session.commit()
    logger.warning("account %s (%s) halted by hand", account.id, account.name)
    return limits


def lift_halt(account_id: int, reason: str | None, now: datetime) -> RiskLimits:
    """Lift a manual or daily-loss halt; any other is refused (409) with what lifts it."""
    account = get_account(account_id)
    limits = fresh_limits(account)
    _check_liftable(account, limits)
    change = clear_halt(account, limits, reason or LIFT_REASON, now, None)
    announce([change])
    db.session.commit()
    logger.warning("account %s (%s): %s halt lifted", account.id, account.name, change.kind)
    return limits


def liftable(limits: RiskLimits) -> bool:
    """Whether the trader may lift this account's halt (the page offers it only then)."""
    return limits.halted and _kind(limits) in TRADER_LIFTS


def _check_liftable(account: BrokerAccount, limits: RiskLimits) -> None:
    kind = _kind(limits)
    if not limits.halted:
        raise Conflict(f"Account {account.name!r} is not halted.", code="not_halted")
    if kind == HaltKind.KILL_SWITCH:
        raise Conflict(
            f"Account {account.name!r} was halted by the kill switch: re-arm the kill switch "
            "to lift it.",
            code="kill_switch_engaged",
        )
    if kind not in TRADER_LIFTS:
        raise Conflict(
            f"Account {account.name!r} is halted by {kind.replace('_', ' ')}: that halt ends "
            "with the rule or session that set it, not by hand.",
            code="halt_not_liftable",
        )


def _kind(limits: RiskLimits) -> HaltKind:
    """A halt that names no kind (set before kinds were recorded) is the trader's to lift."""
    return limits.halted_by or HaltKind.MANUAL


def _audit(change: HaltChange, message: str, severity: Severity, **data) -> None:
    audit.record(
        AuditCategory.KILL_SWITCH if change.kind == HaltKind.KILL_SWITCH else AuditCategory.RISK,
        message,
        severity=severity,
        actor=change.actor,
        account_id=change.account_id,
        data={"halted": change.halted, "halted_by": change.kind.value, "reason": change.reason}
        | data,
    )
