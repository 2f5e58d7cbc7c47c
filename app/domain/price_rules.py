"""Price alert rules (DESIGN §5.4 price alerts): conditions joined by AND or OR, looked at
on each new bar of the rule's timeframe, and price-only rules also on each price.

A look sees the closed bars (oldest first) and the price now (the last bar's close on a
bar look). Level conditions (`price_above`, `rsi_below`, …) are true while they hold; the
crossing ones (`crosses_above`, `sma_cross_below`, …) are true only on the look where
the line changed sides, which needs the side seen at the previous look: `state` carries
it from look to look (the rule's first look only learns the side). A condition whose
figure is not defined yet (too few bars for the period) is false and says so.

Prices compare as Decimals; indicator values are floats (indicators.py) and are shown
rounded. Cooldowns, daily caps and one-shot rules are the service's: this module says
only whether the conditions are met, and what each saw.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.domain import indicators
from app.domain.bars import Bar
from app.domain.errors import DomainValidationError
from app.domain.vocabulary import ConditionJoin

PRICE_KINDS = frozenset({"price_above", "price_below", "crosses_above", "crosses_below"})
SENTIMENT_KINDS = frozenset({"sentiment_above", "sentiment_below"})
CROSSING_KINDS = frozenset(
    {
        "crosses_above",
        "crosses_below",
        "sma_cross_above",
        "sma_cross_below",
        "ema_cross_above",
        "ema_cross_below",
    }
)
KINDS = frozenset(
    {
        *PRICE_KINDS,
        "change_pct",
        "rsi_above",
        "rsi_below",
        "sma_cross_above",
        "sma_cross_below",
        "ema_cross_above",
        "ema_cross_below",
        "volume_spike",
        "sentiment_above",
        "sentiment_below",
    }
)
NEEDS_VALUE = KINDS - {"sma_cross_above", "sma_cross_below", "ema_cross_above", "ema_cross_below"}
MAX_CONDITIONS = 10
MAX_PERIOD = 500
DEFAULT_RSI_PERIOD = 14
DEFAULT_VOLUME_PERIOD = 20


@dataclass(frozen=True)
class Condition:
    kind: str
    value: Decimal | None = None
    period: int | None = None
    fast: int | None = None
    slow: int | None = None
    window_minutes: int | None = None

    def to_json(self) -> dict:
        shown = {"kind": self.kind}
        if self.value is not None:
            shown["value"] = format(self.value, "f")
        for name in ("period", "fast", "slow", "window_minutes"):
            if getattr(self, name) is not None:
                shown[name] = getattr(self, name)
        return shown

    @property
    def bars_needed(self) -> int:
        """How many closed bars a look should be given for this condition."""
        longest = max(self.period or 0, self.slow or 0, self.fast or 0)
        if self.kind.startswith("rsi"):
            longest = self.period or DEFAULT_RSI_PERIOD
        if self.kind == "volume_spike":
            longest = self.period or DEFAULT_VOLUME_PERIOD
        # The recursive smoothings settle over a few periods; crossings need the bar before.
        return 3 * longest + 2


@dataclass(frozen=True)
class Look:
    met: bool
    values: dict  # per condition: what it saw ({"condition": i, "kind", "seen", "met"})
    state: dict  # the sides to carry to the next look


def parse_conditions(raw: object) -> list[Condition]:
    """The trader's conditions, checked: a DomainValidationError names `conditions[i].x`."""
    if not isinstance(raw, list) or not raw:
        raise DomainValidationError("conditions", "must be a list of at least one condition")
    if len(raw) > MAX_CONDITIONS:
        raise DomainValidationError("conditions", f"has more than {MAX_CONDITIONS} conditions")
    return [_condition(item, f"conditions[{i}]") for i, item in enumerate(raw)]


def _condition(item: object, where: str) -> Condition:
    if not isinstance(item, dict):
        raise DomainValidationError(where, "must be an object")
    unknown = set(item) - {"kind", "value", "period", "fast", "slow", "window_minutes"}
    if unknown:
        raise DomainValidationError(f"{where}.{sorted(unknown)[0]}", "is not a condition field")
    kind = item.get("kind")
    if kind not in KINDS:
        raise DomainValidationError(f"{where}.kind", f"must be one of {', '.join(sorted(KINDS))}")
    value = _value(item.get("value"), f"{where}.value", kind)
    counts = {
        name: _count(item.get(name), f"{where}.{name}")
        for name in ("period", "fast", "slow", "window_minutes")
    }
    if kind.startswith(("sma_cross", "ema_cross")):
        if counts["fast"] is None or counts["slow"] is None:
            raise DomainValidationError(f"{where}.fast", "fast and slow periods are required")
        if counts["fast"] >= counts["slow"]:
            raise DomainValidationError(f"{where}.fast", "must be shorter than slow")
    if kind == "change_pct" and counts["window_minutes"] is None:
        raise DomainValidationError(f"{where}.window_minutes", "is required")
    if kind.startswith("rsi") and value is not None and not 0 < value < 100:
        raise DomainValidationError(f"{where}.value", "must be between 0 and 100")
    if kind in PRICE_KINDS | {"volume_spike"} and value is not None and value <= 0:
        raise DomainValidationError(f"{where}.value", "must be above 0")
    return Condition(kind, value, **counts)


