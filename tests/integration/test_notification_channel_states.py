"""GET /api/notifications/channels, what the Settings page shows of each channel: whether
it can send and why not, its last delivery and its last error, read from the outbox rows
the real delivery job wrote through each channel's library to the fakes on 127.0.0.1."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services.notify import delivery, outbox
from app.services.notify.channels.discord_dm import DMS_CLOSED
from tests.fakes.discord_api import TRADER_ID

CHANNELS = {"discord", "email", "sms", "webhook"}


def states(api) -> dict:
    response = api.get("/api/notifications/channels")
    assert response.status_code == 200
    return response.get_json()


def deliver(app, at: datetime | None = None) -> delivery.DeliveryReport:
    with app.app_context():
        return delivery.deliver_due(at or datetime.now(UTC), outbox.wired_channels())


def only_row(app) -> Notification:
    with app.app_context():
        [row] = db.session.scalars(select(Notification))
        db.session.expunge(row)
        return row


def hook_up(api, receiver) -> None:
    """The outgoing webhook set as a trader does: the URL, then a secret made and kept."""
    api.put("/api/settings", {"outgoing_webhook_url": receiver.url})
    receiver.secret = api.post("/api/notifications/webhook-secret").get_json()["secret"]


def test_each_channel_says_why_it_cannot_send_until_it_is_set_up(api, webhook_receiver):
    fresh = states(api)
    assert set(fresh) == CHANNELS
    assert not any(state["ready"] for state in fresh.values())
    assert fresh["email"]["why_not"] == "No SMTP server is set."
    assert fresh["sms"]["why_not"] == "No TextBelt key is set."
    assert fresh["webhook"]["why_not"] == "No outgoing webhook URL is set."
    assert fresh["sms"]["quota_remaining"] is None
    assert "quota_remaining" not in fresh["webhook"]
    for state in fresh.values():
        assert state["last_sent_at"] is None and state["last_error"] is None

    api.put("/api/settings", {"outgoing_webhook_url": webhook_receiver.url})
    assert states(api)["webhook"]["why_not"] == "The outgoing webhook has no signing secret yet."
    api.post("/api/notifications/webhook-secret")
    webhook = states(api)["webhook"]
    assert webhook["ready"] is True and webhook["why_not"] is None


def test_a_retried_error_shows_with_its_next_try_until_a_delivery_clears_it(
    app, api, webhook_receiver
):
    hook_up(api, webhook_receiver)
    webhook_receiver.answer_next(503, "down for maintenance")
    api.post("/api/notifications/test")
    deliver(app)
    row = only_row(app)

    webhook = states(api)["webhook"]
    assert "503" in webhook["last_error"] and webhook["last_error"] == row.last_error
    assert webhook["last_error_at"] == row.created_at.isoformat().replace("+00:00", "Z")
    assert webhook["retry_at"] == row.next_attempt_at.isoformat().replace("+00:00", "Z")
    assert webhook["last_sent_at"] is None

    assert deliver(app, at=row.next_attempt_at).sent == 1
    webhook = states(api)["webhook"]
    assert webhook["last_error"] is None and webhook["retry_at"] is None
    assert webhook["last_sent_at"] == row.next_attempt_at.isoformat().replace("+00:00", "Z")


def test_the_newest_error_is_shown_beside_a_later_delivery(app, api, webhook_receiver):
    hook_up(api, webhook_receiver)
    webhook_receiver.answer_next(410, "this hook is gone")
    api.post("/api/notifications/test")
    assert deliver(app).failed == 1
    api.post("/api/notifications/test")
    sent_at = datetime.now(UTC) + timedelta(seconds=5)
    assert deliver(app, at=sent_at).sent == 1

    webhook = states(api)["webhook"]
    assert "410" in webhook["last_error"] and webhook["retry_at"] is None  # failed for good
    assert webhook["last_sent_at"] == sent_at.isoformat().replace("+00:00", "Z")


def test_a_discord_dm_refused_with_403_says_what_to_do(app, api, fake_discord):
    app.config.update(DISCORD_API_BASE=fake_discord.url, DISCORD_BOT_TOKEN=fake_discord.token)
    api.put("/api/settings", {"discord_user_id": str(TRADER_ID), "discord_dm_enabled": True})
    fake_discord.close_dms(TRADER_ID)
    assert states(api)["discord"]["ready"] is True

    api.post("/api/notifications/test")
    assert deliver(app).failed == 1

    discord = states(api)["discord"]
    assert discord["last_error"] == DMS_CLOSED
    assert "join the bot's server / allow DMs, then send a test" in discord["last_error"]
    assert discord["retry_at"] is None and discord["last_sent_at"] is None


def test_sms_shows_the_credit_textbelt_last_reported_and_never_the_key(app, api, fake_textbelt):
    app.config.update(TEXTBELT_URL=fake_textbelt.url)
    key = "tb-key-status-0042"
    api.put("/api/settings", {"textbelt_key": key, "sms_to": ["+15551234567"]})
    assert states(api)["sms"]["quota_remaining"] is None  # nothing heard from TextBelt yet

    api.post("/api/notifications/test")
    before = datetime.now(UTC)
    assert deliver(app).sent == 1

    answer = api.get("/api/notifications/channels")
    sms = answer.get_json()["sms"]
    assert sms["ready"] is True and sms["last_sent_at"] is not None
    assert sms["quota_remaining"] == fake_textbelt.quota == 39
    assert datetime.fromisoformat(sms["quota_seen_at"]) >= before
    assert key not in json.dumps(answer.get_json())


def test_sms_credit_can_be_asked_for_now(app, api, fake_textbelt):
    app.config.update(TEXTBELT_URL=fake_textbelt.url)
    refused = api.post("/api/notifications/sms/quota")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "quota_unavailable"
    api.put("/api/settings", {"textbelt_key": "tb-key-ask-0007"})
    fake_textbelt.quota = 12
    answer = api.post("/api/notifications/sms/quota")
    assert answer.status_code == 200 and answer.get_json() == {"quota_remaining": 12}
    assert states(api)["sms"]["quota_remaining"] == 12
