"""Scale-out targets: a take profit in up to three steps (DESIGN §5.2).

`take_profit` may be a list of up to three targets, each an offset (ticks, points,
percent or price) with `percent_of_position`; the shares add up to 100. The rules:

- **Whole contracts.** Target *i* ends where the running share of the position ends,
  rounded down: `floor(qty × (share₁ + … + shareᵢ) / 100)` contracts are out by then, so
  the last target takes the remainder and the contracts always add up to the position.
- **Merging.** A target whose share comes to zero contracts (25 % of 2) is merged into
  the next one, which then carries both shares; the split says so, for the answer. The
  last target always keeps at least one contract.
- **Prices.** Each target is a take profit at its own level (oco.exit_prices rules:
  rounded toward the entry, beyond it, within 25 %), and the levels move away from the
  entry in the order given: a list out of order is refused, naming the target.
"""

from dataclasses import dataclass
from decimal import Decimal

from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, parse_exit
from app.domain.numbers import parse_positive_decimal, shown
from app.domain.oco import exit_prices
from app.domain.vocabulary import Side

MAX_TARGETS = 3
SHARE = "percent_of_position"


@dataclass(frozen=True)
class Target:
    offset: ExitSpec
    percent_of_position: Decimal

    def to_json(self) -> dict[str, str]:
        return {**self.offset.to_json(), SHARE: str(self.percent_of_position)}


@dataclass(frozen=True)
class TargetLeg:
    """A target with the contracts it takes profit on."""

    offset: ExitSpec
    qty: int


@dataclass(frozen=True)
class TargetSplit:
    legs: tuple[TargetLeg, ...]
    merged: tuple[str, ...] = ()  # what was merged into what, in a trader's words


def parse_targets(value: object, field: str = "take_profit") -> tuple[Target, ...]:
    """A list of one to three targets whose shares add up to 100."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TARGETS:
        raise DomainValidationError(field, f"must be a list of 1 to {MAX_TARGETS} targets")
    targets = tuple(_target(item, f"{field}[{index}]") for index, item in enumerate(value))
    total = sum((t.percent_of_position for t in targets), Decimal(0))
    if total != 100:
        raise DomainValidationError(
            field, f"the targets' {SHARE} must add up to 100, not {shown(total)}"
        )
    return targets


def _target(item: object, field: str) -> Target:
    if not isinstance(item, dict) or item.get(SHARE) is None:
        raise DomainValidationError(
            field, f'must be an offset with its {SHARE}, e.g. {{"ticks": 8, "{SHARE}": 50}}'
        )
    share = parse_positive_decimal(item[SHARE], f"{field}.{SHARE}")
    if share > 100:
        raise DomainValidationError(f"{field}.{SHARE}", "must be at most 100")
    offset = parse_exit({key: v for key, v in item.items() if key != SHARE}, field)
    return Target(offset, share)


def split_position(qty: int, targets: tuple[Target, ...]) -> TargetSplit:
    """The contracts of each target for a position of `qty` (see the module's rules)."""
    if qty < 1:
        raise DomainValidationError("quantity", "a position to split has at least one contract")
    legs: list[TargetLeg] = []
    merged: list[str] = []
    running = Decimal(0)
    assigned = 0
    for index, target in enumerate(targets):
        running += target.percent_of_position
        last = index == len(targets) - 1
        out_by_now = qty if last else int(qty * running / 100)
        contracts = out_by_now - assigned
        if contracts == 0:
            merged.append(
                f"target {index + 1} ({shown(target.percent_of_position)} % of {qty}) "
                f"rounds to 0 contracts: merged into target {index + 2}"
            )
            continue
        legs.append(TargetLeg(target.offset, contracts))
        assigned = out_by_now
    return TargetSplit(tuple(legs), tuple(merged))


def target_prices(
    side: Side, reference: Decimal, tick: Decimal, legs: tuple[TargetLeg, ...]
) -> tuple[Decimal, ...]:
    """Each leg's take-profit price for an entry on `side`, moving away from the entry."""
    levels: list[Decimal] = []
    for index, leg in enumerate(legs):
        field = f"take_profit[{index}]"
        try:
            level = exit_prices(side, reference, tick, leg.offset, None).take_profit
        except DomainValidationError as exc:
            raise DomainValidationError(field, exc.message) from None
        if levels and (level <= levels[-1] if side is Side.BUY else level >= levels[-1]):
            raise DomainValidationError(
                field,
                f"{shown(level)} is not beyond the previous target "
                f"{shown(levels[-1])}: list targets from the nearest",
            )
        levels.append(level)
    return tuple(levels)
