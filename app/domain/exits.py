"""Exit specifications (take profit, stop loss, trailing stop) as DESIGN §5.2 writes them.

A spec is one of {"ticks": n}, {"points": n}, {"percent": n}, {"price": n}, or a bare
number meaning points. A trailing stop is a distance (not a price) with an optional
activation, itself a spec or a price.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.errors import DomainValidationError
from app.domain.numbers import parse_positive_decimal


class OffsetUnit(StrEnum):
    TICKS = "ticks"
    POINTS = "points"
    PERCENT = "percent"
    PRICE = "price"


@dataclass(frozen=True)
class ExitSpec:
    """A distance from the entry price in some unit, or an absolute price."""

    unit: OffsetUnit
    amount: Decimal

    def to_json(self) -> dict[str, str]:
        return {self.unit.value: str(self.amount)}


@dataclass(frozen=True)
class TrailingSpec:
    trail: ExitSpec
    activation: ExitSpec | None = None

    def to_json(self) -> dict:
        data: dict = self.trail.to_json()
        if self.activation is not None:
            data["activation"] = self.activation.to_json()
        return data


def parse_exit(value: object, field: str) -> ExitSpec:
    """Parse one exit spec; a bare number is points."""
    if isinstance(value, dict):
        return _parse_unit_dict(value, field, allowed=tuple(OffsetUnit))
    return _checked(ExitSpec(OffsetUnit.POINTS, parse_positive_decimal(value, field)), field)


def parse_trailing(value: object, field: str) -> TrailingSpec:
    """Parse a trailing stop: a distance plus an optional `activation`."""
    if not isinstance(value, dict):
        trail = parse_exit(value, field)
        return TrailingSpec(trail)
    rest = {k: v for k, v in value.items() if k != "activation"}
    distances = (OffsetUnit.TICKS, OffsetUnit.POINTS, OffsetUnit.PERCENT)
    trail = _parse_unit_dict(rest, field, allowed=distances)
    activation = None
    if value.get("activation") is not None:
        activation = parse_exit(value["activation"], f"{field}.activation")
    return TrailingSpec(trail, activation)


def _parse_unit_dict(value: dict, field: str, allowed: tuple[OffsetUnit, ...]) -> ExitSpec:
    names = ", ".join(unit.value for unit in allowed)
    keys = [key for key in value if value[key] is not None]
    unknown = [key for key in keys if key not in {unit.value for unit in allowed}]
    if unknown:
        raise DomainValidationError(
            field, f"unknown key {str(unknown[0])[:40]!r}; use one of {names}"
        )
    if len(keys) != 1:
        raise DomainValidationError(field, f"give exactly one of {names}")
    unit = OffsetUnit(keys[0])
    amount = parse_positive_decimal(value[keys[0]], f"{field}.{unit.value}")
    return _checked(ExitSpec(unit, amount), field)


def _checked(spec: ExitSpec, field: str) -> ExitSpec:
    if spec.unit is OffsetUnit.TICKS and spec.amount != spec.amount.to_integral_value():
        raise DomainValidationError(f"{field}.ticks", "must be a whole number of ticks")
    if spec.unit is OffsetUnit.PERCENT and spec.amount >= 100:
        raise DomainValidationError(f"{field}.percent", "must be below 100")
    return spec
