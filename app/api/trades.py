"""/api/trades: closed round trips with exact P&L (net of commission), their journal
(notes, tags, rating) and the streamed export."""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from sqlalchemy import select

from app.api.params import int_arg, time_arg
from app.api.schemas import TradeJournal, parse_body
from app.api.serialize import decimal, iso, money
from app.api.traces import alert_json, fill_step_json, order_step_json, slippage_json, stage_json
from app.api.trade_csv import csv_lines
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import Trade
from app.services.insight import journal
from app.services.insight.trade_export import ExportRow, exported
from app.services.insight.trade_filters import TradeFilters
from app.services.ledger import trace as ledger_trace
from app.services.ledger import trades as ledger_trades

bp = Blueprint("trades", __name__, url_prefix="/trades")

PAGE_SIZE = 200


def exit_json(share: ledger_trades.ExitShare) -> dict:
    return {
        "qty": share.qty,
        "price": decimal(share.price),
        "exit_reason": share.exit_reason,
        "target": share.target,
        "gross_pnl": money(share.gross_pnl),
        "commission": money(share.commission),
        "pnl": money(share.pnl),
        "time": iso(share.time),
        "order_id": share.order_id,
    }


def trade_json(trade: Trade, exits: list[ledger_trades.ExitShare]) -> dict:
    return {
        "id": trade.id,
        "account_id": trade.account_id,
        "strategy_id": trade.strategy_id,
        "symbol": trade.symbol,
        "side": trade.side,
        "qty": trade.quantity,
        "entry_price": decimal(trade.entry_price),
        "exit_price": decimal(trade.exit_price),
        "gross_pnl": money(trade.gross_pnl),
        "commission": money(trade.commission),
        "pnl": money(trade.pnl),
        "exit_reason": trade.exit_reason,
        "entry_time": iso(trade.entry_time),
        "exit_time": iso(trade.exit_time),
        "notes": trade.notes,
        "tags": trade.tags or [],
        "rating": trade.rating,
        # From the bars once they are in (services/insight/excursions); null until then.
        "mae": money(trade.mae),
        "mfe": money(trade.mfe),
        "exits": [exit_json(share) for share in exits],
    }


def trace_json(trace: ledger_trace.TradeTrace) -> dict:
    """The trade and its whole path (DESIGN §5.4 `GET /api/trades/<id>`)."""
    return (
        trade_json(trace.trade, trace.exits)
        | {
            "alert": alert_json(trace.alert) if trace.alert is not None else None,
            "alerts": [alert_json(step) for step in trace.alerts],
            "orders": [order_step_json(step) for step in trace.orders],
            "fills": [fill_step_json(step) for step in trace.fills],
            "stages": [stage_json(stage) for stage in trace.stages],
            "alert_to_fill_ms": trace.alert_to_fill_ms,
        }
        | slippage_json(trace.slippage)
    )


@bp.get("")
def list_trades():
    query = select(Trade).order_by(Trade.id.desc()).limit(PAGE_SIZE)
    for name, column in (("account_id", Trade.account_id), ("strategy_id", Trade.strategy_id)):
        value = int_arg(name)
        if value is not None:
            query = query.where(column == value)
    if request.args.get("symbol"):
        query = query.where(Trade.symbol == request.args["symbol"].upper())
    since, before = time_arg("since"), int_arg("before")
    if since is not None:
        query = query.where(Trade.exit_time >= since)
    if before is not None:
        query = query.where(Trade.id < before)
    found = list(db.session.scalars(query))
    exits = ledger_trades.exits_of(found)
    body: dict = {"items": [trade_json(t, exits[t.id]) for t in found]}
    if len(found) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.trades.list_trades", before=found[-1].id, **args)
    return jsonify(body)


@bp.get("/<id:trade_id>")
def get_trade(trade_id: int):
    trace = ledger_trace.trade_trace(trade_id)
    if trace is None:
        raise NotFound(f"No trade with id {trade_id}.")
    return jsonify(trace_json(trace))


@bp.patch("/<id:trade_id>")
def annotate_trade(trade_id: int):
    """The journal: notes, tags and a 1-5 rating; a field left out stays, null clears it."""
    trade = journal.annotate(trade_id, parse_body(TradeJournal))
    return jsonify(trade_json(trade, ledger_trades.exits_of([trade])[trade.id]))


# Flask adds "; charset=utf-8" to text types itself.
EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


@bp.get("/export")
def export_trades():
    """The selected trades streamed as CSV or as a JSON array of `GET /api/trades` items;
    the filters are checked before the first byte, so a bad one is still a 400."""
    kind = request.args.get("format", "csv")
    if kind not in EXPORT_TYPES:
        raise InvalidInput("format must be csv or json.", {"format": "must be csv or json"})
    pages = exported(export_filters())
    body = csv_lines(pages) if kind == "csv" else json_array(pages)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(body),
        mimetype=EXPORT_TYPES[kind],
        headers={"Content-Disposition": f"attachment; filename=trades-{stamp}.{kind}"},
    )


def export_filters() -> TradeFilters:
    tag = (request.args.get("tag") or "").strip() or None
    return TradeFilters(
        account_id=int_arg("account_id"),
        strategy_id=int_arg("strategy_id"),
        symbol=(request.args.get("symbol") or "").strip() or None,
        start=time_arg("start"),
        end=time_arg("end"),
        tag=tag,
    )


def json_array(pages: Iterable[list[ExportRow]]) -> Iterator[str]:
    """`[`, the items a page at a time, `]`: valid JSON whether or not any trade matched."""
    yield "["
    separator = ""
    for page in pages:
        for row in page:
            yield separator + current_app.json.dumps(trade_json(row.trade, row.exits))
            separator = ","
    yield "]"
