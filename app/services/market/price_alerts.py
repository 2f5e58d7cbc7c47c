"""Price alerts (DESIGN §5.4): the trader's rules on a symbol, looked at as bars close and —
for rules only a price can decide — on each price, fired at most as the rule allows, each
firing recorded with what it saw and told through the notification outbox (`price_alert`).

Two paths meet in `watch` (a job on the jobs' process, every few seconds):
- each price reaches `on_price` in the updating thread; price-only rules of that symbol
  (held in memory, their crossing sides too) are looked at there and a met rule is
  queued — no database work on a price;
- `watch` writes the queued firings, looks at each other rule once per new closed bar of
  its timeframe (bars from the database: every process's prices), and reloads the rules
  the trader changed.
A firing is kept only if the rule allows it then: enabled, past its cooldown, under its
daily cap (the CME trading day); a one-shot rule turns itself off.

Sentiment conditions compare the news score of the rule's product (`sentiment_of`, given
by the job: news lives in services/insight, which this package does not import) over the
longest `window_minutes` of the rule's sentiment conditions, 60 by default; with no
article in that window they are not met. A rule of sentiment conditions only is looked at
at each close of its timeframe whether or not a bar closed: the news needs no price.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.domain import price_rules
from app.domain.bar_building import PERIOD_SECONDS, period_start
from app.domain.price_rules import Condition
from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import AuditCategory, ConditionJoin, Timeframe
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import PriceAlert, PriceAlertTrigger
from app.services.market import bars
from app.services.records import audit, events

logger = logging.getLogger(__name__)

MAX_RULES = 1000
DEFAULT_SENTIMENT_MINUTES = 60
# (contract code, window, now) → the mean news score, None without articles
SentimentOf = Callable[[str, timedelta, datetime], float | None]


@dataclass
class _PriceRule:
    """A price-only rule as `on_price` looks at it."""

    id: int
    updated_at: datetime
    conditions: list[Condition]
    join: ConditionJoin
    state: dict


@dataclass
class _Memory:
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_symbol: dict[str, list[_PriceRule]] = field(default_factory=dict)
    met: list[tuple[int, datetime, dict, dict]] = field(default_factory=list)


_memory = _Memory()


# --- the trader's rules ----------------------------------------------------------------


def rule_json(rule: PriceAlert) -> dict:
    return {
        "id": rule.id,
        "name": rule.name,
        "symbol": rule.symbol,
        "conditions": rule.conditions,
        "join": rule.joined_by.value,
        "timeframe": rule.timeframe.value,
        "cooldown_seconds": rule.cooldown_seconds,
        "max_triggers_per_day": rule.max_triggers_per_day,
        "one_shot": rule.one_shot,
        "enabled": rule.enabled,
        "last_triggered_at": rule.last_triggered_at,
        "created_at": rule.created_at,
    }


def list_rules() -> list[PriceAlert]:
    return list(db.session.scalars(select(PriceAlert).order_by(PriceAlert.id)))


def get_rule(rule_id: int) -> PriceAlert:
    rule = db.session.get(PriceAlert, rule_id)
    if rule is None:
        raise NotFound(f"Price alert {rule_id} does not exist.")
    return rule


def create_rule(fields: dict, symbol: str) -> PriceAlert:
    """A new rule on the resolved contract `symbol`; conditions checked by the domain."""
    count = db.session.scalar(select(func.count()).select_from(PriceAlert))
    if count >= MAX_RULES:
        raise Conflict(f"At most {MAX_RULES} price alerts.", code="too_many_price_alerts")
    rule = PriceAlert(name=fields["name"], symbol=symbol, state={})
    _apply(rule, fields)
    db.session.add(rule)
    db.session.flush()
    audit.record(AuditCategory.SYSTEM, f"price alert {rule.name!r} created on {symbol}")
    db.session.commit()
    return rule


def update_rule(rule_id: int, fields: dict, symbol: str | None) -> PriceAlert:
    rule = get_rule(rule_id)
    if symbol is not None and symbol != rule.symbol:
        rule.symbol = symbol
        rule.state = {}
    if "conditions" in fields or "join" in fields:
        rule.state = {}  # new lines: their sides are learnt again
    _apply(rule, fields)
    audit.record(AuditCategory.SYSTEM, f"price alert {rule.name!r} changed")
    db.session.commit()
    return rule


def delete_rule(rule_id: int) -> None:
    rule = get_rule(rule_id)
    audit.record(AuditCategory.SYSTEM, f"price alert {rule.name!r} deleted")
    db.session.delete(rule)
    db.session.commit()


def _apply(rule: PriceAlert, fields: dict) -> None:
    if "conditions" in fields:
        conditions = price_rules.parse_conditions(fields["conditions"])
        rule.conditions = [c.to_json() for c in conditions]
    for name in ("name", "cooldown_seconds", "max_triggers_per_day", "one_shot", "enabled"):
        if name in fields:
            setattr(rule, name, fields[name])
    if "join" in fields:
        rule.joined_by = ConditionJoin(fields["join"])
    if "timeframe" in fields:
        rule.timeframe = Timeframe(fields["timeframe"])


def triggers(rule_id: int, limit: int = 200) -> list[PriceAlertTrigger]:
    get_rule(rule_id)
    return list(
        db.session.scalars(
            select(PriceAlertTrigger)
            .where(PriceAlertTrigger.price_alert_id == rule_id)
            .order_by(PriceAlertTrigger.id.desc())
            .limit(limit)
        )
    )


# --- looking ---------------------------------------------------------------------------


def on_price(symbol: str, price: Decimal, time: datetime) -> None:
    """Look at the symbol's price-only rules (price subscriber: memory only)."""
    rules = _memory.by_symbol.get(symbol)
    if not rules:
        return
    with _memory.lock:
        for rule in rules:
            seen = price_rules.look(rule.conditions, rule.join, [], price, rule.state, 1)
            rule.state = seen.state
            if seen.met:
                _memory.met.append((rule.id, time, seen.values, seen.state))


