"""Where a strategy's balance may go: a Monte Carlo bootstrap of its own trade results.

The model, stated once (DESIGN §5.4 `POST /api/analytics/projection`, README "Projection"):

- Each run draws `trades` results from the strategy's recorded ones, uniformly and with
  replacement (`numpy.random.default_rng(seed)`), so the same seed gives the same answer.
- With no risk mode a drawn trade adds its recorded dollar P&L to the balance.
- Under a risk mode a trade is a return on the risk it took: its R-multiple is its P&L
  over the dollars it risked (stop distance × tick value × quantity) when that is known,
  else over the strategy's average loss. A projected trade risks the mode's share of the
  current balance (conservative 1 %, moderate 2 %, aggressive 4 %), so the balance is
  multiplied by 1 + R × share: balances compound.
- A run is ruined the first time its balance falls to (100 − ruin_pct) % of the start or
  below; it stops trading there and its balance stays at that value to the end.

The answer gives the balance percentiles across runs after each trade, the share of
runs ruined and the median over runs of each run's largest peak-to-trough fall, in
percent of the peak (the starting balance counts as the first peak).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from app.domain.errors import DomainValidationError
from app.domain.risk_modes import MODE_RULES
from app.domain.vocabulary import RiskMode

PERCENTILES = {"p5": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}
MAX_RUNS = 20_000
MAX_TRADES = 5_000
# Runs × trades at most: the arrays hold every run's balance after every trade (several
# of them at once), about 40 bytes a cell at the peak, so this keeps one request near
# 100 MB. 20,000 × 5,000 would want about 4 GB.
MAX_CELLS = 2_500_000
MAX_BALANCE = 1e18  # dollars: a projected balance is held within ± this
CENT = Decimal("0.01")
SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class TradeResult:
    """One closed trade of the strategy: its net P&L and, when its stop was known, the
    dollars it put at risk."""

    pnl: Decimal
    risk: Decimal | None = None


@dataclass(frozen=True)
class Projection:
    """`percentiles` maps p5…p95 to one balance per projected trade (cents);
    `risk_of_ruin` is a share 0…1; `median_max_drawdown_pct` is in percent."""

    percentiles: dict[str, list[Decimal]]
    risk_of_ruin: Decimal
    median_max_drawdown_pct: Decimal


def project(
    results: Sequence[TradeResult],
    starting_balance: Decimal,
    trades: int,
    risk_mode: RiskMode | None = None,
    runs: int = 2000,
    seed: int | None = None,
    ruin_pct: Decimal = Decimal(50),
) -> Projection:
    """Bootstrap `runs` futures of `trades` trades each from `results` (model above)."""
    _validate(results, starting_balance, trades, runs, seed, ruin_pct)
    start = float(starting_balance)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(results), size=(runs, trades))
    if risk_mode is None:
        pnl = np.array([float(r.pnl) for r in results])
        balances = start + np.cumsum(pnl[picks], axis=1)
    else:
        share = MODE_RULES[risk_mode].risk_share
        factors = np.array([float(1 + r * share) for r in r_multiples(results)])
        with np.errstate(over="ignore"):  # past a float's range: inf, held below
            balances = start * np.cumprod(factors[picks], axis=1)
    # A record whose wins dwarf its average loss compounds past any sum of money within a
    # few dozen trades under a mode (and past a float soon after): beyond the ceiling the
    # balance says nothing more, so it is held there.
    balances = np.clip(balances, -MAX_BALANCE, MAX_BALANCE)
    level = start * float((100 - ruin_pct) / 100)
    balances, ruined = _stop_at_ruin(balances, level)
    bands = np.percentile(balances, list(PERCENTILES.values()), axis=0, method="inverted_cdf")
    return Projection(
        percentiles={name: _cents(band) for name, band in zip(PERCENTILES, bands, strict=True)},
        risk_of_ruin=(Decimal(int(ruined.sum())) / runs).quantize(SHARE, ROUND_HALF_EVEN),
        median_max_drawdown_pct=_median_max_drawdown_pct(balances, start),
    )


def r_multiples(results: Sequence[TradeResult]) -> list[Decimal]:
    """Each result's P&L over the dollars it risked: its own known risk, else the average
    loss as the unit of risk. Refused when some risk is unknown and there is no loss to
    stand in for it (an R of an all-winning, stopless record is undefined)."""
    losses = [-r.pnl for r in results if r.pnl < 0]
    unit = sum(losses, Decimal(0)) / len(losses) if losses else None
    found = []
    for result in results:
        risk = result.risk if result.risk is not None and result.risk > 0 else unit
        if risk is None:
            raise DomainValidationError(
                "risk_mode",
                "needs the risk each trade took: no stop distance recorded and no losing "
                "trade to use as the unit of risk",
            )
        found.append(result.pnl / risk)
    return found


def _stop_at_ruin(balances: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Freeze each run at its first balance at or below `level`; return the frozen paths
    and which runs were ruined."""
    below = balances <= level
    ruined = below.any(axis=1)
    first = below.argmax(axis=1)
    after = ruined[:, None] & (np.arange(balances.shape[1])[None, :] > first[:, None])
    at_ruin = balances[np.arange(balances.shape[0]), first][:, None]
    return np.where(after, at_ruin, balances), ruined


def _median_max_drawdown_pct(balances: np.ndarray, start: float) -> Decimal:
    """Median over runs of the largest fall below the running peak, in percent of it."""
    path = np.concatenate([np.full((balances.shape[0], 1), start), balances], axis=1)
    peaks = np.maximum.accumulate(path, axis=1)
    deepest = ((peaks - path) / peaks).max(axis=1)
    return Decimal(float(np.median(deepest)) * 100).quantize(CENT, ROUND_HALF_EVEN)


def _cents(band: np.ndarray) -> list[Decimal]:
    return [Decimal(value).quantize(CENT, ROUND_HALF_EVEN) for value in band.tolist()]


def _validate(
    results: Sequence[TradeResult],
    starting_balance: Decimal,
    trades: int,
    runs: int,
    seed: int | None,
    ruin_pct: Decimal,
) -> None:
    if not results:
        raise DomainValidationError("results", "needs at least one closed trade to resample")
    if not starting_balance > 0:
        raise DomainValidationError("starting_balance", "must be above 0")
    _count(trades, "trades", MAX_TRADES)
    _count(runs, "runs", MAX_RUNS)
    if runs * trades > MAX_CELLS:
        raise DomainValidationError(
            "runs",
            f"× trades must be at most {MAX_CELLS:,} ({runs:,} × {trades:,} asked); "
            "fewer runs or a shorter horizon",
        )
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise DomainValidationError("seed", "must be a whole number of 0 or more")
    if not 0 < ruin_pct < 100:
        raise DomainValidationError("ruin_pct", "must be above 0 and below 100")


def _count(value: int, field: str, most: int) -> None:
    if not _is_int(value) or not 1 <= value <= most:
        raise DomainValidationError(field, f"must be a whole number from 1 to {most:,}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
