"""The kill switch (DESIGN §4): cancel every working order, flatten every position, halt
every account and refuse alerts until the trader re-arms it.

The flag lives in the `system_state` row, so every process (the server, another worker,
`python run.py kill`) reads the same answer and it survives a restart. Engaging is
durable first, then act: the flag and the halts are committed before any broker call, so
an alert arriving mid-sweep is already refused.

Each account is swept on its own: a broker that fails is reported with its reason and
the others are still flattened; nothing here raises for one account. The broker is read
again after flattening, and what it still shows is flattened again, up to
KILL_SWITCH_ROUNDS passes KILL_SWITCH_RETRY_SECONDS apart (config), so one failed
liquidation does not leave a position open.

The halts it sets are of kind `kill_switch` (services.protection.halts), so re-arming
lifts exactly those and leaves halts of other kinds (manual, the daily loss limit, the
broker's lock) in place.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, select

from app.brokers.base import Broker, BrokerOrder
from app.brokers.errors import AccountLocked, BrokerError, OrderRejected
from app.domain.vocabulary import (
    AuditCategory,
    HaltKind,
    OrderRole,
    OrderStatus,
    OrderType,
    RejectCode,
    Severity,
    Side,
)
from app.extensions import db
from app.models import BrokerAccount, Order, Position, RiskLimits, SystemState
from app.models.system import SYSTEM_STATE_ID
from app.services.ledger import reports
from app.services.ledger.reconcile import reconcile_account
from app.services.protection import advanced_orders, halts
from app.services.records import audit, events
from app.services.setup.access import broker_for
from app.services.setup.accounts import get_account
from app.services.trading import gate, orders
from app.services.trading.locks import AccountBusy, account_lock

logger = logging.getLogger(__name__)

CANCEL_REASON = "cancelled by the kill switch"
LOCK_WAIT_SECONDS = 10  # an alert or manual order in flight on the account finishes first

# One sweep at a time in this process: a double click must not flatten twice at once.
_sweep_lock = threading.Lock()


@dataclass
class AccountResult:
    """What the sweep did on one account, and what went wrong there."""

    account_id: int
    account: str
    cancelled_orders: int = 0
    flattened_positions: int = 0
    rounds: int = 0  # flattening passes made (KILL_SWITCH_ROUNDS at most)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str | None:
        return "; ".join(dict.fromkeys(self.problems)) or None

    def fail(self, problem: str) -> None:
        self.problems.append(problem)

    def to_json(self) -> dict:
        return {
            "account_id": self.account_id,
            "account": self.account,
            "cancelled_orders": self.cancelled_orders,
            "flattened_positions": self.flattened_positions,
            "rounds": self.rounds,
            "ok": self.ok,
            "message": self.message,
        }


@dataclass
class KillReport:
    """The answer of engage/disengage: the switch's state and the sweep's totals."""

    engaged: bool
    engaged_at: datetime | None = None
    actor: str | None = None
    accounts: list[AccountResult] = field(default_factory=list)
    released_accounts: list[str] = field(default_factory=list)

    @property
    def cancelled_orders(self) -> int:
        return sum(result.cancelled_orders for result in self.accounts)

    @property
    def flattened_positions(self) -> int:
        return sum(result.flattened_positions for result in self.accounts)

    @property
    def failures(self) -> list[AccountResult]:
        return [result for result in self.accounts if not result.ok]


@dataclass(frozen=True)
class SwitchState:
    engaged: bool
    engaged_at: datetime | None
    reason: str | None
    actor: str | None


# --- the flag ----------------------------------------------------------------------------


def is_engaged() -> bool:
    return gate.kill_switch_engaged()


def status() -> SwitchState:
    state = _state_row(refresh=True)
    return SwitchState(
        state.kill_switch_engaged,
        state.kill_switch_engaged_at if state.kill_switch_engaged else None,
        state.kill_switch_reason if state.kill_switch_engaged else None,
        state.kill_switch_actor if state.kill_switch_engaged else None,
    )


def _state_row(refresh: bool = False) -> SystemState:
    query = select(SystemState).where(SystemState.id == SYSTEM_STATE_ID)
    if refresh:
        query = query.execution_options(populate_existing=True)
    state = db.session.scalar(query)
    if state is None:  # the migration inserts it; a hand-made database may lack it
        state = SystemState(id=SYSTEM_STATE_ID, kill_switch_engaged=False, revision=0)
        db.session.add(state)
        db.session.flush()
    return state


def _bump(state: SystemState) -> None:
    state.revision = (state.revision or 0) + 1


# --- engage and re-arm -------------------------------------------------------------------


def engage(now: datetime, actor: str, reason: str | None = None) -> KillReport:
    """Refuse alerts, halt every account, then cancel and flatten everything, per account."""
    with _sweep_lock:
        state = _state_row(refresh=True)
        if not state.kill_switch_engaged:
            state.kill_switch_engaged_at = now
        state.kill_switch_engaged = True
        state.kill_switch_reason = (reason or f"engaged by {actor}")[:255]
        state.kill_switch_actor = actor[:64]
        _bump(state)
        halt_reason = f"kill switch: {state.kill_switch_reason}"  # the kind is halted_by
        accounts = list(db.session.scalars(select(BrokerAccount).order_by(BrokerAccount.id)))
        halted = _halt_all(accounts, halt_reason, now, actor)
        engaged_at = state.kill_switch_engaged_at
        db.session.commit()
        logger.critical("kill switch engaged by %s", actor)

        report = KillReport(engaged=True, engaged_at=engaged_at, actor=actor)
        for account_id in _accounts_to_sweep():
            report.accounts.append(_sweep_safely(account_id, now))

        audit.record(
            AuditCategory.KILL_SWITCH,
            f"kill switch engaged by {actor}: {_count(report.cancelled_orders, 'order')} "
            f"cancelled, {_count(report.flattened_positions, 'position')} flattened, "
            f"{_count(len(accounts), 'account')} halted, webhook execution disabled"
            + (
                f"; failed on {', '.join(r.account for r in report.failures)}"
                if report.failures
                else ""
            ),
            severity=Severity.CRITICAL,
            actor=actor,
            data={"accounts": [result.to_json() for result in report.accounts]},
        )
        halts.announce(halted)
        events.publish_after_commit(db.session(), "kill_switch", _event(report, actor))
        db.session.commit()
    return report


def _halt_all(
    accounts: list[BrokerAccount], reason: str, now: datetime, actor: str
) -> list[halts.HaltChange]:
    """Halt every account for the kill switch; accounts already halted keep their halt."""
    changes = [
        halts.set_halt(account, HaltKind.KILL_SWITCH, reason, now, actor) for account in accounts
    ]
    return [change for change in changes if change is not None]


def disengage(now: datetime, actor: str) -> KillReport:
    """Re-arm: alerts are executed again and the halts the kill switch set are lifted."""
    with _sweep_lock:
        state = _state_row(refresh=True)
        was_engaged = state.kill_switch_engaged
        state.kill_switch_engaged = False
        state.kill_switch_actor = actor[:64]
        _bump(state)
        lifted = halts.lift_kill_switch_halts(now, actor, "the kill switch was re-armed")
        released = [change.account for change in lifted]
        still_halted = [
            limits.account.name
            for limits in db.session.scalars(select(RiskLimits).where(RiskLimits.halted.is_(True)))
        ]
        message = f"kill switch re-armed by {actor}: webhook execution enabled"
        if released:
            message += f"; {', '.join(released)} resume trading"
        if still_halted:
            message += f"; still halted for other reasons: {', '.join(still_halted)}"
        if not was_engaged:
            message += " (it was not engaged)"
        audit.record(
            AuditCategory.KILL_SWITCH,
            message,
            severity=Severity.WARNING,
            actor=actor,
            data={"released": released, "still_halted": still_halted, "at": now.isoformat()},
        )
        report = KillReport(engaged=False, released_accounts=released)
        halts.announce(lifted)
        events.publish_after_commit(db.session(), "kill_switch", _event(report, actor))
        db.session.commit()
    logger.warning("kill switch re-armed by %s", actor)
    return report


def flatten_and_halt(
    account_id: int, kind: HaltKind, reason: str, now: datetime, actor: str | None = None
) -> AccountResult:
    """Halt one account (of `kind`, with `reason`), cancel its working orders, flatten it.

    The monitor calls this when the daily loss limit is crossed by open P&L (kind
    `daily_loss`): that halt stays until the trader lifts it; re-arming the kill switch
    does not. A broker failure is reported in the result, never raised.
    """
    with _sweep_lock:
        account = get_account(account_id)
        change = halts.set_halt(account, kind, reason, now, actor)
        db.session.commit()
        logger.critical("account %s (%s) halted: %s; flattening", account.id, account.name, reason)
        result = _sweep_audited(account, "flattened and halted", reason, now, Severity.CRITICAL)
        halts.announce([change] if change else [], sweep=result.to_json())
        db.session.commit()
    return result


def flatten(account_id: int, reason: str, now: datetime) -> AccountResult:
    """Cancel one account's working orders and flatten it, without halting it.

    For a guard that refuses entries by itself for as long as it lasts and then ends (the
    news blackout): a halt would outlive it. A broker failure is reported in the result
    (and its audit entry is critical), never raised.
    """
    with _sweep_lock:
        account = get_account(account_id)
        logger.warning("account %s (%s): flattening: %s", account.id, account.name, reason)
        return _sweep_audited(account, "flattened", reason, now, Severity.WARNING)


def _sweep_audited(
    account: BrokerAccount, done: str, reason: str, now: datetime, severity: Severity
) -> AccountResult:
    """Sweep one account and audit what was `done` and why (committed); a failure is
    critical whatever `severity` asked."""
    result = _sweep_safely(account.id, now)
    audit.record(
        AuditCategory.RISK,
        f"account {result.account!r} {done}: {reason}: "
        f"{_count(result.cancelled_orders, 'order')} cancelled, "
        f"{_count(result.flattened_positions, 'position')} flattened"
        + (f"; failed: {result.message}" if not result.ok else ""),
        severity=severity if result.ok else Severity.CRITICAL,
        account_id=account.id,
        data=result.to_json(),
    )
    db.session.commit()
    return result


def _accounts_to_sweep() -> list[int]:
    """Enabled accounts, and disabled ones that still hold a position or a working order."""
    holding = select(Position.account_id).where(Position.quantity != 0)
    working = select(Order.account_id).where(Order.status.in_(orders.OPEN_STATUSES))
    return list(
        db.session.scalars(
            select(BrokerAccount.id)
            .where(
                or_(
                    BrokerAccount.enabled.is_(True),
                    BrokerAccount.id.in_(holding),
                    BrokerAccount.id.in_(working),
                )
            )
            .order_by(BrokerAccount.id)
        )
    )


# --- one account -------------------------------------------------------------------------


def _sweep_safely(account_id: int, now: datetime) -> AccountResult:
    """Sweep one account; whatever goes wrong is the account's reported failure."""
    account = db.session.get(BrokerAccount, account_id)
    result = AccountResult(account_id, account.name if account else f"#{account_id}")
    if account is None:
        return result
    try:
        with _account_quiet(account_id):
            _Sweep(account, result, now).run()
    except BrokerError as exc:
        db.session.rollback()
        result.fail(exc.message)
    except Exception as exc:
        db.session.rollback()
        logger.exception("kill switch: account %s (%s) failed", account_id, result.account)
        result.fail(f"{type(exc).__name__}: {exc}")
    if not result.ok:
        logger.error("kill switch: account %s (%s): %s", account_id, result.account, result.message)
    return result


