"""What the bus says, in the trader's words: each bus event that is news becomes one
notification (DESIGN §5.4 event type, a Message, and what the filters look at). Pure:
names come from the caller, so rendering needs no query and is tested by itself."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from app.domain.monthly_review import Month, Review
from app.domain.numbers import shown
from app.domain.vocabulary import EventStatus, NotificationEvent, Tone
from app.services.notify.channels.base import Message


@dataclass(frozen=True)
class Names:
    """Accounts' and strategies' names by id, as the owner named them."""

    accounts: dict[int, str]
    strategies: dict[int, str]

    def account(self, account_id: int | None) -> str:
        if account_id is None:
            return "-"
        return self.accounts.get(account_id, f"account {account_id}")

    def strategy(self, strategy_id: int | None) -> str | None:
        if strategy_id is None:
            return None
        return self.strategies.get(strategy_id, f"strategy {strategy_id}")


@dataclass(frozen=True)
class Rendered:
    event_type: NotificationEvent
    message: Message
    account_id: int | None = None
    strategy_id: int | None = None
    symbol: str | None = None
    direction: str | None = None  # long | short: what the direction filter matches


SIGNAL_REJECTIONS = {EventStatus.REJECTED, EventStatus.EXPIRED, EventStatus.FAILED}
SIGNAL_TAKEN = {EventStatus.EXECUTED, EventStatus.PARTIALLY_EXECUTED}


def render(name: str, payload: dict, names: Names, now: datetime) -> Rendered | None:
    """The notification for bus event `name`, or None when it is not news to tell."""
    renderer = _RENDERERS.get(name)
    return renderer(payload, names, now) if renderer else None


def _signed(value: str | None) -> str:
    if value is None:
        return "-"
    amount = Decimal(value)
    return f"+{value}" if amount > 0 else value


def _at(payload: dict, key: str, now: datetime) -> datetime:
    text = payload.get(key)
    return datetime.fromisoformat(text) if text else now


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _signal(payload: dict, names: Names, now: datetime) -> Rendered | None:
    status = EventStatus(payload["status"])
    strategy = names.strategy(payload.get("strategy_id")) or "a strategy"
    fields = (("Strategy", strategy), ("Alert", f"#{payload['id']}"))
    if status in SIGNAL_REJECTIONS:
        reason = payload.get("reason") or status.value
        if payload.get("refused_by") == "risk":  # every trader was refused by its limits
            return Rendered(
                NotificationEvent.RISK_LIMIT,
                Message(
                    "risk_limit",
                    f"Risk limit reached: {strategy}",
                    f"{strategy}'s alert placed nothing: {reason}",
                    now,
                    Tone.WARNING,
                    fields,
                ),
                strategy_id=payload.get("strategy_id"),
            )
        return Rendered(
            NotificationEvent.SIGNAL_REJECTED,
            Message(
                "signal_rejected",
                f"Alert {status.value}: {strategy}",
                reason,
                now,
                Tone.BAD,
                fields,
            ),
            strategy_id=payload.get("strategy_id"),
        )
    if status in SIGNAL_TAKEN:
        return Rendered(
            NotificationEvent.SIGNAL_RECEIVED,
            Message(
                "signal_received",
                f"Alert {status.value}: {strategy}",
                f"{strategy}'s alert was {status.value.replace('_', ' ')}.",
                now,
                Tone.INFO,
                fields,
            ),
            strategy_id=payload.get("strategy_id"),
        )
    if status is EventStatus.PENDING_APPROVAL:
        return Rendered(
            NotificationEvent.APPROVAL_NEEDED,
            Message(
                "approval_needed",
                f"Approval needed: {strategy}",
                f"{strategy}'s alert waits for your approval in the control center.",
                now,
                Tone.WARNING,
                fields,
            ),
            strategy_id=payload.get("strategy_id"),
        )
    return None


def _fill(payload: dict, names: Names, now: datetime) -> Rendered:
    account = names.account(payload.get("account_id"))
    side, qty, symbol, price = payload["side"], payload["qty"], payload["symbol"], payload["price"]
    return Rendered(
        NotificationEvent.ORDER_FILLED,
        Message(
            "order_filled",
            f"Filled: {side} {qty} {symbol} @ {price}",
            f"{account}: {side} {qty} {symbol} filled at {price}.",
            _at(payload, "time", now),
            Tone.INFO,
            (("Account", account), ("Symbol", symbol), ("Qty", f"{side} {qty}"), ("Price", price)),
        ),
        account_id=payload.get("account_id"),
        symbol=symbol,
        direction="long" if side == "buy" else "short",
    )


def _position(payload: dict, names: Names, now: datetime) -> Rendered | None:
    if not payload.get("opened"):
        return None  # only an opening is news; changes and closes are told as fills/trades
    qty = payload["qty"]
    account = names.account(payload.get("account_id"))
    direction = "long" if qty > 0 else "short"
    strategy = names.strategy(payload.get("strategy_id"))
    fields = [
        ("Account", account),
        ("Symbol", payload["symbol"]),
        ("Position", f"{direction} {abs(qty)}"),
        ("Price", payload.get("avg_price") or "-"),
    ]
    if strategy:
        fields.append(("Strategy", strategy))
    return Rendered(
        NotificationEvent.POSITION_OPENED,
        Message(
            "position_opened",
            f"Opened {direction} {abs(qty)} {payload['symbol']} @ {payload.get('avg_price')}",
            f"{account}: {direction} {abs(qty)} {payload['symbol']} at "
            f"{payload.get('avg_price')}" + (f" ({strategy})." if strategy else "."),
            now,
            Tone.INFO,
            tuple(fields),
        ),
        account_id=payload.get("account_id"),
        strategy_id=payload.get("strategy_id"),
        symbol=payload["symbol"],
        direction=direction,
    )


def _trade(payload: dict, names: Names, now: datetime) -> Rendered:
    account = names.account(payload.get("account_id"))
    pnl = Decimal(payload["pnl"])
    held = _at(payload, "exit_time", now) - _at(payload, "entry_time", now)
    reason = payload["exit_reason"].replace("_", " ")
    side, qty, symbol = payload["side"], payload["qty"], payload["symbol"]
    strategy = names.strategy(payload.get("strategy_id"))
    fields = [
        ("Account", account),
        ("Symbol", symbol),
        ("Position", f"{side} {qty}"),
        ("Entry", payload["entry_price"]),
        ("Exit", payload["exit_price"]),
        ("P&L", _signed(payload["pnl"])),
        ("Exit reason", reason),
        ("Held", _duration(held.total_seconds())),
    ]
    if strategy:
        fields.append(("Strategy", strategy))
    return Rendered(
        NotificationEvent.POSITION_CLOSED,
        Message(
            "position_closed",
            f"Closed {side} {qty} {symbol}: {_signed(payload['pnl'])}",
            f"{account}: {side} {qty} {symbol} closed by {reason}, "
            f"{payload['entry_price']} → {payload['exit_price']}, net {_signed(payload['pnl'])} "
            f"after {_duration(held.total_seconds())}.",
            _at(payload, "exit_time", now),
            Tone.GOOD if pnl > 0 else Tone.BAD if pnl < 0 else Tone.INFO,
            tuple(fields),
        ),
        account_id=payload.get("account_id"),
        strategy_id=payload.get("strategy_id"),
        symbol=symbol,
        direction=side,
    )


def _kill_switch(payload: dict, names: Names, now: datetime) -> Rendered:
    engaged = payload.get("engaged")
    failures = payload.get("failures") or []
    if engaged:
        text = (
            f"Kill switch engaged by {payload.get('actor')}: "
            f"{payload.get('cancelled_orders', 0)} orders cancelled, "
            f"{payload.get('flattened_positions', 0)} positions flattened; alerts are refused."
        )
        if failures:
            text += " Not done: " + "; ".join(f"{f['account']}: {f['message']}" for f in failures)
    else:
        text = f"Kill switch re-armed by {payload.get('actor')}: alerts are executed again."
    return Rendered(
        NotificationEvent.KILL_SWITCH,
        Message(
            "kill_switch",
            "Kill switch engaged" if engaged else "Kill switch re-armed",
            text,
            now,
            Tone.BAD if engaged or failures else Tone.INFO,
        ),
    )


def _halted(payload: dict, names: Names, now: datetime) -> Rendered:
    account = payload.get("account") or names.account(payload.get("account_id"))
    by = (payload.get("halted_by") or "").replace("_", " ")
    return Rendered(
        NotificationEvent.ACCOUNT_HALTED,
        Message(
            "account_halted",
            f"{account} halted ({by})",
            f"{account} is halted: {payload.get('reason') or by}. New entries are refused.",
            _at(payload, "at", now),
            Tone.BAD,
            (("Account", account), ("Halted by", by)),
        ),
        account_id=payload.get("account_id"),
    )


def _stop_moved(payload: dict, names: Names, now: datetime) -> Rendered:
    """A trailing stop (or break-even) moved the broker's stop."""
    account = names.account(payload.get("account_id"))
    symbol, direction, stop = payload["symbol"], payload["direction"], payload["stop_price"]
    before = payload.get("previous_stop")
    return Rendered(
        NotificationEvent.STOP_MOVED,
        Message(
            "stop_moved",
            f"Stop moved to {stop} on {direction} {symbol}",
            f"{account}: the stop protecting {direction} {symbol} moved "
            + (f"from {before} to {stop}." if before else f"to {stop}."),
            _at(payload, "at", now),
            Tone.INFO,
            (("Account", account), ("Symbol", symbol), ("Stop", stop)),
        ),
        account_id=payload.get("account_id"),
        strategy_id=payload.get("strategy_id"),
        symbol=symbol,
        direction=direction,
    )


