"""POST /api/replay (DESIGN §5.4): alerts recorded through the real webhook on a paper
account, bars imported through the API, the replay run with and without overrides beside
what actually happened — and nothing written to the account by it."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Fill, Order, Position, Trade
from app.services.market import bars, prices
from tests.conftest import front

# The designed path (minutes after the first bar): long 2 MES at 5000.00 with the
# strategy's 10-point stop and target; it dips to 4995.00, then rallies to 5010.00.
DESIGNED_PATH = [
    ("5000.00", "5001.00", "4999.00", "5000.50"),
    ("4999.00", "4999.50", "4995.00", "4997.00"),
    ("4997.00", "4998.00", "4996.50", "4997.50"),
    ("4998.00", "5006.00", "4997.75", "5005.00"),
    ("5005.00", "5010.00", "5004.50", "5009.00"),
    ("5009.00", "5011.00", "5008.00", "5010.50"),
]


@pytest.fixture
def desk(app, api, make_account, make_strategy):
    """A paper account and a strategy routed to it that trades 2 MES with a 10-point stop
    and a 10-point target; `alert` sends a webhook, `price` moves the paper market."""
    account = make_account("Paper", starting_balance="10000")
    strategy = make_strategy(
        "Trend",
        symbol="MES1!",
        quantity=2,
        stop_loss={"points": 10},
        take_profit={"points": 10},
    )
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    class Desk:
        def price(self, value: str) -> None:
            with app.app_context():
                prices.update(front("MES"), Decimal(value), datetime.now(UTC), "test")

        def alert(self, **payload) -> dict:
            response = api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps({"symbol": "MES1!", **payload}),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def import_bars(self, first: datetime, path=DESIGNED_PATH) -> None:
            items = [
                {"time": (first + timedelta(minutes=n)).isoformat(), "open": o, "high": h,
                 "low": low, "close": c, "volume": 10}
                for n, (o, h, low, c) in enumerate(path)
            ]  # fmt: skip
            body = {"symbol": "MES1!", "timeframe": "1m", "items": items}
            assert api.post("/api/bars/import", body).get_json()["skipped"] == 0

    found = Desk()
    found.account, found.strategy = account, strategy
    return found


@pytest.fixture
def recorded(desk):
    """The actual trade: bought 2 at 5000.00, out at the 5010.00 target (+$100); then the
    designed path's bars from the third minute after the alert."""
    desk.price("5000.00")
    event = desk.alert(action="buy", price="5000.00")
    desk.price("4995.00")
    desk.price("5010.00")
    bars.book.clear()  # this process's live minute is no recorded bar
    first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3)
    desk.import_bars(first)
    desk.first_bar, desk.event_id = first, event["event_id"]
    return desk


def replayed(api, desk, **body):
    end = (desk.first_bar + timedelta(hours=1)).isoformat()
    response = api.post("/api/replay", {"strategy_id": desk.strategy["id"], "end": end, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows(app) -> dict:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Order, Fill, Position, Trade)
        }


def test_without_overrides_the_replay_repeats_the_actual_trade(app, api, recorded):
    before = rows(app)

    answer = replayed(api, recorded)

    assert rows(app) == before  # nothing written to the account
    (actual,) = answer["actual"]["trades"]
    assert (actual["entry_price"], actual["exit_price"], actual["pnl"]) == (
        "5000", "5010", "100.00"
    )  # fmt: skip
    (trade,) = answer["replay"]["trades"]
    assert trade["alert_id"] == recorded.event_id
    assert (trade["entry_price"], trade["exit_price"], trade["pnl"]) == (
        "5000", "5010", "100.00"
    )  # fmt: skip
    assert trade["exit_reason"] == "take_profit"
    assert trade["entry_time"] == recorded.first_bar.isoformat().replace("+00:00", "Z")
    assert answer["alerts"] == 1
    assert answer["skipped"] == [] and answer["gaps"] == [] and answer["open_positions"] == []
    for side in ("actual", "replay"):
        assert Decimal(answer[side]["net_pnl"]) == 100
        assert answer[side]["win_rate"] == 100.0
        assert Decimal(answer[side]["equity_curve"][-1][1]) == 10100


