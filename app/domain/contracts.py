"""CME Group futures: contract specs, the roll calendar, symbol resolution and tick arithmetic.

A TradingView alert names a contract loosely (`MES1!`, `CME_MINI:MES1!`, `MESZ2026`); the
broker, positions and orders need one exact contract (`MESZ6`, DESIGN §5.4). Everything
here is pure: callers pass the trading date `on`, never the clock.

Roll calendar. Each product has a small rule giving a contract month's approximate last
trading day and its roll date — the first day on which the next listed month is the
"front month" (`MES1!`). The rules follow the exchange's termination-of-trading text,
count weekends as non-business days and know no exchange holidays, so a date can be a
day off around a holiday. Rolls fall well before the last trading day (or, for
physically delivered products, before first notice day), where volume has moved on;
the next contract is traded from the roll date on.

Listing cycles are the months traders actually trade (gold: G J M Q V Z), not every
month the exchange lists, so the front month is always the liquid one.
"""

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from enum import StrEnum
from types import MappingProxyType

from app.domain.errors import DomainValidationError

MONTH_CODES = "FGHJKMNQUVXZ"

# Enough digits that tick arithmetic on any parsed price (|exponent| <= 18) stays exact.
_EXACT = Context(prec=60)


class UnknownSymbol(DomainValidationError):
    """A symbol DeskPilot cannot map to one listed contract; the webhook answers 422."""

    def __init__(self, message: str) -> None:
        super().__init__("symbol", message)


@dataclass(frozen=True)
class Maturity:
    """A contract month's approximate last trading day and its roll date."""

    last_trade: date
    roll: date


MaturityRule = Callable[[int, int], Maturity]


@dataclass(frozen=True)
class ContractSpec:
    """One futures product as the exchange defines it; prices are in the exchange's quote unit."""

    root: str
    name: str
    exchange: str  # TradingView's prefix: CME_MINI:MES1!
    tick_size: Decimal
    tick_value: Decimal
    point_value: Decimal  # account currency per 1.0 of price per contract
    cycle: str  # month codes the front month walks through, in calendar order
    rule: MaturityRule = field(repr=False)

    def __post_init__(self) -> None:
        # The table below is typed by hand: refuse to load a spec that contradicts itself.
        if self.tick_size * self.point_value != self.tick_value:
            raise ValueError(f"{self.root}: tick_size x point_value != tick_value")
        if self.cycle != "".join(code for code in MONTH_CODES if code in self.cycle):
            raise ValueError(f"{self.root}: cycle {self.cycle!r} is not month codes in order")


@dataclass(frozen=True)
class Contract:
    """One listed contract month of a product."""

    spec: ContractSpec
    month_code: str
    year: int

    @property
    def month(self) -> int:
        return MONTH_CODES.index(self.month_code) + 1

    @property
    def code(self) -> str:
        """The broker's name, one-digit year as Tradovate writes it: MESZ6."""
        return f"{self.spec.root}{self.month_code}{self.year % 10}"

    @property
    def long_code(self) -> str:
        """TradingView's name with the full year: MESZ2026."""
        return f"{self.spec.root}{self.month_code}{self.year}"

    @property
    def maturity(self) -> Maturity:
        return self.spec.rule(self.year, self.month)

    def is_expired(self, on: date) -> bool:
        """True once the last trading day is past (old contracts still resolve; callers refuse)."""
        return on > self.maturity.last_trade

    def next_listed(self) -> "Contract":
        """The following month in the product's cycle."""
        later = [code for code in self.spec.cycle if code > self.month_code]
        if later:
            return Contract(self.spec, later[0], self.year)
        return Contract(self.spec, self.spec.cycle[0], self.year + 1)

    def __str__(self) -> str:
        return self.code


# --- calendar helpers (weekends only; holidays are not known) ---------------------------

_WEDNESDAY = 2
_FRIDAY = 4


def _is_business_day(day: date) -> bool:
    return day.weekday() < 5


def _business_days_before(day: date, count: int) -> date:
    """The `count`-th business day before `day`, not counting `day` itself."""
    while count:
        day -= timedelta(days=1)
        if _is_business_day(day):
            count -= 1
    return day


def _last_business_day(year: int, month: int) -> date:
    day = date(year, month, calendar.monthrange(year, month)[1])
    while not _is_business_day(day):
        day -= timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _first_notice_day(year: int, month: int) -> date:
    """CBOT grains, treasuries and COMEX metals: the last business day of the prior month."""
    return _last_business_day(*_previous_month(year, month))


