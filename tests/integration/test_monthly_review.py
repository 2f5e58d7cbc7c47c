"""The monthly review (issue 16 item 7): GET /api/analytics/monthly-review compares a
month's trades per strategy with the month before — alert trades on paper with a tick of
slippage this month, ledger rows last month — names the best and worst trades and what
changed; and on the first of the month the review goes once through the outbox to the
owner's outgoing webhook (a receiver on 127.0.0.1), not again after a restart."""

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from app import create_app
from app.domain.analytics import trading_day_name
from app.domain.monthly_review import Month
from app.extensions import db
from app.models import User
from app.services.market import prices
from app.services.notify import delivery, monthly, outbox
from app.workers import monthly_review as monthly_job
from tests.conftest import add_month_of_trades, front, make_config


def this_month() -> Month:
    return Month.of(trading_day_name(datetime.now(UTC)))


def add_trades(app, account: dict, strategy: dict, month: Month, pnls: list[str]) -> None:
    add_month_of_trades(app, account["id"], strategy["id"], month, pnls)


@pytest.fixture
def desk(app, api, make_account, make_strategy):
    app.config["PAPER_SLIPPAGE_TICKS"] = 1  # every market fill one tick against the trader
    account = make_account("Paper", starting_balance="10000")
    trend = make_strategy("Trend", symbol="MES1!", quantity=1)
    idle = make_strategy("Idle", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": trend["id"], "account_id": account["id"]})
    return account, trend, idle


def alert(client, strategy: dict, action: str, price: str, n: int) -> None:
    prices.update(front("MES"), Decimal(price), datetime.now(UTC), "test")
    response = client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", "action": action, "price": price, "id": f"a-{n}"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()


def figures(review: dict) -> dict:
    return {item["figure"]: item for item in review["figures"]}


def test_a_month_is_compared_with_the_one_before(app, api, client, desk):
    account, trend, idle = desk
    month = this_month()
    add_trades(app, account, trend, month.previous(), ["50", "-10", "30", "20"])
    # This month on paper, each fill a tick (0.25, $1.25) worse than the alert's price:
    # 6000.25 → 6003.75 is +$17.50, 6000.25 → 5997.75 is −$12.50.
    path = [("buy", "6000"), ("sell", "6004"), ("buy", "6000"), ("sell", "5998")]
    for n, (action, price) in enumerate(path):
        alert(client, trend, action, price, n)
    assert api.put(f"/api/strategies/{trend['id']}", {"quantity": 2}).status_code == 200

    response = api.get(f"/api/analytics/monthly-review?month={month}&strategy_id={trend['id']}")

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["month"] == str(month) and answer["previous_month"] == str(month.previous())
    assert answer["start"] == month.opens().isoformat().replace("+00:00", "Z")
    [review] = answer["reviews"]
    assert review["strategy_id"] == trend["id"] and review["name"] == "Trend"
    found = figures(review)
    assert [found["trades"][k] for k in ("current", "previous", "change")] == [2, 4, -2]
    assert [found["win_rate"][k] for k in ("current", "previous", "change")] == [50.0, 75.0, -25.0]
    assert found["win_rate"]["verdict"] == "worse"
    assert [found["net_pnl"][k] for k in ("current", "previous", "change")] == [
        "5.00",
        "90.00",
        "-85.00",
    ]
    assert found["profit_factor"]["current"] == 1.4 and found["profit_factor"]["previous"] == 10.0
    assert found["expectancy"]["current"] == "2.50" and found["expectancy"]["previous"] == "22.50"
    assert (
        found["max_drawdown"]["current"] == "12.50" and found["max_drawdown"]["previous"] == "10.00"
    )
    assert found["max_drawdown"]["verdict"] == "worse"
    # Both entries this month filled a tick against the alert's price; last month's trades
    # (written without alerts) have none.
    assert Decimal(found["avg_slippage_ticks"]["current"]) == 1
    assert found["avg_slippage_ticks"]["previous"] is None
    assert found["avg_slippage_ticks"]["change"] is None
    assert review["best_trade"]["pnl"] == "17.50" and review["best_trade"]["side"] == "long"
    assert review["worst_trade"]["pnl"] == "-12.50"
    assert api.get(f"/api/trades/{review['best_trade']['id']}").status_code == 200
    # Created, routed to the account and changed this month; only the change is a diff.
    changes = review["settings_changes"]
    assert [c["message"] for c in changes] == [
        "strategy 'Trend' created",
        f"trader {changes[1]['message'].split()[1]} created: strategy 'Trend' on account 'Paper'",
        "strategy 'Trend' updated",
    ]
    assert [c["fields"] for c in changes] == [{}, {}, {"quantity": [1, 2]}]
    assert [s["text"] for s in review["shifts"]] == [
        "Win rate down 25 points (75 % → 50 %).",
        "Fewer trades: 2, after 4.",
    ]

    everyone = api.get(f"/api/analytics/monthly-review?month={month}").get_json()["reviews"]
    # All strategies first, then each that traded or changed (Idle was created this month).
    assert [r["name"] for r in everyone] == ["All strategies", "Idle", "Trend"]
    assert everyone[0]["strategy_id"] is None
    assert figures(everyone[0])["net_pnl"]["current"] == "5.00"
    assert everyone[2] == review
    earlier = api.get(f"/api/analytics/monthly-review?month={month.previous()}").get_json()
    assert [r["name"] for r in earlier["reviews"]] == ["All strategies", "Trend"]  # Idle: nothing
    idle_review = api.get(f"/api/analytics/monthly-review?month={month}&strategy_id={idle['id']}")
    [quiet] = idle_review.get_json()["reviews"]
    assert figures(quiet)["trades"]["current"] == 0 and quiet["best_trade"] is None
    assert quiet["shifts"] == []
    assert [c["message"] for c in quiet["settings_changes"]] == ["strategy 'Idle' created"]


@pytest.mark.parametrize(
    "query", ["", "?month=", "?month=2026-13", "?month=2026-1", "?month=11-2026", "?month=0001-01"]
)
def test_a_bad_month_is_a_400_naming_it(api, query):
    response = api.get(f"/api/analytics/monthly-review{query}")
    assert response.status_code == 400
    assert "month" in response.get_json()["error"]["fields"]


def test_an_unknown_strategy_is_a_404(api):
    response = api.get("/api/analytics/monthly-review?month=2026-11&strategy_id=999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_route_is_in_the_openapi_document(api):
    document = api.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/analytics/monthly-review"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"month", "strategy_id"} <= names


@pytest.mark.parametrize(
    ("zone", "clock", "due"),
    [
        # No daily summary time: 09:00 local on the first.
        ("UTC", None, datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("America/New_York", time(7, 30), datetime(2026, 12, 1, 12, 30, tzinfo=UTC)),
        # UTC+14: the first begins before November's last trading day has closed (23:00
        # UTC on the 30th), so the review waits for the close.
        ("Pacific/Kiritimati", time(0, 30), datetime(2026, 11, 30, 23, 0, tzinfo=UTC)),
    ],
)
def test_the_review_is_due_on_the_first_at_the_owner_s_time(zone, clock, due):
    owner = User(timezone=zone, daily_summary_time=clock)
    month, at = monthly.due_at(due + timedelta(hours=1), owner)
    assert (month, at) == (Month(2026, 11), due)


def test_the_review_is_sent_once_on_the_first_of_the_month(app, api, tmp_path, desk, hooked):
    account, trend, _ = desk
    month = this_month().previous()
    add_trades(app, account, trend, month, ["40", "-15"])
    add_trades(app, account, trend, month.previous(), ["10"])
    api.put("/api/settings", {"timezone": "UTC", "daily_summary_time": None})
    first = datetime(month.following().year, month.following().month, 1, 9, 0, tzinfo=UTC)
    with app.app_context():
        assert monthly.send_if_due(first - timedelta(minutes=1)) == []  # not yet

        [row] = monthly.send_if_due(first)

        assert monthly.send_if_due(first + timedelta(minutes=1)) == []  # once a month
        report = delivery.deliver_due(first, outbox.wired_channels())
    assert report.sent == 1
    [delivered] = hooked.received
    assert delivered.verified
    document = delivered.document
    assert document["event_type"] == "monthly_review" == row.event_type
    previous_name = month.previous().name.split()[0]
    assert document["title"] == (
        f"Monthly review, {month.name}: 2 trades, 50 % won, net +25 ({previous_name}: +10)"
    )
    assert document["text"].startswith(
        "Trend: 2 trades (was 1), 50 % won, net +25 (was +10), best +40, worst -15."
    )
    assert document["fields"] == [{"name": "Trend", "value": "+25"}]

    restarted = create_app(make_config(tmp_path))  # a new process over the same database
    with restarted.app_context():
        assert monthly.send_if_due(first + timedelta(hours=2)) == []
    with app.app_context():
        db.engine.dispose()
    with restarted.app_context():
        db.engine.dispose()


def test_the_job_is_registered_to_run_every_minute(app):
    scheduler = BackgroundScheduler()
    monthly_job.register(scheduler, app)
    job = scheduler.get_job(monthly_job.JOB_ID)
    assert job.name == "monthly review" and job.trigger.interval == timedelta(minutes=1)


def test_the_review_is_on_by_default_and_can_be_turned_off_per_channel(app, api, hooked):
    events = api.get("/api/notifications/preferences").get_json()["events"]
    assert events["monthly_review"]["webhook"] is True
    api.put("/api/settings", {"timezone": "UTC"})
    answer = api.put(
        "/api/notifications/preferences", {"events": {"monthly_review": {"webhook": False}}}
    )
    assert answer.get_json()["events"]["monthly_review"]["webhook"] is False
    first = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with app.app_context():
        assert monthly.send_if_due(first) == []
    api.put("/api/notifications/preferences", {"events": {"monthly_review": {"webhook": True}}})
    with app.app_context():
        [row] = monthly.send_if_due(first)  # a quiet month is still told
        assert row.title == "Monthly review, November 2026: no trades closed (October: 0)"
