"""Flat before the news (news_blackout `flatten`) on a paper account: the monitor's tick
flattens the account as an event's blackout window opens, once per event, without halting
it; the blackout refuses entries inside the window and lets them through after it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import Unprocessable
from app.extensions import db
from app.models import AuditEntry, CalendarEvent, RiskLimits
from app.services.market import prices
from app.services.protection import monitor
from app.services.records import events
from app.services.trading import manual
from tests.conftest import front

OPEN = {"working", "pending"}
RULE = {"before_minutes": 5, "after_minutes": 5, "min_impact": "high"}


@pytest.fixture
def paper(make_account, app):
    account = make_account("Funded 50K", starting_balance="50000.00")
    with app.app_context():
        prices.update(front("MES"), Decimal("6000.25"), datetime.now(UTC), "test")
    return account


@pytest.fixture
def published():
    """The `session_flatten` events published during the test."""
    seen: list[dict] = []

    def handler(_event: str, payload: dict) -> None:
        seen.append(payload)

    events.subscribe("session_flatten", handler)
    yield seen
    events.unsubscribe("session_flatten", handler)


def import_event(api, at: datetime, title: str = "CPI m/m", impact: str = "high") -> None:
    body = f"time,title,impact,currency\n{at.isoformat()},{title},{impact},USD\n"
    response = api.client.post(
        "/api/calendar/events", data=body, headers={"Content-Type": "text/csv", **api.headers}
    )
    assert response.status_code == 200 and response.get_json()["imported"] == 1


def set_rule(api, account, flatten: bool) -> None:
    response = api.put(
        f"/api/risk/{account['id']}", {"news_blackout": {**RULE, "flatten": flatten}}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["news_blackout"]["flatten"] is flatten


def hold_position_and_working_order(api, account) -> None:
    """Long 2 MES, and a limit buy below the market left working."""
    for body in (
        {"qty": 2},
        {"qty": 1, "order_type": "limit", "limit_price": "5990.00"},
    ):
        response = api.post(
            "/api/orders", {"account_id": account["id"], "symbol": "MES1!", "side": "buy", **body}
        )
        assert response.status_code == 201, response.get_json()


def enter(app, account, at: datetime) -> None:
    """A buy as the trader's ticket sends it, judged at `at` (raises when refused)."""
    with app.app_context():
        body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
        manual.place_manual_order(body, at)


def tick(app, at: datetime) -> monitor.MonitorStatus:
    with app.app_context():
        status = monitor.tick(at)
    assert status.errors == 0, status.last_error
    return status


def held(api, account) -> int:
    items = api.get(f"/api/positions?account_id={account['id']}").get_json()["items"]
    return sum(item["qty"] for item in items)


def working(api, account) -> list[dict]:
    items = api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]
    return [item for item in items if item["status"] in OPEN]


def flatten_audits(app, account) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry.message).where(
                    AuditEntry.account_id == account["id"],
                    AuditEntry.message.like("%flattened: news:%"),
                )
            )
        )


def test_the_account_is_flattened_once_as_the_window_opens_and_trades_after_it(
    api, app, paper, published
):
    hold_position_and_working_order(api, paper)
    set_rule(api, paper, flatten=True)
    event_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=4)
    import_event(api, event_at)

    assert tick(app, event_at - timedelta(minutes=6)).halted_accounts == []  # not yet
    assert (held(api, paper), len(working(api, paper))) == (2, 1)

    assert tick(app, event_at - timedelta(minutes=4)).halted_accounts == []  # no halt
    assert (held(api, paper), working(api, paper)) == (0, [])
    refused = api.post(
        "/api/orders", {"account_id": paper["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
    )
    assert refused.status_code == 422
    assert "news blackout: CPI m/m (high)" in refused.get_json()["error"]["message"]
    assert api.get(f"/api/risk/{paper['id']}").get_json()["halted"] is False
    [told] = published
    assert (told["account_id"], told["cause"], told["event"]["title"]) == (
        paper["id"],
        "news",
        "CPI m/m",
    )
    assert told["sweep"]["flattened_positions"] == 1 and told["sweep"]["ok"] is True
    assert len(flatten_audits(app, paper)) == 1

    enter(app, paper, event_at - timedelta(minutes=20))  # a position opened out of the window
    tick(app, event_at - timedelta(minutes=3))
    assert held(api, paper) == 1  # the same event does not flatten twice
    assert (len(published), len(flatten_audits(app, paper))) == (1, 1)
    with pytest.raises(Unprocessable, match="news blackout"):
        enter(app, paper, event_at - timedelta(minutes=2))

    enter(app, paper, event_at + timedelta(minutes=6))  # the window is over: accepted
    tick(app, event_at + timedelta(minutes=6))
    assert held(api, paper) == 2


def test_the_next_event_flattens_again(api, app, paper, published):
    set_rule(api, paper, flatten=True)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=4)
    second = first + timedelta(hours=2)
    import_event(api, first)
    import_event(api, second, title="FOMC rate decision")
    tick(app, first - timedelta(minutes=4))  # flat already: audited, not told
    assert (published, len(flatten_audits(app, paper))) == ([], 1)

    enter(app, paper, first + timedelta(minutes=30))
    tick(app, second - timedelta(minutes=1))
    assert held(api, paper) == 0
    assert [told["event"]["title"] for told in published] == ["FOMC rate decision"]
    with app.app_context():
        limits = db.session.scalar(select(RiskLimits).where(RiskLimits.account_id == paper["id"]))
        flattened_for = db.session.get(CalendarEvent, limits.news_flattened_event_id)
        assert flattened_for.title == "FOMC rate decision"


@pytest.mark.parametrize(
    ("flatten", "impact"), [(False, "high"), (True, "medium")], ids=["no-flatten", "low-impact"]
)
def test_nothing_is_flattened_without_the_rule_or_below_its_impact(
    api, app, paper, published, flatten, impact
):
    hold_position_and_working_order(api, paper)
    set_rule(api, paper, flatten=flatten)
    event_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=4)
    import_event(api, event_at, impact=impact)
    tick(app, event_at - timedelta(minutes=4))
    assert (held(api, paper), len(working(api, paper))) == (2, 1)
    assert (published, flatten_audits(app, paper)) == ([], [])
