"""/api/risk, /api/settings and /api/logs."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry
from app.models.audit import AuditLogIsAppendOnly
from tests.conftest import PASSWORD


def test_new_account_has_no_limits_and_is_not_halted(api, make_account):
    account = make_account()
    limits = api.get(f"/api/risk/{account['id']}").get_json()
    assert limits["max_daily_loss"] is None
    assert limits["halted"] is False
    assert limits["risk_mode"] is None  # no mode: the strategies' own quantities


def test_risk_limits_are_set_and_cleared(api, make_account):
    account = make_account()
    limits = api.put(
        f"/api/risk/{account['id']}",
        {
            "max_contracts_per_order": 5,
            "max_position": 10,
            "max_open_positions": 3,
            "max_daily_loss": "750.50",
            "max_trades_per_day": 20,
            "trading_window": {"start": "08:30", "end": "15:00"},
            "risk_mode": "conservative",
        },
    ).get_json()
    assert limits["max_daily_loss"] == "750.50"
    assert limits["trading_window"] == {
        "start": "08:30",
        "end": "15:00",
        "timezone": "America/Chicago",
    }
    assert limits["risk_mode"] == "conservative"
    cleared = api.put(
        f"/api/risk/{account['id']}", {"max_daily_loss": None, "trading_window": None}
    ).get_json()
    assert cleared["max_daily_loss"] is None
    assert cleared["trading_window"] is None
    assert cleared["max_position"] == 10, "fields not sent stay as they were"


def test_overnight_window_with_zone(api, make_account):
    account = make_account()
    limits = api.put(
        f"/api/risk/{account['id']}",
        {"trading_window": {"start": "17:00", "end": "16:00", "timezone": "America/New_York"}},
    ).get_json()
    assert limits["trading_window"]["timezone"] == "America/New_York"


def test_loosening_a_limit_is_a_warning_in_the_audit_log(api, make_account):
    account = make_account()
    api.put(f"/api/risk/{account['id']}", {"max_daily_loss": "500"})
    api.put(f"/api/risk/{account['id']}", {"max_daily_loss": "5000"})
    entries = api.get(f"/api/logs?category=risk&account_id={account['id']}").get_json()["items"]
    assert entries[0]["severity"] == "warning"
    assert entries[0]["data"]["loosened"] == ["max_daily_loss"]
    assert entries[1]["severity"] == "info"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_contracts_per_order": 0}, "max_contracts_per_order"),
        ({"max_contracts_per_order": "5"}, "max_contracts_per_order"),
        ({"max_daily_loss": "-100"}, "max_daily_loss"),
        ({"max_daily_loss": "ten"}, "max_daily_loss"),
        ({"trading_window": {"start": "8:30", "end": "15:00"}}, "trading_window.start"),
        ({"trading_window": {"start": "08:30", "end": "25:00"}}, "trading_window.end"),
        ({"trading_window": {"start": "08:30", "end": "08:30"}}, "trading_window"),
        (
            {"trading_window": {"start": "08:30", "end": "15:00", "timezone": "Mars/Olympus"}},
            "trading_window.timezone",
        ),
        ({"trading_window": "08:30-15:00"}, "trading_window"),
        ({"risk_mode": "yolo"}, "risk_mode"),
        ({"halted": False}, "halted"),
    ],
)
def test_bad_risk_bodies_are_400(api, make_account, body, field):
    account = make_account()
    response = api.put(f"/api/risk/{account['id']}", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_risk_of_unknown_account_is_404(api):
    assert api.get("/api/risk/77").status_code == 404
    assert api.put("/api/risk/77", {"max_position": 1}).status_code == 404


def test_settings_round_trip(api):
    settings = api.get("/api/settings").get_json()
    assert settings["username"] == "owner"
    assert settings["timezone"] == "UTC"
    updated = api.put(
        "/api/settings",
        {
            "timezone": "America/Chicago",
            "discord_user_id": "123456789012345678",
            "discord_dm_enabled": True,
        },
    ).get_json()
    assert updated["timezone"] == "America/Chicago"
    assert updated["discord_user_id"] == "123456789012345678"
    assert "password_hash" not in updated and "api_token_hash" not in updated


@pytest.mark.parametrize(
    "body",
    [
        {"timezone": "Nowhere/Land"},
        {"discord_user_id": "abc"},
        {"discord_dm_enabled": "on"},
        {"username": "root"},
    ],
)
def test_bad_settings_are_400(api, body):
    assert api.put("/api/settings", body).status_code == 400


def test_password_change_rules(api):
    wrong = api.post(
        "/api/settings/password", {"current_password": "nope", "new_password": "long enough pass"}
    )
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["fields"] == {"current_password": "is wrong"}
    short = api.post(
        "/api/settings/password", {"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.get_json()["error"]["fields"]["new_password"].startswith("use at least")
    too_long = api.post(
        "/api/settings/password", {"current_password": PASSWORD, "new_password": "é" * 40}
    )
    assert too_long.status_code == 400, "bcrypt takes at most 72 bytes"
    ok = api.post(
        "/api/settings/password", {"current_password": PASSWORD, "new_password": "long enough pass"}
    )
    assert ok.status_code == 200


def test_logs_page_newest_first_with_next_link(api, app):
    for index in range(105):
        api.post("/api/accounts", {"name": f"Paper {index}", "broker": "paper"})
    first = api.get("/api/logs?category=system").get_json()
    assert len(first["items"]) == 100
    assert first["items"][0]["message"] == "account 'Paper 104' created (paper, demo)"
    second = api.get(first["next"]).get_json()
    assert len(second["items"]) == 5
    assert "next" not in second
    assert api.get("/api/logs?category=bogus").status_code == 400


def test_audit_entries_cannot_be_changed_or_deleted(app, make_account):
    make_account()
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        entry.message = "rewritten"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        entry = db.session.scalar(select(AuditEntry))
        db.session.delete(entry)
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
