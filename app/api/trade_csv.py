"""The journal export's CSV form (DESIGN §5.4): one line per trade, the columns exactly as
the contract lists them, values as the JSON API writes them."""

import csv
import io
from collections.abc import Iterable, Iterator

from app.api.serialize import decimal, iso, money
from app.services.insight.trade_export import ExportRow

COLUMNS = (
    "id,account,strategy,symbol,side,qty,entry_time,entry_price,exit_time,exit_price,"
    "gross_pnl,commission,pnl,exit_reason,tags,notes"
).split(",")

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV
# injection"); a leading ' makes it text. Only free text is guarded: a negative amount
# such as -12.50 is a number and stays one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_row(row: ExportRow) -> list[str | int | None]:
    trade = row.trade
    return [
        trade.id,
        text_cell(row.account),
        text_cell(row.strategy),
        text_cell(trade.symbol),
        trade.side,
        trade.quantity,
        iso(trade.entry_time),
        decimal(trade.entry_price),
        iso(trade.exit_time),
        decimal(trade.exit_price),
        money(trade.gross_pnl),
        money(trade.commission),
        money(trade.pnl),
        trade.exit_reason,
        text_cell(";".join(trade.tags or [])),
        text_cell(trade.notes),
    ]


def csv_lines(pages: Iterable[list[ExportRow]]) -> Iterator[str]:
    """The header, then each page's lines as one chunk of the streamed answer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes a cell holding a comma, quote or line break
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_row(row) for row in page)
        yield buffer.getvalue()