def test_a_tighter_stop_loses_20_dollars_a_contract_on_the_designed_path(app, api, recorded):
    before = rows(app)

    answer = replayed(api, recorded, overrides={"stop_loss": {"points": 4}})

    assert rows(app) == before
    assert Decimal(answer["actual"]["net_pnl"]) == 100  # what happened is unchanged
    (trade,) = answer["replay"]["trades"]
    assert (trade["exit_price"], trade["pnl"], trade["exit_reason"]) == (
        "4996", "-40.00", "stop_loss"
    )  # fmt: skip
    assert Decimal(answer["replay"]["net_pnl"]) == -40
    assert Decimal(answer["replay"]["max_drawdown"]) == 40
    assert [(time, Decimal(equity)) for time, equity in answer["replay"]["equity_curve"]] == [
        (recorded.first_bar.isoformat().replace("+00:00", "Z"), 10000),
        ((recorded.first_bar + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"), 9960),
    ]


def test_quantity_and_exits_can_be_overridden_together(api, recorded):
    overrides = {"quantity": 1, "take_profit": None, "stop_loss": None, "trailing_stop": 3}

    answer = replayed(api, recorded, overrides=overrides)

    # The trail starts at the first print after the fill (the 4999.00 low: stop 4996.00),
    # follows the 5001.00 high to 4998.00, and the next bar's dip to 4995.00 passes it.
    (trade,) = answer["replay"]["trades"]
    assert trade["qty"] == 1 and trade["exit_reason"] == "trailing_stop"
    assert (trade["exit_price"], trade["pnl"]) == ("4998", "-10.00")


def test_risk_limits_skip_the_alert_with_the_reason(api, recorded):
    answer = replayed(api, recorded, overrides={"max_contracts_per_order": 1})

    assert answer["replay"]["trades"] == [] and len(answer["actual"]["trades"]) == 1
    (skipped,) = answer["skipped"]
    assert skipped["alert_id"] == recorded.event_id
    assert skipped["reason"].startswith("risk: 2 contracts exceed the limit of 1")


def test_a_risk_mode_sizes_from_the_balance_and_the_exposure_limit_applies(api, recorded):
    # moderate: $10,000 x 2 % = $200 over the 10-point stop's 40 ticks x $1.25 = 4 MES
    sized = replayed(api, recorded, overrides={"risk_mode": "moderate"})
    # 4 MES at the 5000.00 open: 4 x 5000 x $5 = $100,000 of exposure
    limited = replayed(api, recorded, overrides={"risk_mode": "moderate", "max_exposure": "60000"})

    (trade,) = sized["replay"]["trades"]
    assert (trade["qty"], trade["exit_reason"], trade["pnl"]) == (4, "take_profit", "200.00")
    assert limited["replay"]["trades"] == []
    assert limited["skipped"][0]["reason"] == (
        "risk: max_exposure: total exposure would be 100000.00, beyond the limit of 60000.00"
    )


def test_bars_missing_after_an_alert_are_reported_not_invented(api, recorded):
    end = recorded.first_bar - timedelta(seconds=1)  # before any bar
    response = api.post(
        "/api/replay", {"strategy_id": recorded.strategy["id"], "end": end.isoformat()}
    )

    answer = response.get_json()
    assert answer["replay"]["trades"] == []
    (skipped,) = answer["skipped"]
    assert skipped["reason"].startswith(f"no bars recorded for {front('MES')}")
    (gap,) = answer["gaps"]
    assert gap["symbol"] == front("MES") and gap["end"] is None


def test_a_period_without_alerts_answers_empty_sides(api, recorded):
    start = (recorded.first_bar + timedelta(days=1)).isoformat()
    response = api.post("/api/replay", {"strategy_id": recorded.strategy["id"], "start": start})

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["alerts"] == 0
    assert answer["actual"]["trades"] == [] and answer["replay"]["trades"] == []
    assert Decimal(answer["replay"]["net_pnl"]) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "strategy_id"),
        ({"strategy_id": "x"}, "strategy_id"),
        ({"strategy_id": 1, "start": "yesterday"}, "start"),
        ({"strategy_id": 1, "overrides": {"stop_loss": {"pips": 4}}}, "overrides.stop_loss"),
        ({"strategy_id": 1, "overrides": {"quantity": 0}}, "overrides.quantity"),
        ({"strategy_id": 1, "overrides": {"max_daily_loss": -5}}, "overrides.max_daily_loss"),
        ({"strategy_id": 1, "overrides": {"account_id": 1}}, "overrides.account_id"),
        ({"strategy_id": 1, "overrides": {"risk_mode": "bold"}}, "overrides.risk_mode"),
        ({"strategy_id": 1, "overrides": {"max_exposure": 0}}, "overrides.max_exposure"),
        (
            {"strategy_id": 1, "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "body",
        ),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api, body, field):
    response = api.post("/api/replay", body)

    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_an_unknown_strategy_is_404(api):
    response = api.post("/api/replay", {"strategy_id": 999})

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_replay_is_in_the_openapi_document(api):
    document = api.get("/api/openapi.json").get_json()

    operation = document["paths"]["/api/replay"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ReplayRequest")


def test_the_actual_side_is_what_get_api_analytics_answers(api, recorded):
    end = (recorded.first_bar + timedelta(hours=1)).isoformat().replace("+00:00", "Z")

    answer = replayed(api, recorded)
    analytics = api.get(f"/api/analytics?strategy_id={recorded.strategy['id']}&end={end}")

    expected = analytics.get_json()
    assert expected["trades"] == len(answer["actual"]["trades"]) == 1
    assert {**answer["actual"], "trades": 1} == expected
    assert set(answer["replay"]) == set(expected)


def test_each_trader_is_replayed_with_its_own_size_as_actual_reads_them(
    app, api, desk, make_account
):
    """Two accounts on the strategy, one at its 2 contracts and one at a fixed 1: the
    replay runs each on its own venue, so without overrides it repeats both trades, and a
    tighter stop costs each its own size ($20 a contract)."""
    second = make_account("Paper 2", starting_balance="5000")
    api.post(
        "/api/traders",
        {"strategy_id": desk.strategy["id"], "account_id": second["id"], "fixed_quantity": 1},
    )
    desk.price("5000.00")
    desk.alert(action="buy", price="5000.00")
    desk.price("4995.00")
    desk.price("5010.00")
    bars.book.clear()
    desk.first_bar = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3)
    desk.import_bars(desk.first_bar)

    same = replayed(api, desk)
    tighter = replayed(api, desk, overrides={"stop_loss": {"points": 4}})

    def sized(side: dict) -> list[tuple[int, str]]:
        return sorted((t["qty"], t["pnl"]) for t in side["trades"])

    assert sized(same["actual"]) == [(1, "50.00"), (2, "100.00")]
    assert sized(same["replay"]) == sized(same["actual"])
    assert Decimal(same["replay"]["net_pnl"]) == Decimal(same["actual"]["net_pnl"]) == 150
    assert sized(tighter["replay"]) == [(1, "-20.00"), (2, "-40.00")]
    assert Decimal(tighter["replay"]["net_pnl"]) == -60
    assert tighter["alerts"] == 1 and tighter["skipped"] == [] and tighter["gaps"] == []
