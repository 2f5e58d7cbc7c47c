"""JSON forms of values: decimals as strings, times as ISO 8601 UTC, per DESIGN §5.4."""

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.analytics import DayPnl, Metrics
from app.domain.exit_preview import ExitPreview

CENT = Decimal("0.01")


def decimal(value: Decimal | None) -> str | None:
    """A price or factor without the column's padding zeros: 5012.250000000 → "5012.25"."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str | None:
    """An amount with at least cents: 50000.0000 → "50000.00", 1.2345 → "1.2345"."""
    if value is None:
        return None
    return decimal(value) if value != value.quantize(CENT) else format(value.quantize(CENT), "f")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def exit_preview(found: ExitPreview) -> dict:
    """Where an entry's exits would go (the ticket's and the strategy form's preview)."""
    break_even = None
    if found.break_even_trigger is not None:
        break_even = {
            "trigger_price": decimal(found.break_even_trigger),
            "stop_price": decimal(found.break_even_stop),
        }
    return {
        "take_profit_price": decimal(found.take_profit_price),
        "stop_loss_price": decimal(found.stop_loss_price),
        "targets": [{"qty": t.qty, "price": decimal(t.price)} for t in found.targets],
        "merged": list(found.merged),
        "trailing_stop_price": decimal(found.trailing_stop_price),
        "break_even": break_even,
    }


def metrics_json(found: Metrics) -> dict:
    """The analytics fields (DESIGN §5.4 `GET /api/analytics`) of a set of trades: counts
    and rates, money as decimal strings, ratios as numbers (null where undefined), the
    execution quality and the equity curve. `POST /api/replay` answers both its sides in
    this shape."""
    drawdown, execution = found.drawdown, found.execution
    return {
        "trades": found.trades,
        "wins": found.wins,
        "losses": found.losses,
        "win_rate": found.win_rate,
        "avg_win": money(found.avg_win),
        "avg_loss": money(found.avg_loss),
        "payoff_ratio": found.payoff_ratio,
        "profit_factor": found.profit_factor,
        "expectancy": money(found.expectancy),
        "gross_pnl": money(found.gross_pnl),
        "commission": money(found.commission),
        "net_pnl": money(found.net_pnl),
        "max_drawdown": money(found.max_drawdown),
        "max_drawdown_pct": found.max_drawdown_pct,
        "max_drawdown_duration_seconds": drawdown.duration.total_seconds() if drawdown else None,
        "sharpe": found.sharpe,
        "sortino": found.sortino,
        "calmar": found.calmar,
        "annual_return_pct": found.annual_return_pct,
        "longest_win_streak": found.longest_win_streak,
        "longest_loss_streak": found.longest_loss_streak,
        "avg_hold_seconds": found.avg_hold_seconds,
        "best_day": _day(found.best_day),
        "worst_day": _day(found.worst_day),
        "execution_trades": execution.trades,
        "avg_slippage_ticks": execution.avg_slippage_ticks,
        "slippage": money(execution.slippage),
        "avg_fill_delay_ms": execution.avg_fill_delay_ms,
        "max_fill_delay_ms": execution.max_fill_delay_ms,
        "excursion_trades": execution.excursion_trades,
        "avg_mae": money(execution.avg_mae),
        "avg_mfe": money(execution.avg_mfe),
        "equity_curve": [
            [iso(time), money(equity)]
            for time, equity in zip(found.curve_times, found.curve_equity, strict=True)
        ],
    }


def _day(day: DayPnl | None) -> dict | None:
    return {"day": day.day.isoformat(), "pnl": money(day.pnl)} if day else None