def _value(raw: object, field: str, kind: str) -> Decimal | None:
    if raw is None:
        if kind in NEEDS_VALUE:
            raise DomainValidationError(field, "is required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DomainValidationError(field, "must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise DomainValidationError(field, "must be a number") from None
    if not value.is_finite():
        raise DomainValidationError(field, "must be a number")
    return value


def _count(raw: object, field: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_PERIOD:
        raise DomainValidationError(field, f"must be a whole number from 1 to {MAX_PERIOD}")
    return raw


def is_price_only(conditions: Sequence[Condition]) -> bool:
    """Rules a single price can decide, looked at on each price as well as each bar."""
    return all(c.kind in PRICE_KINDS for c in conditions)


def look(
    conditions: Sequence[Condition],
    join: ConditionJoin,
    bars: Sequence[Bar],
    price: Decimal | None,
    state: dict,
    minutes_per_bar: int,
    sentiment: float | None = None,
) -> Look:
    """Whether the rule's conditions are met now, what each saw, and the state to keep."""
    now = price if price is not None else (bars[-1].close if bars else None)
    closes = [bar.close for bar in bars]
    sides = dict(state.get("sides") or {})
    values, results = [], []
    for index, condition in enumerate(conditions):
        seen, met, side = _judge(condition, bars, closes, now, minutes_per_bar, sentiment)
        key = str(index)
        if condition.kind in CROSSING_KINDS:
            before = sides.get(key)
            if side is not None:
                sides[key] = side
            wanted = "above" if condition.kind.endswith("above") else "below"
            met = side == wanted and before is not None and before != wanted
        results.append(met)
        values.append({"condition": index, "kind": condition.kind, "seen": seen, "met": met})
    met = all(results) if join is ConditionJoin.AND else any(results)
    return Look(met, {"conditions": values}, {"sides": sides})


def _judge(
    c: Condition,
    bars: Sequence[Bar],
    closes: list[Decimal],
    now: Decimal | None,
    minutes_per_bar: int,
    sentiment: float | None,
) -> tuple[object, bool, str | None]:
    """(what the condition saw, whether a level condition holds, the side for a crossing)."""
    kind = c.kind
    if kind in PRICE_KINDS:
        if now is None:
            return None, False, None
        side = "above" if now > c.value else "below"
        held = {"price_above": now > c.value, "price_below": now < c.value}.get(kind, False)
        return format(now, "f"), held, side
    if kind == "change_pct":
        back = math.ceil(c.window_minutes / minutes_per_bar)
        if now is None or len(closes) <= back or closes[-1 - back] == 0:
            return None, False, None
        change = (now - closes[-1 - back]) / closes[-1 - back] * 100
        held = change >= c.value if c.value >= 0 else change <= c.value
        return _shown(float(change)), held, None
    if kind in ("rsi_above", "rsi_below"):
        figure = _last(indicators.rsi(closes, c.period or DEFAULT_RSI_PERIOD))
        if figure is None:
            return None, False, None
        held = figure > float(c.value) if kind == "rsi_above" else figure < float(c.value)
        return _shown(figure), held, None
    if kind.startswith(("sma_cross", "ema_cross")):
        average = indicators.sma if kind.startswith("sma") else indicators.ema
        fast, slow = _last(average(closes, c.fast)), _last(average(closes, c.slow))
        if fast is None or slow is None:
            return None, False, None
        return (
            {"fast": _shown(fast), "slow": _shown(slow)},
            False,
            ("above" if fast > slow else "below"),
        )
    if kind == "volume_spike":
        figure = _last(indicators.volume_spike([b.volume for b in bars], c.period or 20))
        if figure is None:
            return None, False, None
        return _shown(figure), figure >= float(c.value), None
    # sentiment_above / sentiment_below: the news score for the symbol, when there is one
    if sentiment is None:
        return "unavailable", False, None
    held = sentiment > float(c.value) if kind == "sentiment_above" else sentiment < float(c.value)
    return _shown(sentiment), held, None


def _last(series) -> float | None:
    if len(series) == 0 or math.isnan(series[-1]):
        return None
    return float(series[-1])


def _shown(figure: float) -> str:
    return f"{figure:.4f}".rstrip("0").rstrip(".")


def is_news_only(conditions: Sequence[Condition]) -> bool:
    """Only the news decides the rule: it needs no bar (nor any price) to be looked at."""
    return all(condition.kind in SENTIMENT_KINDS for condition in conditions)