@contextmanager
def _account_quiet(account_id: int) -> Iterator[None]:
    """Hold the account's lock, so an order being placed right now finishes before the
    sweep reads the account (and is flattened with it), then the monitor's lock (taken
    last, as advanced_orders asks), so no trailing stop or OCO exit is moved or sent
    while the account is swept.

    Waits at most LOCK_WAIT_SECONDS per lock: a stuck caller must not stop the sweep.
    """
    with ExitStack() as stack:
        try:
            stack.enter_context(account_lock(account_id, timeout=LOCK_WAIT_SECONDS))
        except AccountBusy:
            logger.warning("kill switch: account %s is busy; sweeping anyway", account_id)
        if advanced_orders.LOCK.acquire(timeout=LOCK_WAIT_SECONDS):
            stack.callback(advanced_orders.LOCK.release)
        else:
            logger.warning(
                "kill switch: the monitor is busy; sweeping account %s anyway", account_id
            )
        yield


class _Sweep:
    """Cancel our working orders, then flatten every symbol the broker still shows with a
    position or a working order (a flatten cancels the symbol's orders too, including
    ones placed outside DeskPilot), mirror the result, and read the broker again: what it
    still shows is flattened again, a few rounds apart, until the account is really clean
    or the rounds are spent; then what is still open is reported with the broker's words.

    A position whose own closing order is still working is closing, not refused: another
    flatten would only replace that market order, so it is given the next round to fill.
    A refusal that forbids even closing (the account is locked or closed) halts the
    account and ends the retries at once."""

    def __init__(self, account: BrokerAccount, result: AccountResult, now: datetime) -> None:
        self.account = account
        self.result = result
        self.now = now
        self.broker: Broker = broker_for(account)
        self.kill_ids: set[str] = set()
        self.flattened: set[str] = set()  # symbols whose position a kill order closes
        self.refusals: dict[str, str] = {}  # the broker's last words per symbol
        self.final: str | None = None  # a refusal of even closing orders

    def run(self) -> None:
        ours = self._open_rows()
        for row in ours:
            try:
                orders.cancel(self.broker, row, CANCEL_REASON)
            except BrokerError as exc:
                self.result.fail(f"order {row.id} ({row.symbol}) not cancelled: {exc.message}")
        mine = {row.client_order_id for row in ours}
        held, working = self._read()
        self._flatten_pass(held, [o for o in working if o.client_order_id not in mine])
        self._mirror()
        self.result.cancelled_orders += self._mark_cancelled([row.id for row in ours])
        self._until_flat()

    def _read(self) -> tuple[dict[str, int], list[BrokerOrder]]:
        """The broker's positions (symbol → signed quantity, flat ones left out) and its
        working orders."""
        held = {p.symbol: p.qty for p in self.broker.positions() if p.qty}
        return held, self.broker.working_orders()

    def _closing(self, held: dict[str, int], working: list[BrokerOrder]) -> set[str]:
        """Symbols still held whose kill order is working: closing, not to flatten again."""
        return {
            o.symbol for o in working if o.client_order_id in self.kill_ids and o.symbol in held
        }

    def _flatten_pass(self, held: dict[str, int], working: list[BrokerOrder]) -> bool:
        """Flatten every symbol held or with an order working, except those closing;
        counts the orders the flatten cancelled. False when there was nothing to send."""
        closing = self._closing(held, working)
        strays = [o for o in working if o.symbol not in closing]
        symbols = dict.fromkeys(
            [*(s for s in held if s not in closing), *(o.symbol for o in strays)]
        )
        if not symbols:
            return False
        self.result.rounds += 1
        for symbol in symbols:
            if self.final is not None:
                break
            if self._flatten(symbol, held.get(symbol, 0)):
                self.result.cancelled_orders += sum(1 for o in strays if o.symbol == symbol)
        return True

    def _until_flat(self) -> None:
        """Re-read the broker and flatten again what it still shows, KILL_SWITCH_ROUNDS
        passes in all, KILL_SWITCH_RETRY_SECONDS apart; then report what is left."""
        config = current_app.config
        held, working = self._read()
        for _ in range(config["KILL_SWITCH_ROUNDS"] - 1):
            if not (held or working) or self.final is not None:
                break
            time.sleep(config["KILL_SWITCH_RETRY_SECONDS"])
            held, working = self._read()  # after the wait: a closing order may have filled
            if self._flatten_pass(held, working):
                self._mirror()
                held, working = self._read()
        self._report(held, working)

    def _open_rows(self) -> list[Order]:
        return list(
            db.session.scalars(
                select(Order)
                .where(
                    Order.account_id == self.account.id,
                    Order.status.in_(orders.OPEN_STATUSES),
                )
                .order_by(Order.id.desc())  # exits before the entries they belong to
                .execution_options(populate_existing=True)
            )
        )

    def _flatten(self, symbol: str, held: int) -> bool:
        """Flatten one symbol with a `kill` order row; False when refused (the broker's
        words are kept for the report, and a lock of the account halts it)."""
        if self.broker.last_price(symbol) is None:
            self.broker.subscribe_quotes(symbol)  # a paper venue prices its market order
        # Built here, not from an OrderIntent: a position opened outside DeskPilot may be
        # in a contract our table does not know, and it must be flattened all the same.
        row = Order(
            account_id=self.account.id,
            strategy_id=self._strategy_of(symbol),
            client_order_id=orders.new_client_order_id(),
            symbol=symbol,
            side=Side.BUY if held < 0 else Side.SELL,
            quantity=abs(held),  # 0: only working orders to cancel
            order_type=OrderType.MARKET,
            role=OrderRole.KILL,
            status=OrderStatus.PENDING,
        )
        db.session.add(row)
        db.session.commit()
        self.kill_ids.add(row.client_order_id)
        try:
            answer = self.broker.flatten(symbol, row.client_order_id)
        except AccountLocked as exc:
            reports.mark_refused([row], OrderStatus.REJECTED, exc.message, RejectCode.BROKER_LOCKED)
            halts.halt_broker_locked(self.account.id, exc.message, self.now)
            if not exc.closing_allowed:
                self.final = exc.message
            self.refusals[symbol] = exc.message
            return False
        except OrderRejected as exc:
            reports.mark_refused([row], OrderStatus.REJECTED, exc.message)
            self.refusals[symbol] = exc.message
            return False
        except BrokerError as exc:
            reports.mark_refused([row], OrderStatus.FAILED, exc.message)
            self.refusals[symbol] = exc.message
            return False
        if answer is None:  # flat already, and the symbol's orders cancelled: nothing sent
            reports.cancel_unsent(row, f"{symbol} was already flat")
            return True
        reports.record_answers([row], [answer])
        if held and symbol not in self.flattened:
            self.flattened.add(symbol)
            self.result.flattened_positions += 1
        return True

    def _strategy_of(self, symbol: str) -> int | None:
        return db.session.scalar(
            select(Position.strategy_id).where(
                Position.account_id == self.account.id, Position.symbol == symbol
            )
        )

    def _mirror(self) -> None:
        """Bring our rows to the broker's truth now (positions, trades with their exit
        reason) rather than on the poller's next tick; a failure here is only logged."""
        try:
            reconcile_account(self.account, self.broker, self.now)
        except Exception as exc:
            db.session.rollback()
            logger.warning(
                "kill switch: account %s not mirrored yet (%s); the poller will",
                self.account.id,
                exc,
            )

    def _mark_cancelled(self, order_ids: list[int]) -> int:
        """Our orders the sweep cancelled, now saying so (the venue's words say less)."""
        if not order_ids:
            return 0
        cancelled = list(
            db.session.scalars(
                select(Order)
                .where(Order.id.in_(order_ids), Order.status == OrderStatus.CANCELLED)
                .execution_options(populate_existing=True)
            )
        )
        for row in cancelled:
            row.reason = CANCEL_REASON
        db.session.commit()
        return len(cancelled)

    def _report(self, held: dict[str, int], working: list[BrokerOrder]) -> None:
        """What the broker still shows after the last round is reported with its words,
        never assumed gone."""
        if self.final is not None:
            self.result.fail(f"not retried: the broker refuses even closing orders ({self.final})")
        closing = self._closing(held, working)
        for symbol, qty in held.items():
            note = " (its closing order is still working)" if symbol in closing else ""
            words = self.refusals.get(symbol)
            rounds = _count(self.result.rounds, "round")
            self.result.fail(
                f"{symbol} is still {qty:+d} at the broker after {rounds}{note}"
                + (f": {words}" if words else "")
            )
        stray = [o for o in working if o.symbol not in closing]
        if stray:
            words = dict.fromkeys(
                self.refusals[o.symbol] for o in stray if o.symbol in self.refusals
            )
            self.result.fail(
                f"{_count(len(stray), 'order')} still working at the broker: "
                + ", ".join(f"{o.symbol} {o.side} {o.qty}" for o in stray[:5])
                + (f" ({'; '.join(words)})" if words else "")
            )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _event(report: KillReport, actor: str) -> dict:
    return {
        "engaged": report.engaged,
        "actor": actor,
        "cancelled_orders": report.cancelled_orders,
        "flattened_positions": report.flattened_positions,
        "failures": [
            {"account_id": r.account_id, "account": r.account, "message": r.message}
            for r in report.failures
        ],
        "released_accounts": report.released_accounts,
    }
