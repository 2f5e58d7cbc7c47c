"""/api/replay: a strategy's recorded alerts run again on the recorded bars, with other
exits, quantity or risk limits, beside what actually happened (DESIGN §5.4)."""

from flask import Blueprint, jsonify

from app.api.schemas import ReplayRequest, parse_body
from app.api.serialize import decimal, iso, metrics_json, money
from app.services.insight.replay import Performance, ReplayAnswer, TradeLine, replay_of

bp = Blueprint("replay", __name__, url_prefix="/replay")


@bp.post("")
def run_replay():
    """`{actual, replay}`, each the analytics fields of `GET /api/analytics` with `trades`
    the list of its closed trades; beside them the alerts replayed, those `skipped` (with
    why), the `gaps` in the bars the replay needed, and positions still open at the end.
    Nothing is sent to an account's broker; no order, fill, position or trade row is made."""
    fields = parse_body(ReplayRequest)
    found = replay_of(
        fields["strategy_id"], fields.get("start"), fields.get("end"), fields.get("overrides") or {}
    )
    return jsonify(answer_json(found))


def answer_json(found: ReplayAnswer) -> dict:
    return {
        "actual": _side(found.actual),
        "replay": _side(found.replay),
        "alerts": found.alerts,
        "skipped": [
            {"alert_id": s.alert_id, "time": iso(s.time), "reason": s.reason} for s in found.skipped
        ],
        "gaps": [
            {"symbol": gap.symbol, "start": iso(gap.start), "end": iso(gap.end)}
            for gap in found.gaps
        ],
        "open_positions": [
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_price": decimal(p.avg_price),
                "mark": decimal(p.mark),
            }
            for p in found.open_positions
        ],
    }


def _side(side: Performance) -> dict:
    return metrics_json(side.metrics) | {"trades": [_trade(line) for line in side.trades]}


def _trade(line: TradeLine) -> dict:
    return {
        "id": line.id,
        "alert_id": line.alert_id,
        "symbol": line.symbol,
        "side": line.side,
        "qty": line.qty,
        "entry_time": iso(line.entry_time),
        "exit_time": iso(line.exit_time),
        "entry_price": decimal(line.entry_price),
        "exit_price": decimal(line.exit_price),
        "gross_pnl": money(line.gross_pnl),
        "commission": money(line.commission),
        "pnl": money(line.pnl),
        "exit_reason": line.exit_reason,
    }