# --- maturity rules, one per product family -----------------------------------------------


def _equity_index(year: int, month: int) -> Maturity:
    """ES, NQ, YM, RTY and micros: trading ends on the third Friday of the contract month.

    Volume moves to the next quarter on the industry roll date eight days earlier, the
    Thursday of the week before.
    """
    last = _nth_weekday(year, month, _FRIDAY, 3)
    return Maturity(last, last - timedelta(days=8))


def _crude_last_trade(year: int, month: int, extra_days: int) -> date:
    """Three business days before the 25th of the prior month; four if the 25th is not one."""
    the_25th = date(*_previous_month(year, month), 25)
    days = 3 if _is_business_day(the_25th) else 4
    return _business_days_before(the_25th, days + extra_days)


def _wti(year: int, month: int) -> Maturity:
    """NYMEX CL, cash-and-carry into the prior month; roll a week (5 business days) before."""
    last = _crude_last_trade(year, month, extra_days=0)
    return Maturity(last, _business_days_before(last, 5))


def _micro_wti(year: int, month: int) -> Maturity:
    """NYMEX MCL settles against CL, so it stops one business day before CL does."""
    last = _crude_last_trade(year, month, extra_days=1)
    return Maturity(last, _business_days_before(last, 5))


def _gas(year: int, month: int) -> Maturity:
    """NYMEX NG: three business days before the contract month's first calendar day."""
    last = _business_days_before(date(year, month, 1), 3)
    return Maturity(last, _business_days_before(last, 5))


def _metal(year: int, month: int) -> Maturity:
    """GC, MGC, SI, HG: trading ends on the third-last business day of the contract month.

    They are physically delivered, so longs leave before first notice day (the prior
    month's last business day): the roll is three business days before it.
    """
    last = _business_days_before(_last_business_day(year, month), 2)
    return Maturity(last, _business_days_before(_first_notice_day(year, month), 3))


def _bond_note(year: int, month: int) -> Maturity:
    """ZB, ZN: trading ends seven business days before the contract month's last one.

    Delivery notices start at the end of the prior month; roll a week before that.
    """
    last = _business_days_before(_last_business_day(year, month), 7)
    return Maturity(last, _business_days_before(_first_notice_day(year, month), 5))


def _five_year_note(year: int, month: int) -> Maturity:
    """ZF: trading ends on the contract month's last business day; rolls like ZB and ZN."""
    last = _last_business_day(year, month)
    return Maturity(last, _business_days_before(_first_notice_day(year, month), 5))


def _grain(year: int, month: int) -> Maturity:
    """ZC, ZS, ZW: trading ends the business day before the 15th of the contract month.

    Physically delivered: roll a week before first notice day.
    """
    last = _business_days_before(date(year, month, 15), 1)
    return Maturity(last, _business_days_before(_first_notice_day(year, month), 5))


def _currency(year: int, month: int) -> Maturity:
    """6E, 6J, 6B: trading ends two business days before the third Wednesday; roll a week before."""
    last = _business_days_before(_nth_weekday(year, month, _WEDNESDAY, 3), 2)
    return Maturity(last, _business_days_before(last, 5))


# --- the product table ------------------------------------------------------------------


def _spec(
    root: str,
    name: str,
    exchange: str,
    tick: str,
    tick_value: str,
    point_value: str,
    cycle: str,
    rule: MaturityRule,
) -> ContractSpec:
    return ContractSpec(
        root, name, exchange, Decimal(tick), Decimal(tick_value), Decimal(point_value), cycle, rule
    )