def _rule(event_type: NotificationEvent, tone: Tone):
    """A funded-account rule whose room ran low (warning) or out (breached)."""

    def render_it(payload: dict, names: Names, now: datetime) -> Rendered:
        account = names.account(payload.get("account_id"))
        rule = payload["rule"].replace("_", " ")
        breached = event_type is NotificationEvent.RULE_BREACHED
        title = f"{account}: {rule} rule " + ("breached" if breached else "nearly reached")
        fields = (("Account", account), ("Rule", rule), ("Room left", payload["room_left"]))
        return Rendered(
            event_type,
            Message(
                event_type.value,
                title,
                f"{title}: {payload['detail']}.",
                _at(payload, "at", now),
                tone,
                fields + (("Limit", payload["limit"]),),
            ),
            account_id=payload.get("account_id"),
        )

    return render_it


def _login_new_device(payload: dict, names: Names, now: datetime) -> Rendered:
    """A login from a device or an address not seen before: the owner's, or a stolen
    password's."""
    new = [kind for kind in ("device", "address") if payload.get(f"new_{kind}")]
    device, address = payload.get("device") or "unknown browser", payload.get("address") or "-"
    at = _at(payload, "at", now)
    return Rendered(
        NotificationEvent.LOGIN_NEW_DEVICE,
        Message(
            "login_new_device",
            f"New login: {device} from {address}",
            f"{payload.get('username') or 'The owner'} logged in from a new "
            f"{' and '.join(new) or 'device'}: {device} at {address}, {at:%Y-%m-%d %H:%M} UTC. "
            "Not you? Change the password in Settings and revoke trusted devices.",
            at,
            Tone.WARNING,
            (("Device", device), ("Address", address)),
        ),
    )