def watch(now: datetime, sentiment_of: SentimentOf | None = None) -> int:
    """Write the firings queued by prices, look at the bar rules, reload the rules; the
    number of firings kept. Without `sentiment_of`, sentiment conditions are not met."""
    with _memory.lock:
        queued, _memory.met = _memory.met, []
    kept = 0
    for rule_id, at, values, state in queued:
        rule = db.session.get(PriceAlert, rule_id)
        if rule is not None:
            rule.state = {**(rule.state or {}), **state}
            kept += _fire(rule, at, values)
    groups: dict[tuple[str, Timeframe], list[PriceAlert]] = {}
    for rule in _bar_rules():
        groups.setdefault((rule.symbol, rule.timeframe), []).append(rule)
    for (symbol, timeframe), rules in groups.items():
        kept += _look_at_bars(symbol, timeframe, rules, now, sentiment_of)
    db.session.commit()
    _reload_price_rules()
    return kept


def _bar_rules() -> list[PriceAlert]:
    rules = db.session.scalars(select(PriceAlert).where(PriceAlert.enabled.is_(True))).all()
    return [r for r in rules if not price_rules.is_price_only(_conditions(r))]


def _look_at_bars(
    symbol: str,
    timeframe: Timeframe,
    rules: list[PriceAlert],
    now: datetime,
    sentiment_of: SentimentOf | None,
):
    """Look at the rules of one symbol and timeframe once per newly closed bar, the bars
    read once for all of them."""
    current = period_start(now, timeframe)
    closed = period_start(current - timedelta(seconds=1), timeframe)
    due = [r for r in rules if (r.state or {}).get("last_bar") != closed.isoformat()]
    if not due:
        return 0
    looks = [(rule, _conditions(rule)) for rule in due]
    needed = max(c.bars_needed for _, conditions in looks for c in conditions)
    length = (
        timedelta(days=1)
        if timeframe is Timeframe.D1
        else timedelta(seconds=PERIOD_SECONDS[timeframe])
    )
    found = [b for b in bars.read(symbol, timeframe, closed - length * needed, closed)
             if b.time <= closed]  # fmt: skip
    kept = 0
    for rule, conditions in looks:
        state = {**(rule.state or {}), "last_bar": closed.isoformat()}
        no_bar = not found or found[-1].time != closed
        if no_bar and not price_rules.is_news_only(conditions):
            rule.state = state  # no bar closed in that period (a gap): nothing to look at
            continue
        minutes = int(length.total_seconds() // 60)
        news = _sentiment(symbol, conditions, now, sentiment_of)
        seen = price_rules.look(conditions, rule.joined_by, found, None, state, minutes, news)
        rule.state = {**state, **seen.state}
        if seen.met:
            kept += _fire(rule, closed + length, seen.values)
    return kept


def _sentiment(
    symbol: str, conditions: list[Condition], now: datetime, sentiment_of: SentimentOf | None
) -> float | None:
    """The news score the rule's sentiment conditions compare, when it has any."""
    windows = [
        c.window_minutes or DEFAULT_SENTIMENT_MINUTES
        for c in conditions
        if c.kind in price_rules.SENTIMENT_KINDS
    ]
    if not windows or sentiment_of is None:
        return None
    return sentiment_of(symbol, timedelta(minutes=max(windows)), now)


def _fire(rule: PriceAlert, at: datetime, values: dict) -> int:
    """Record and tell one firing if the rule allows it now."""
    if not rule.enabled:
        return 0
    if (
        rule.last_triggered_at is not None
        and rule.cooldown_seconds
        and (at < rule.last_triggered_at + timedelta(seconds=rule.cooldown_seconds))
    ):
        return 0
    if rule.max_triggers_per_day is not None:
        today = db.session.scalar(
            select(func.count()).where(
                PriceAlertTrigger.price_alert_id == rule.id,
                PriceAlertTrigger.triggered_at >= trading_day_start(at),
            )
        )
        if today >= rule.max_triggers_per_day:
            return 0
    db.session.add(PriceAlertTrigger(price_alert_id=rule.id, triggered_at=at, values=values))
    rule.last_triggered_at = at
    if rule.one_shot:
        rule.enabled = False
    events.publish_after_commit(
        db.session(),
        "price_alert",
        {
            "price_alert_id": rule.id,
            "name": rule.name,
            "symbol": rule.symbol,
            "values": values,
            "one_shot": rule.one_shot,
            "at": at.isoformat(),
        },
    )
    return 1


def _conditions(rule: PriceAlert) -> list[Condition]:
    return price_rules.parse_conditions(rule.conditions)


def _reload_price_rules() -> None:
    """The enabled price-only rules by symbol; a rule unchanged since it was loaded keeps
    the sides `on_price` learnt (the database may not have them yet)."""
    rules = db.session.scalars(select(PriceAlert).where(PriceAlert.enabled.is_(True))).all()
    with _memory.lock:
        known = {r.id: r for held in _memory.by_symbol.values() for r in held}
        by_symbol: dict[str, list[_PriceRule]] = {}
        for row in rules:
            conditions = _conditions(row)
            if not price_rules.is_price_only(conditions):
                continue
            held = known.get(row.id)
            if held is None or held.updated_at != row.updated_at:
                held = _PriceRule(
                    row.id, row.updated_at, conditions, row.joined_by, dict(row.state or {})
                )
            by_symbol.setdefault(row.symbol, []).append(held)
        _memory.by_symbol = by_symbol


def forget() -> None:
    """Drop what the process holds in memory (tests; a restart does the same)."""
    with _memory.lock:
        _memory.by_symbol = {}
        _memory.met = []