_SPEC_TABLE = (
    # root, name, TradingView exchange, tick, tick value, point value, cycle, maturity rule
    _spec("ES", "E-mini S&P 500", "CME_MINI", "0.25", "12.50", "50", "HMUZ", _equity_index),
    _spec("MES", "Micro E-mini S&P 500", "CME_MINI", "0.25", "1.25", "5", "HMUZ", _equity_index),
    _spec("NQ", "E-mini Nasdaq-100", "CME_MINI", "0.25", "5.00", "20", "HMUZ", _equity_index),
    _spec("MNQ", "Micro E-mini Nasdaq-100", "CME_MINI", "0.25", "0.50", "2", "HMUZ", _equity_index),
    _spec("YM", "E-mini Dow ($5)", "CBOT_MINI", "1", "5.00", "5", "HMUZ", _equity_index),
    _spec("MYM", "Micro E-mini Dow", "CBOT_MINI", "1", "0.50", "0.5", "HMUZ", _equity_index),
    _spec("RTY", "E-mini Russell 2000", "CME_MINI", "0.1", "5.00", "50", "HMUZ", _equity_index),
    _spec(
        "M2K", "Micro E-mini Russell 2000", "CME_MINI", "0.1", "0.50", "5", "HMUZ", _equity_index
    ),
    _spec("CL", "WTI Crude Oil", "NYMEX", "0.01", "10.00", "1000", "FGHJKMNQUVXZ", _wti),
    _spec("MCL", "Micro WTI Crude Oil", "NYMEX", "0.01", "1.00", "100", "FGHJKMNQUVXZ", _micro_wti),
    _spec("NG", "Henry Hub Natural Gas", "NYMEX", "0.001", "10.00", "10000", "FGHJKMNQUVXZ", _gas),
    _spec("GC", "Gold", "COMEX", "0.1", "10.00", "100", "GJMQVZ", _metal),
    _spec("MGC", "Micro Gold", "COMEX", "0.1", "1.00", "10", "GJMQVZ", _metal),
    _spec("SI", "Silver", "COMEX", "0.005", "25.00", "5000", "HKNUZ", _metal),
    _spec("HG", "Copper", "COMEX", "0.0005", "12.50", "25000", "HKNUZ", _metal),
    _spec("ZB", "U.S. Treasury Bond", "CBOT", "0.03125", "31.25", "1000", "HMUZ", _bond_note),
    _spec("ZN", "10-Year T-Note", "CBOT", "0.015625", "15.625", "1000", "HMUZ", _bond_note),
    _spec("ZF", "5-Year T-Note", "CBOT", "0.0078125", "7.8125", "1000", "HMUZ", _five_year_note),
    _spec("ZC", "Corn (cents/bushel)", "CBOT", "0.25", "12.50", "50", "HKNUZ", _grain),
    _spec("ZS", "Soybeans (cents/bushel)", "CBOT", "0.25", "12.50", "50", "FHKNQUX", _grain),
    _spec("ZW", "Chicago SRW Wheat (cents/bushel)", "CBOT", "0.25", "12.50", "50", "HKNUZ", _grain),
    _spec("6E", "Euro FX", "CME", "0.00005", "6.25", "125000", "HMUZ", _currency),
    _spec("6J", "Japanese Yen", "CME", "0.0000005", "6.25", "12500000", "HMUZ", _currency),
    _spec("6B", "British Pound", "CME", "0.0001", "6.25", "62500", "HMUZ", _currency),
)

SPECS: Mapping[str, ContractSpec] = MappingProxyType({spec.root: spec for spec in _SPEC_TABLE})


def spec_for(root: str) -> ContractSpec:
    """The spec of a product root such as "MES"; raises UnknownSymbol for any other text."""
    spec = SPECS.get(root.strip().upper())
    if spec is None:
        raise UnknownSymbol(f"{_shown(root)} is not a supported futures product")
    return spec


# --- front month and symbol resolution ----------------------------------------------------


def front_month(spec: ContractSpec, on: date) -> Contract:
    """The contract traded on `on`: the first listed month whose roll date is still ahead.

    A roll date always falls before the end of its own contract month, so the search can
    start at the month of `on`.
    """
    contract = _first_listed_from(spec, on.year, on.month)
    while contract.maturity.roll <= on:
        contract = contract.next_listed()
    return contract


def _first_listed_from(spec: ContractSpec, year: int, month: int) -> Contract:
    later = [code for code in spec.cycle if MONTH_CODES.index(code) + 1 >= month]
    if later:
        return Contract(spec, later[0], year)
    return Contract(spec, spec.cycle[0], year + 1)


# Roots never prefix one another, so the alternation is unambiguous.
_ROOTS = "|".join(sorted(SPECS, key=len, reverse=True))
_SYMBOL = re.compile(
    rf"(?:(?P<exchange>[A-Z0-9_]+):)?(?P<root>{_ROOTS})"
    r"(?:(?P<nth>[12])!|(?P<month>[A-Z])(?P<year>[0-9]{4}|[0-9]{1,2}))?",
    re.ASCII,
)
_MAX_SYMBOL_LENGTH = 40
# A one-digit year names a year in this window around `on`'s year: recent contracts stay
# addressable (a position opened in the old one), listed years ahead are reached.
_YEARS_BACK = 3