def _price_alert(payload: dict, names: Names, now: datetime) -> Rendered:
    """A price alert fired: its name, symbol, and what each condition saw."""
    name, symbol = payload["name"], payload["symbol"]
    seen = [
        f"{item['kind'].replace('_', ' ')}: {_seen_text(item.get('seen'))}"
        for item in (payload.get("values") or {}).get("conditions", [])
        if item.get("met")
    ]
    text = f"{name} on {symbol}" + (f" — {'; '.join(seen)}." if seen else ".")
    if payload.get("one_shot"):
        text += " It was a one-shot alert and is now off."
    return Rendered(
        NotificationEvent.PRICE_ALERT,
        Message(
            "price_alert",
            f"Price alert: {name} ({symbol})",
            text,
            _at(payload, "at", now),
            Tone.WARNING,
            (("Alert", name), ("Symbol", symbol)),
        ),
        symbol=symbol,
    )


def _seen_text(seen) -> str:
    if isinstance(seen, dict):
        return ", ".join(f"{k} {v}" for k, v in seen.items())
    return str(seen)


def _told(event_type: NotificationEvent, title: str, tone: Tone):
    """A bus event whose payload carries its own `message` (or `reason`)."""

    def render_it(payload: dict, names: Names, now: datetime) -> Rendered:
        account_id = payload.get("account_id")
        text = payload.get("message") or payload.get("reason") or title
        fields = (("Account", names.account(account_id)),) if account_id is not None else ()
        if payload.get("symbol"):
            fields += (("Symbol", payload["symbol"]),)
        return Rendered(
            event_type,
            Message(event_type.value, title, text, _at(payload, "at", now), tone, fields),
            account_id=account_id,
            strategy_id=payload.get("strategy_id"),
            symbol=payload.get("symbol"),
        )

    return render_it


