"""The trade journal and export (DESIGN §5.4): PATCH /api/trades/<id> keeps the trader's
notes, tags and rating; GET /api/trades/export streams the selected trades as CSV or JSON,
the same trades and values as GET /api/trades."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from app.models import AuditEntry, Trade

CSV_HEADER = (
    "id,account,strategy,symbol,side,qty,entry_time,entry_price,exit_time,exit_price,"
    "gross_pnl,commission,pnl,exit_reason,tags,notes"
)
T0 = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def trade_row(account_id, strategy_id, n, symbol="MESZ6", **fields):
    """A closed long of one contract: +n points at $5, $1.24 commission."""
    gross = Decimal(5 * n)
    return {
        "account_id": account_id,
        "strategy_id": strategy_id,
        "symbol": symbol,
        "side": "long",
        "quantity": 1,
        "entry_price": Decimal("6000.25"),
        "exit_price": Decimal("6000.25") + n,
        "entry_time": T0 + timedelta(minutes=n),
        "exit_time": T0 + timedelta(minutes=n, seconds=30),
        "gross_pnl": gross,
        "commission": Decimal("1.24"),
        "pnl": gross - Decimal("1.24"),
        "exit_reason": "signal",
        **fields,
    }


def add_trades(app, rows):
    with app.app_context():
        db.session.execute(insert(Trade), rows)
        db.session.commit()
        return list(db.session.scalars(select(Trade.id).order_by(Trade.id)))


@pytest.fixture
def desk(app, make_account, make_strategy):
    """Two accounts and a strategy; four MES trades, one of them short-dated MESH7, and
    one MNQ trade on the second account."""
    first = make_account("Paper, main", starting_balance="10000")
    second = make_account("=Evil", starting_balance="10000")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    rows = [
        trade_row(first["id"], strategy["id"], -3),
        trade_row(first["id"], strategy["id"], 2, notes='calm, "clean" entry'),
        trade_row(first["id"], None, 4, symbol="MESH7", tags=["fomo", "news"]),
        trade_row(first["id"], strategy["id"], 1, tags=["news"]),
        trade_row(second["id"], None, 5, symbol="MNQZ6"),
    ]
    ids = add_trades(app, rows)
    return {"first": first, "second": second, "strategy": strategy, "ids": ids}


def patch(api, trade_id, body):
    return api.call("PATCH", f"/api/trades/{trade_id}", body)


def export(api, **args):
    query = "&".join(f"{key}={value}" for key, value in args.items())
    return api.get(f"/api/trades/export?{query}")


def csv_of(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# -- the journal ---------------------------------------------------------------------------


def test_the_journal_round_trips_trimmed_distinct_tags_and_clears(app, api, desk):
    trade_id = desk["ids"][0]
    body = {"notes": "  Late entry.  ", "tags": [" fomo", "late", "fomo ", "late"], "rating": 2}
    answer = patch(api, trade_id, body)
    assert answer.status_code == 200, answer.get_json()
    trade = answer.get_json()
    assert (trade["notes"], trade["tags"], trade["rating"]) == ("Late entry.", ["fomo", "late"], 2)
    assert api.get(f"/api/trades/{trade_id}").get_json()["tags"] == ["fomo", "late"]
    # A field left out stays; null (or an empty list) clears.
    kept = patch(api, trade_id, {"rating": None}).get_json()
    assert (kept["notes"], kept["tags"], kept["rating"]) == ("Late entry.", ["fomo", "late"], None)
    cleared = patch(api, trade_id, {"notes": "", "tags": []}).get_json()
    assert (cleared["notes"], cleared["tags"]) == (None, [])
    # Nothing asked, or what is already there: answered, and nothing to record.
    assert patch(api, trade_id, {}).status_code == 200
    assert patch(api, trade_id, {"notes": None, "tags": []}).status_code == 200
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.message == f"trade {trade_id} journal updated")
        ).all()
    assert len(entries) == 3
    assert entries[0].data["rating"] == [None, 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({"notes": "x" * 5001}, "notes"),
        ({"notes": 7}, "notes"),
        ({"tags": "fomo"}, "tags"),
        ({"tags": ["ok", "  "]}, "tags.1"),
        ({"tags": ["x" * 41]}, "tags.0"),
        ({"tags": ["a;b"]}, "tags.0"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"pnl": "1000"}, "pnl"),
    ],
)
def test_bad_journal_entries_are_400_with_the_field(api, desk, body, field):
    response = patch(api, desk["ids"][0], body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_journaling_an_unknown_trade_is_404(api, desk):
    assert patch(api, 999999, {"rating": 3}).status_code == 404


# -- the export ----------------------------------------------------------------------------


def test_the_csv_export_has_the_contract_columns_and_the_api_s_values(api, desk):
    response = export(api, format="csv", account_id=desk["first"]["id"])
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=trades-")
    assert disposition.endswith("Z.csv")
    lines = csv_of(response)
    assert ",".join(lines[0]) == CSV_HEADER
    listed = api.get(f"/api/trades?account_id={desk['first']['id']}").get_json()["items"]
    assert [int(line[0]) for line in lines[1:]] == [item["id"] for item in listed]
    first = desk["ids"]
    assert lines[1:] == [
        [str(first[3]), "Paper, main", "Trend", "MESZ6", "long", "1", "2026-11-02T14:31:00Z",
         "6000.25", "2026-11-02T14:31:30Z", "6001.25", "5.00", "1.24", "3.76", "signal",
         "news", ""],
        [str(first[2]), "Paper, main", "", "MESH7", "long", "1", "2026-11-02T14:34:00Z",
         "6000.25", "2026-11-02T14:34:30Z", "6004.25", "20.00", "1.24", "18.76", "signal",
         "fomo;news", ""],
        [str(first[1]), "Paper, main", "Trend", "MESZ6", "long", "1", "2026-11-02T14:32:00Z",
         "6000.25", "2026-11-02T14:32:30Z", "6002.25", "10.00", "1.24", "8.76", "signal",
         "", 'calm, "clean" entry'],
        [str(first[0]), "Paper, main", "Trend", "MESZ6", "long", "1", "2026-11-02T14:27:00Z",
         "6000.25", "2026-11-02T14:27:30Z", "5997.25", "-15.00", "1.24", "-16.24", "signal",
         "", ""],
    ]  # fmt: skip
    for line, item in zip(lines[1:], listed, strict=True):
        assert line[6:14] == [item["entry_time"], item["entry_price"], item["exit_time"],
                              item["exit_price"], item["gross_pnl"], item["commission"],
                              item["pnl"], item["exit_reason"]]  # fmt: skip
    # Proper quoting: the comma and the quotes survive as one cell each.
    assert '"calm, ""clean"" entry"' in response.get_data(as_text=True)


def test_formula_looking_text_cells_are_neutralised(api, desk):
    trade_id = desk["ids"][4]
    patch(api, trade_id, {"notes": '=HYPERLINK("http://x")', "tags": ["+1", "@me", "-ok"]})
    lines = csv_of(export(api, account_id=desk["second"]["id"]))
    assert len(lines) == 2
    row = dict(zip(lines[0], lines[1], strict=True))
    assert row["notes"] == '\'=HYPERLINK("http://x")'
    assert row["tags"] == "'+1;@me;-ok"
    assert row["account"] == "'=Evil"
    # Numbers keep their sign: only free text is guarded.
    assert row["pnl"] == "23.76"
    negative = csv_of(export(api, account_id=desk["first"]["id"]))[-1]
    assert negative[12] == "-16.24"


def test_the_json_export_is_the_list_s_items(api, desk):
    response = export(api, format="json", strategy_id=desk["strategy"]["id"])
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Disposition"].endswith(".json")
    listed = api.get(f"/api/trades?strategy_id={desk['strategy']['id']}").get_json()["items"]
    assert json.loads(response.get_data(as_text=True)) == listed
    assert len(listed) == 3


def test_an_empty_json_export_is_an_empty_array(api, desk):
    response = export(api, format="json", tag="nothing-has-it")
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True)) == []
    assert csv_of(export(api, format="csv", tag="nothing-has-it")) == [CSV_HEADER.split(",")]


def test_the_symbol_filter_takes_every_contract_of_the_product(api, desk):
    ids = desk["ids"]
    for symbol in ("MES1!", "MES", "MESZ6"):
        lines = csv_of(export(api, symbol=symbol))
        assert [int(line[0]) for line in lines[1:]] == [ids[3], ids[2], ids[1], ids[0]]
    lines = csv_of(export(api, symbol="MNQ1!"))
    assert [int(line[0]) for line in lines[1:]] == [ids[4]]


def test_the_tag_and_time_filters(api, desk):
    ids = desk["ids"]
    tagged = json.loads(export(api, format="json", tag="news").get_data(as_text=True))
    assert [item["id"] for item in tagged] == [ids[3], ids[2]]
    fomo = json.loads(export(api, format="json", tag="fomo").get_data(as_text=True))
    assert [item["id"] for item in fomo] == [ids[2]]
    window = export(api, format="json", start="2026-11-02T14:31:30Z", end="2026-11-02T14:34:30Z")
    # Exit times inclusive at both ends: the trades of +1, +2 and +4 points.
    assert [item["id"] for item in json.loads(window.get_data(as_text=True))] == ids[1:4][::-1]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"account_id": "abc"}, "account_id"),
        ({"strategy_id": "-1"}, "strategy_id"),
        ({"symbol": "NOPE1!"}, "symbol"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),
        ({"tag": "x" * 41}, "tag"),
    ],
)
def test_bad_export_filters_are_400_with_the_field(api, desk, args, field):
    response = export(api, **args)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]


def test_a_few_thousand_trades_stream_out_whole(app, api, desk):
    account_id = desk["second"]["id"]
    count = 3_200  # several pages of the export
    add_trades(app, [trade_row(account_id, None, n % 50, symbol="MNQZ6") for n in range(count)])
    response = export(api, account_id=account_id)
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) > 3  # the header, then a chunk a page: not one body built whole
    lines = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(lines) == 1 + count + 1  # the header, the bulk and the fixture's trade
    ids = [int(line[0]) for line in lines[1:]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
    as_json = json.loads(export(api, format="json", account_id=account_id).get_data(as_text=True))
    assert [item["id"] for item in as_json] == ids


def test_the_trades_page_links_the_export_with_its_filter(auth, client, desk):
    auth.login()
    account_id = desk["first"]["id"]
    page = client.get(f"/trades?account_id={account_id}").get_data(as_text=True)
    for kind in ("csv", "json"):
        link = f'href="/api/trades/export?format={kind}&amp;account_id={account_id}"'
        assert link in page
    download = client.get(f"/api/trades/export?format=csv&account_id={account_id}")
    assert download.status_code == 200  # the session is enough for a GET
    assert len(csv_of(download)) == 5