def resolve_symbol(text: str, on: date) -> Contract:
    """Resolve an alert's symbol to one contract on the trading date `on`.

    Accepted, case-insensitive and trimmed: `MES1!` (front month), `MES2!` (the one after),
    `MES` (front month), `MESZ6`, `MESZ26`, `MESZ2026`, each optionally prefixed with
    TradingView's exchange (`CME_MINI:`, delayed feeds `CME_MINI_DL:`). A prefix naming
    another exchange is refused rather than ignored: the alert is not what it seems.
    A one-digit year is the matching year from three years before `on` to six after; an
    explicit contract that has already expired still resolves, and the caller refuses it
    with `Contract.is_expired(on)`. Anything else raises UnknownSymbol.
    """
    cleaned = text.strip().upper()
    match = _SYMBOL.fullmatch(cleaned) if len(cleaned) <= _MAX_SYMBOL_LENGTH else None
    if match is None:
        raise UnknownSymbol(f"{_shown(text)} is not a supported futures symbol (e.g. MES1!, MESZ6)")
    spec = SPECS[match["root"]]
    _check_exchange(spec, match["exchange"], text)
    if match["nth"]:
        contract = front_month(spec, on)
        return contract.next_listed() if match["nth"] == "2" else contract
    if match["month"] is None:
        return front_month(spec, on)
    if match["month"] not in spec.cycle:
        raise UnknownSymbol(f"{_shown(text)}: {spec.root} is traded in months {spec.cycle} only")
    return Contract(spec, match["month"], _full_year(match["year"], on, text))


def _check_exchange(spec: ContractSpec, exchange: str | None, text: str) -> None:
    if exchange is not None and exchange.removesuffix("_DL") != spec.exchange:
        raise UnknownSymbol(f"{_shown(text)}: {spec.root} trades on {spec.exchange}")


def _full_year(digits: str, on: date, text: str) -> int:
    if len(digits) == 4:
        year = int(digits)
        if not 2000 <= year <= 2099:
            raise UnknownSymbol(f"{_shown(text)}: year {year} is out of range")
        return year
    if len(digits) == 2:
        return 2000 + int(digits)
    first = on.year - _YEARS_BACK
    return first + (int(digits) - first) % 10


def _shown(text: object) -> str:
    """Quote untrusted text for a message, cut to a readable length."""
    shown = str(text)
    return repr(shown if len(shown) <= 40 else shown[:40] + "…")


# --- tick arithmetic --------------------------------------------------------------------


class TickRounding(StrEnum):
    """How a price is put on the tick grid.

    NEAREST rounds halves away from zero (5000.125 → 5000.25 on a 0.25 grid): the rule a
    trader does in their head. UP and DOWN are ceiling and floor, for when the side
    matters (a buy limit rounds down so it never pays more than asked).
    """

    NEAREST = "nearest"
    UP = "up"
    DOWN = "down"


_ROUNDING = {
    TickRounding.NEAREST: ROUND_HALF_UP,
    TickRounding.UP: ROUND_CEILING,
    TickRounding.DOWN: ROUND_FLOOR,
}


def _in_ticks(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        raise ValueError(f"tick must be positive, got {tick}")
    return price / tick


def round_to_tick(
    price: Decimal, tick: Decimal, mode: TickRounding = TickRounding.NEAREST
) -> Decimal:
    """`price` moved onto the grid of multiples of `tick`."""
    with localcontext(_EXACT):
        ticks = _in_ticks(price, tick).to_integral_value(rounding=_ROUNDING[mode])
        return ticks * tick


def is_on_tick(price: Decimal, tick: Decimal) -> bool:
    with localcontext(_EXACT):
        ticks = _in_ticks(price, tick)
        return ticks == ticks.to_integral_value()


def ticks_between(start: Decimal, end: Decimal, tick: Decimal) -> int:
    """Whole ticks from `start` to `end`, signed, a partial tick truncated toward zero.

    Truncation answers the monitor's question "has the price moved at least one tick?";
    check `is_on_tick` first where an off-grid price is an error.
    """
    with localcontext(_EXACT):
        return int(_in_ticks(end - start, tick))


def ticks_to_points(ticks: int | Decimal, tick: Decimal) -> Decimal:
    """A distance in ticks as a price distance (16 ticks of 0.25 = 4 points)."""
    with localcontext(_EXACT):
        return Decimal(ticks) * tick


def pnl(spec: ContractSpec, quantity: int, entry_price: Decimal, exit_price: Decimal) -> Decimal:
    """Gross P&L in account currency, exact; `quantity` is signed (short < 0).

    No rounding to cents: a ZN tick is worth $15.625 and sums must stay exact.
    """
    with localcontext(_EXACT):
        return (exit_price - entry_price) * quantity * spec.point_value