def daily_summary(
    trades: list[tuple[int | None, Decimal]], names: Names, now: datetime
) -> Rendered:
    """The trading day so far: `trades` are (strategy id, net P&L) of the round trips closed."""
    total = sum((pnl for _, pnl in trades), Decimal(0))
    wins = sum(1 for _, pnl in trades if pnl > 0)
    per_strategy: dict[str, list[Decimal]] = {}
    for strategy_id, pnl in trades:
        per_strategy.setdefault(names.strategy(strategy_id) or "manual", []).append(pnl)
    if trades:
        headline = (
            f"{len(trades)} trade{'s' if len(trades) != 1 else ''}, "
            f"{round(100 * wins / len(trades))} % won, net {_signed(shown(total))}"
        )
    else:
        headline = "no trades closed today"
    lines = [
        f"{name}: {len(pnls)} trade{'s' if len(pnls) != 1 else ''}, "
        f"net {_signed(shown(sum(pnls, Decimal(0))))}"
        for name, pnls in sorted(per_strategy.items())
    ]
    return Rendered(
        NotificationEvent.DAILY_SUMMARY,
        Message(
            "daily_summary",
            f"Daily summary: {headline}",
            "\n".join(lines) if lines else "No trades closed today.",
            now,
            Tone.GOOD if total > 0 else Tone.BAD if total < 0 else Tone.INFO,
            tuple(
                (name, _signed(shown(sum(pnls, Decimal(0)))))
                for name, pnls in sorted(per_strategy.items())
            )[:24],
        ),
    )


def monthly_review(month: Month, reviews: list[Review], now: datetime) -> Rendered:
    """The month just ended against the one before: `reviews` as the insight service makes
    them, all strategies together first, then each strategy (one line apiece)."""
    overall, strategies = reviews[0], reviews[1:]
    this, then = overall.current, overall.previous
    before = month.previous().name.split()[0]
    if this.trades:
        headline = (
            f"{this.trades} trade{'s' if this.trades != 1 else ''}, {this.win_rate:g} % won, "
            f"net {_signed(shown(this.net_pnl))} ({before}: {_signed(shown(then.net_pnl))})"
        )
    else:
        headline = f"no trades closed ({before}: {then.trades})"
    lines = [_review_line(one) for one in strategies]
    lines += [shift.text for shift in overall.shifts]
    return Rendered(
        NotificationEvent.MONTHLY_REVIEW,
        Message(
            "monthly_review",
            f"Monthly review, {month.name}: {headline}",
            "\n".join(lines) if lines else f"No trades closed in {month.name} or {before}.",
            now,
            Tone.GOOD if this.net_pnl > 0 else Tone.BAD if this.net_pnl < 0 else Tone.INFO,
            tuple((one.name, _signed(shown(one.current.net_pnl))) for one in strategies)[:24],
        ),
    )


def _review_line(one: Review) -> str:
    now, then = one.current, one.previous
    parts = [f"{now.trades} trade{'s' if now.trades != 1 else ''} (was {then.trades})"]
    if now.trades:
        parts.append(f"{now.win_rate:g} % won")
    parts.append(f"net {_signed(shown(now.net_pnl))} (was {_signed(shown(then.net_pnl))})")
    if one.best is not None:
        parts.append(f"best {_signed(shown(one.best.pnl))}")
    if one.worst is not None:
        parts.append(f"worst {_signed(shown(one.worst.pnl))}")
    if one.changes:
        count = len(one.changes)
        parts.append(f"{count} settings change{'s' if count != 1 else ''}")
    shifts = " ".join(shift.text for shift in one.shifts)
    return f"{one.name}: {', '.join(parts)}." + (f" {shifts}" if shifts else "")


def channel_test(now: datetime | None = None) -> Rendered:
    at = now or datetime.now(UTC)
    return Rendered(
        NotificationEvent.TEST,
        Message("test", "DeskPilot test", "If you read this, this channel works.", at),
    )


_RENDERERS = {
    "signal": _signal,
    "fill": _fill,
    "position": _position,
    "trade": _trade,
    "kill_switch": _kill_switch,
    "account_halted": _halted,
    "stop_moved": _stop_moved,
    "price_alert": _price_alert,
    "rule_warning": _rule(NotificationEvent.RULE_WARNING, Tone.WARNING),
    "rule_breached": _rule(NotificationEvent.RULE_BREACHED, Tone.BAD),
    "alert_silence": _told(NotificationEvent.ALERT_SILENCE, "Silence", Tone.WARNING),
    "session_flatten": _told(
        NotificationEvent.SESSION_FLATTEN, "Flattened by a guard rail", Tone.WARNING
    ),
    "job_failed": _told(NotificationEvent.JOB_FAILED, "A job is failing", Tone.BAD),
    "login_new_device": _login_new_device,
    "broker_disconnected": _told(
        NotificationEvent.BROKER_DISCONNECTED, "Broker disconnected", Tone.BAD
    ),
    "broker_reconnected": _told(
        NotificationEvent.BROKER_RECONNECTED, "Broker reconnected", Tone.GOOD
    ),
    "order_rejected_late": _told(
        NotificationEvent.ORDER_REJECTED_LATE, "Order rejected by the broker", Tone.BAD
    ),
}
RENDERED_EVENTS = frozenset(_RENDERERS)  # the bus events that can be news
