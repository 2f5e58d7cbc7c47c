"""What an outside check of the DESIGN §5.4 contract found, each pinned here: times whose
offset leaves what Python can hold, a null id read as no filter, an unknown account read
as an empty one, a doubled charset, and a refusal that did not name its rule."""

import json

import pytest

from app.services.market import prices

EXTREME_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T00:00:00Z"]


@pytest.mark.parametrize("moment", EXTREME_TIMES)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/news?", "since"),
        ("/api/sentiment?symbol=ES&bucket=1w&", "since"),
        ("/api/analytics?", "start"),
        ("/api/analytics/breakdown?by=day&", "end"),
        ("/api/trades/export?format=csv&", "start"),
        ("/api/trades?", "since"),
    ],
)
def test_a_time_beyond_the_calendar_is_a_400_naming_the_filter(
    api, make_account, path, name, moment
):
    make_account(starting_balance="10000")
    response = api.get(f"{path}{name}={moment.replace('+', '%2B')}")
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert name in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("field", ["account_id", "strategy_id"])
def test_a_null_id_does_not_project_every_account(api, field):
    body = {field: None, "starting_balance": "50000", "trades": 3}
    response = api.post("/api/analytics/projection", body)
    assert response.status_code == 400
    assert "strategy_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/analytics", "/api/analytics/breakdown?by=day&"])
@pytest.mark.parametrize("field", ["account_id", "strategy_id"])
def test_an_unknown_account_or_strategy_is_404(api, path, field):
    separator = "" if path.endswith("&") else "?"
    response = api.get(f"{path}{separator}{field}=999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_csv_export_says_its_charset_once(api):
    response = api.get("/api/trades/export?format=csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_mode_s_open_positions_cap_names_the_mode(api, make_account, make_strategy, app):
    account = make_account(starting_balance="100000")
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "conservative", "max_exposure": "30000"})
    roots = ["MES", "MNQ", "MYM", "M2K"]
    answers = []
    for root in roots:
        strategy = make_strategy(f"{root} trend", symbol=f"{root}1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
        answers.append(
            api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps({"action": "buy", "price": "100"}),
                headers={"Content-Type": "application/json"},
            )
        )
    prices.clear()
    assert [a.status_code for a in answers] == [200, 200, 200, 422]
    refusal = json.dumps(answers[-1].get_json())
    assert "3 positions already open (limit 3, risk mode conservative)" in refusal


@pytest.mark.parametrize(
    "body",
    [
        "time,title,impact\r2026-12-04T13:30:00Z,CPI,high\r",  # lone carriage returns
        "0001-01-01T00:00:00+14:00,Before time,high\n",  # leaves the calendar in UTC
        "2026-12-04T13:30:00Z,\x00,high\n",  # a NUL byte the csv module refuses
        "2026-12-04T13:30:00Z," + "x" * 200_000 + ",high\n",  # beyond the csv field limit
    ],
)
def test_a_calendar_file_the_csv_module_chokes_on_is_not_a_500(api, body):
    response = api.client.post(
        "/api/calendar/events", data=body, headers={"Content-Type": "text/csv", **api.headers}
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:200]
    if response.status_code >= 400:
        assert response.get_json()["error"]["code"]
