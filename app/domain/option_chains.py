"""An option chain's rows checked, and what the chain says: each contract's implied
volatility and Greeks, the put/call ratios, max pain, the volatility surface and the
contracts that trade unusually.

Choices, stated once (README "Options"):

- Time to expiry counts from `as_of` to the end of the expiry date (24:00 UTC) over 365
  days: a contract expiring today still has its hours left.
- A contract's price is the mid of bid and ask when both are given and the ask is above
  0, else its last trade; with neither it has no implied volatility, nor Greeks.
- Moneyness is K / F, F the forward (the futures price for Black-76, S·e^{(r−q)T} for
  BSM): 1 at the money, above 1 an out-of-the-money call or an in-the-money put.
- The surface holds one volatility per strike and expiry, the out-of-the-money side's
  (puts below the forward, calls at and above it: their quotes are the liquid ones),
  else the other side's; null where the chain has neither.
- Max pain is per expiry: the strike at which, were the underlying to settle there, the
  holders of that expiry's open interest would be paid the least intrinsic value.
- Unusual: volume above the open interest (new positions opened today beyond all those
  held), or an implied volatility at or above the chain's 90th percentile (the share of
  the chain's other volatilities below it).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np

from app.domain import options
from app.domain.errors import DomainValidationError
from app.domain.vocabulary import OptionModel, OptionType

MAX_PRICE = Decimal("1000000000")  # the Price column's nine decimals leave eleven digits
MAX_COUNT = 2**31 - 1  # an Integer column
MAX_EXPIRIES = 100  # a listed chain has about 60 (dailies, weeklies, monthlies, LEAPS)
YEAR = timedelta(days=365)
UNUSUAL_PERCENTILE = 90.0
RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class ChainContract:
    option_type: OptionType
    strike: Decimal
    expiry: date
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    volume: int = 0
    open_interest: int = 0

    def quote(self) -> tuple[Decimal | None, str | None]:
        """The price the implied volatility is read from, and which it is (mid or last)."""
        if self.bid is not None and self.ask is not None and self.ask > 0:
            return (self.bid + self.ask) / 2, "mid"
        if self.last is not None and self.last > 0:
            return self.last, "last"
        return None, None


# --- reading rows ------------------------------------------------------------------------


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _price(value, where: str, *, required: bool, positive: bool) -> Decimal | None:
    text = _text(value)
    if not text:
        if required:
            raise DomainValidationError(where, "is required")
        return None
    if isinstance(value, bool):
        raise DomainValidationError(where, "must be a number")
    try:
        found = Decimal(text)
    except InvalidOperation:
        raise DomainValidationError(where, "must be a number") from None
    if not found.is_finite() or found < 0 or (positive and found == 0) or found > MAX_PRICE:
        low = "above 0" if positive else "0 or more"
        raise DomainValidationError(where, f"must be a number {low}, at most {MAX_PRICE:,}")
    if found.as_tuple().exponent < -9:
        raise DomainValidationError(where, "has more than 9 decimals")
    return found


def _count(value, where: str) -> int:
    text = _text(value)
    if not text:
        return 0
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) > MAX_COUNT:
        raise DomainValidationError(where, "must be a whole number of 0 or more")
    return int(text)


def _expiry(value, where: str) -> date:
    try:
        return date.fromisoformat(_text(value))
    except ValueError:
        raise DomainValidationError(where, "must be a date as YYYY-MM-DD") from None


def _type(value, where: str) -> OptionType:
    text = _text(value).lower()
    found = {"c": "call", "p": "put"}.get(text, text)
    if found not in (OptionType.CALL, OptionType.PUT):
        raise DomainValidationError(where, "must be call or put")
    return OptionType(found)


def parse_contract(row: dict, where: str) -> ChainContract:
    """One row of a chain (`type,strike,expiry,bid,ask,last,volume,open_interest`, text
    or JSON values); a bad field raises naming `where.field`."""
    contract = ChainContract(
        option_type=_type(row.get("type"), f"{where}.type"),
        strike=_price(row.get("strike"), f"{where}.strike", required=True, positive=True),
        expiry=_expiry(row.get("expiry"), f"{where}.expiry"),
        bid=_price(row.get("bid"), f"{where}.bid", required=False, positive=False),
        ask=_price(row.get("ask"), f"{where}.ask", required=False, positive=False),
        last=_price(row.get("last"), f"{where}.last", required=False, positive=False),
        volume=_count(row.get("volume"), f"{where}.volume"),
        open_interest=_count(row.get("open_interest"), f"{where}.open_interest"),
    )
    if contract.bid is not None and contract.ask is not None and contract.bid > contract.ask:
        raise DomainValidationError(f"{where}.bid", "is above the ask")
    return contract


def parse_contracts(rows: Sequence[dict], as_of: datetime, field_name="contracts"):
    """Every row checked before any is kept: each must expire after `as_of`, and a
    (type, strike, expiry) may appear once. At most MAX_EXPIRIES expiries: the surface
    holds a cell per strike and expiry, so 5,000 contracts of as many expiries and strikes
    would answer 25 million cells."""
    found: list[ChainContract] = []
    seen: dict[tuple, int] = {}
    for index, row in enumerate(rows):
        where = f"{field_name}[{index}]"
        if not isinstance(row, dict):
            raise DomainValidationError(where, "must be an object")
        contract = parse_contract(row, where)
        years = years_to_expiry(contract.expiry, as_of)
        if years <= 0:
            raise DomainValidationError(f"{where}.expiry", "is not after as_of")
        if years > options.MAX_YEARS:
            raise DomainValidationError(f"{where}.expiry", "is more than 100 years after as_of")
        key = (contract.option_type, contract.strike, contract.expiry)
        if key in seen:
            raise DomainValidationError(where, f"repeats {field_name}[{seen[key]}]")
        seen[key] = index
        found.append(contract)
    expiries = len({c.expiry for c in found})
    if expiries > MAX_EXPIRIES:
        raise DomainValidationError(
            field_name, f"has {expiries:,} expiries; a chain holds at most {MAX_EXPIRIES}"
        )
    return found


def years_to_expiry(expiry: date, as_of: datetime) -> float:
    """From `as_of` to the end of the expiry date (24:00 UTC), in years of 365 days (the
    day added after the subtraction, so that 9999-12-31 has an end too)."""
    return (datetime.combine(expiry, time(), UTC) - as_of + timedelta(days=1)) / YEAR


# --- the chain's figures -----------------------------------------------------------------


@dataclass(frozen=True)
class ChainTerms:
    model: OptionModel
    rate: float
    dividend_yield: float
    as_of: datetime
    underlying_price: float | None  # None: implied by put–call parity if the chain allows


@dataclass
class ChainAnalytics:
    underlying_price: float | None
    underlying_price_source: str | None  # "given", "parity", or None when unknown
    years: np.ndarray
    iv: np.ndarray  # NaN where none
    iv_source: list[str | None]
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    theta_per_day: np.ndarray
    vega: np.ndarray
    moneyness: np.ndarray
    put_call_volume_ratio: Decimal | None
    put_call_oi_ratio: Decimal | None
    max_pain: dict[date, Decimal]
    surface_strikes: list[Decimal] = field(default_factory=list)
    surface_expiries: list[date] = field(default_factory=list)
    surface_iv: list[list[float | None]] = field(default_factory=list)
    unusual: list[tuple[int, list[str], float | None]] = field(default_factory=list)


def ratio(part: int, whole: int) -> Decimal | None:
    """part / whole to four decimals; None when whole is 0 (no calls traded or held)."""
    return (Decimal(part) / Decimal(whole)).quantize(RATIO) if whole else None


def put_call_ratios(contracts: Sequence[ChainContract]) -> tuple[Decimal | None, Decimal | None]:
    """Put volume over call volume, and put open interest over call open interest."""
    totals = {kind: [0, 0] for kind in OptionType}
    for c in contracts:
        totals[c.option_type][0] += c.volume
        totals[c.option_type][1] += c.open_interest
    put, call = totals[OptionType.PUT], totals[OptionType.CALL]
    return ratio(put[0], call[0]), ratio(put[1], call[1])


def max_pain(contracts: Sequence[ChainContract]) -> dict[date, Decimal]:
    """Per expiry with open interest, the strike that minimises the intrinsic value paid
    to holders, Σ calls OI·max(P − K, 0) + Σ puts OI·max(K − P, 0), over settlement prices
    P at the expiry's strikes (the sum is piecewise linear in P, so its least is at one);
    the lower strike on a tie."""
    by_expiry: dict[date, list[ChainContract]] = defaultdict(list)
    for c in contracts:
        by_expiry[c.expiry].append(c)
    found: dict[date, Decimal] = {}
    for expiry, group in sorted(by_expiry.items()):
        if any(c.open_interest > 0 for c in group):
            found[expiry] = _least_paid_strike(group)
    return found


def _least_paid_strike(group: Sequence[ChainContract]) -> Decimal:
    """One expiry's max pain in O(n log n), exactly. With the strikes ascending, settling
    at P pays the calls P·(their OI below P) − Σ(OI·K below P) and the puts Σ(OI·K above
    P) − P·(their OI above P): running sums give every strike's total in one pass, where
    trying each strike against each contract took 11 s for 5,000 contracts. Strikes are
    scaled to integers (their most decimals), so no sum is ever rounded."""
    places = max(-min(c.strike.as_tuple().exponent, 0) for c in group)
    held: dict[Decimal, list[int]] = defaultdict(lambda: [0, 0])  # strike: call OI, put OI
    for c in group:
        held[c.strike][c.option_type is OptionType.PUT] += c.open_interest
    strikes = sorted({c.strike for c in group})
    scaled = [_scaled(strike, places) for strike in strikes]
    puts_oi = sum(oi for _, oi in held.values())
    puts_value = sum(held[s][1] * k for s, k in zip(strikes, scaled, strict=True))
    calls_oi = calls_value = 0  # of the strikes below the one tried
    best, least = strikes[0], None
    for strike, k in zip(strikes, scaled, strict=True):
        call_oi, put_oi = held[strike]
        puts_oi -= put_oi  # the puts above: at K itself a put pays nothing
        puts_value -= put_oi * k
        paid = k * calls_oi - calls_value + puts_value - k * puts_oi
        if least is None or paid < least:
            best, least = strike, paid
        calls_oi += call_oi
        calls_value += call_oi * k
    return best


def _scaled(value: Decimal, places: int) -> int:
    """value · 10^places as an exact integer (value has at most `places` decimals)."""
    sign, digits, exponent = value.as_tuple()
    whole = int("".join(map(str, digits)) or "0") * 10 ** (exponent + places)
    return -whole if sign else whole


def implied_underlying(contracts: Sequence[ChainContract], terms: ChainTerms) -> float | None:
    """The underlying price put–call parity implies at the nearest expiry that quotes a
    call and a put of one strike, from the pair whose prices are closest (nearest the
    money, where parity's arbitrage is tightest); None without such a pair."""
    pairs: dict[tuple[date, Decimal], dict[OptionType, Decimal]] = defaultdict(dict)
    for c in contracts:
        quote, _ = c.quote()
        if quote is not None:
            pairs[(c.expiry, c.strike)][c.option_type] = quote
    both = [(key, q) for key, q in pairs.items() if len(q) == 2]
    if not both:
        return None
    nearest = min(key[0] for key, _ in both)
    (expiry, strike), quotes = min(
        ((key, q) for key, q in both if key[0] == nearest),
        key=lambda item: abs(item[1][OptionType.CALL] - item[1][OptionType.PUT]),
    )
    try:
        return options.implied_underlying(
            terms.model, strike, years_to_expiry(expiry, terms.as_of), terms.rate,
            quotes[OptionType.CALL], quotes[OptionType.PUT], terms.dividend_yield,
        )  # fmt: skip
    except DomainValidationError:
        return None


def iv_percentiles(iv: np.ndarray) -> np.ndarray:
    """For each volatility, the share (0–100) of the chain's other volatilities below it;
    NaN where there is no volatility or no other to compare with."""
    found = np.full(len(iv), np.nan)
    known = np.flatnonzero(np.isfinite(iv))
    if len(known) < 2:
        return found
    values = iv[known]
    below = np.searchsorted(np.sort(values), values, side="left")
    found[known] = below / (len(known) - 1) * 100
    return found


def unusual(contracts: Sequence[ChainContract], iv: np.ndarray):
    """(index, reasons, IV percentile) of each contract that trades unusually."""
    percentile = iv_percentiles(iv)
    found = []
    for index, c in enumerate(contracts):
        reasons = []
        if c.volume > c.open_interest:
            reasons.append("volume_above_open_interest")
        if np.isfinite(percentile[index]) and percentile[index] >= UNUSUAL_PERCENTILE:
            reasons.append("iv_percentile")
        if reasons:
            value = float(percentile[index]) if np.isfinite(percentile[index]) else None
            found.append((index, reasons, value))
    return found


def surface(contracts: Sequence[ChainContract], iv: np.ndarray, moneyness: np.ndarray):
    """Strikes (ascending), expiries (ascending) and iv[expiry][strike], the
    out-of-the-money side's volatility first (see the module's choices)."""
    strikes = sorted({c.strike for c in contracts})
    expiries = sorted({c.expiry for c in contracts})
    column = {strike: j for j, strike in enumerate(strikes)}
    row = {expiry: i for i, expiry in enumerate(expiries)}
    grid: list[list[float | None]] = [[None] * len(strikes) for _ in expiries]
    preferred = [[False] * len(strikes) for _ in expiries]
    for index, c in enumerate(contracts):
        if not np.isfinite(iv[index]):
            continue
        i, j = row[c.expiry], column[c.strike]
        below_forward = moneyness[index] < 1
        out_of_money = (c.option_type is OptionType.PUT) == below_forward
        if grid[i][j] is None or (out_of_money and not preferred[i][j]):
            grid[i][j], preferred[i][j] = float(iv[index]), out_of_money
    return strikes, expiries, grid


def _prices(contracts: Sequence[ChainContract]) -> tuple[np.ndarray, list[str | None]]:
    quotes = [c.quote() for c in contracts]
    prices = np.array([np.nan if q is None else float(q) for q, _ in quotes])
    return prices, [source for _, source in quotes]


def analyse(contracts: Sequence[ChainContract], terms: ChainTerms) -> ChainAnalytics:
    """Every figure of the chain (see the module's choices)."""
    n = len(contracts)
    source = "given" if terms.underlying_price is not None else None
    underlying = terms.underlying_price
    if underlying is None:
        underlying = implied_underlying(contracts, terms)
        source = "parity" if underlying is not None else None
    years = np.array([years_to_expiry(c.expiry, terms.as_of) for c in contracts], dtype=float)
    strikes = np.array([float(c.strike) for c in contracts])
    kinds = np.array([c.option_type.value for c in contracts], dtype=str)
    prices, iv_source = _prices(contracts)
    nan = np.full(n, np.nan)
    iv, delta, gamma, theta, vega, moneyness = nan, nan, nan, nan, nan, nan
    if underlying is not None and n:
        iv = options.implied_volatilities(
            terms.model, kinds, underlying, strikes, years, terms.rate, prices,
            terms.dividend_yield,
        )  # fmt: skip
        carry = 0.0 if terms.model is OptionModel.BLACK76 else terms.rate - terms.dividend_yield
        moneyness = strikes / (underlying * np.exp(carry * years))
        delta, gamma, theta, vega = _greeks_at(iv, kinds, underlying, strikes, years, terms)
    strike_list, expiry_list, grid = surface(contracts, iv, moneyness)
    volume_ratio, oi_ratio = put_call_ratios(contracts)
    return ChainAnalytics(
        underlying_price=underlying,
        underlying_price_source=source,
        years=years,
        iv=iv,
        iv_source=[s if np.isfinite(v) else None for s, v in zip(iv_source, iv, strict=True)],
        delta=delta,
        gamma=gamma,
        theta=theta,
        theta_per_day=theta / 365,
        vega=vega,
        moneyness=moneyness,
        put_call_volume_ratio=volume_ratio,
        put_call_oi_ratio=oi_ratio,
        max_pain=max_pain(contracts),
        surface_strikes=strike_list,
        surface_expiries=expiry_list,
        surface_iv=grid,
        unusual=unusual(contracts, iv),
    )


def _greeks_at(iv, kinds, underlying, strikes, years, terms: ChainTerms):
    """Delta, gamma, theta (per year) and vega at each contract's own implied volatility;
    NaN where it has none."""
    known = np.isfinite(iv)
    found = [np.full(len(iv), np.nan) for _ in range(4)]
    if known.any():
        g = options.greeks(
            terms.model, kinds[known], underlying, strikes[known], years[known], terms.rate,
            iv[known], terms.dividend_yield,
        )  # fmt: skip
        for target, values in zip(found, (g.delta, g.gamma, g.theta, g.vega), strict=True):
            target[known] = values
    return tuple(found)


# --- the chain's own fields --------------------------------------------------------------

MAX_RATE_PLACES = 6  # the rate and dividend_yield columns keep six decimals
SYMBOL_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:!.")


@dataclass(frozen=True)
class ChainHeader:
    underlying: str
    as_of: datetime
    model: OptionModel
    rate: Decimal
    dividend_yield: Decimal
    underlying_price: Decimal | None


def _rate(value, where: str) -> Decimal:
    text = _text(value)
    if not text:
        return Decimal(0)
    try:
        found = Decimal(text) if not isinstance(value, bool) else None
    except InvalidOperation:
        found = None
    if found is None or not found.is_finite() or abs(found) > 1:
        raise DomainValidationError(where, "must be a decimal fraction from -1 to 1 (0.05 is 5 %)")
    if found.as_tuple().exponent < -MAX_RATE_PLACES:
        raise DomainValidationError(where, f"has more than {MAX_RATE_PLACES} decimals")
    return found


def _as_of(value) -> datetime:
    text = _text(value)
    if not text:
        raise DomainValidationError("as_of", "is required")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise DomainValidationError("as_of", "must be an ISO 8601 time") from None


def parse_header(fields: dict) -> ChainHeader:
    """`underlying`, `as_of` (ISO 8601, UTC without a zone), [`model` (black76 by
    default: the trader's options are on futures), `rate`, `dividend_yield` (bsm only),
    `underlying_price`]."""
    underlying = _text(fields.get("underlying"))
    if not underlying:
        raise DomainValidationError("underlying", "is required")
    if len(underlying) > 40 or not set(underlying) <= SYMBOL_CHARACTERS:
        raise DomainValidationError("underlying", "must be a symbol of up to 40 letters or digits")
    model_text = _text(fields.get("model")) or OptionModel.BLACK76.value
    if model_text not in (OptionModel.BLACK76, OptionModel.BSM):
        raise DomainValidationError("model", "must be black76 or bsm")
    model = OptionModel(model_text)
    dividend_yield = _rate(fields.get("dividend_yield"), "dividend_yield")
    if model is OptionModel.BLACK76 and dividend_yield:
        raise DomainValidationError("dividend_yield", "applies to bsm only")
    return ChainHeader(
        underlying=underlying,
        as_of=_as_of(fields.get("as_of")),
        model=model,
        rate=_rate(fields.get("rate"), "rate"),
        dividend_yield=dividend_yield,
        underlying_price=_price(
            fields.get("underlying_price"), "underlying_price", required=False, positive=True
        ),
    )
