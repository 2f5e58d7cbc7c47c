"""No secret reaches a log line (issue 14: web security). A whole flow runs with every
logger at DEBUG — login, a Tradovate account trading an alert through the fake broker, the
API token, channel secrets, notifications delivered to fake Discord and TextBelt servers —
and then every line logged is searched for every secret the flow used."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

from app.extensions import db
from app.services.market import prices
from app.services.notify import delivery, outbox
from tests.conftest import PASSWORD, TRADOVATE_CREDENTIALS, front
from tests.fakes.discord_api import TRADER_ID

SECRETS = {
    "passphrase": "correct-horse-battery-staple",
    "textbelt_key": "tb-key-never-logged-0042",
}


def everything_logged(caplog) -> str:
    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    return caplog.text + "\n".join(lines)


def test_a_whole_flow_logs_no_secret(
    app,
    client,
    auth,
    api,
    api_token,
    make_account,
    make_strategy,
    fake_tradovate,
    fake_discord,
    fake_textbelt,
    caplog,
):
    app.config.update(
        DISCORD_API_BASE=fake_discord.url,
        DISCORD_BOT_TOKEN=fake_discord.token,
        TEXTBELT_URL=fake_textbelt.url,
    )
    caplog.set_level(logging.DEBUG)
    auth.login(password="a wrong password, still a password")  # refused: audited, not logged
    assert auth.login().status_code == 302

    account = make_account("Tradovate", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1, passphrase=SECRETS["passphrase"])
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    api.put(
        "/api/settings",
        {
            "discord_user_id": str(TRADER_ID),
            "discord_dm_enabled": True,
            "textbelt_key": SECRETS["textbelt_key"],
            "sms_to": ["+15551234567"],
        },
    )
    webhook_secret = api.post("/api/notifications/webhook-secret", {}).get_json()["secret"]
    prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    url = f"/webhook/{strategy['webhook_token']}"
    for passphrase in (SECRETS["passphrase"], "not-the-passphrase"):
        body = {"passphrase": passphrase, "symbol": "MES1!", "action": "buy"}
        client.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert api.post("/api/notifications/test", {}).status_code == 202
    with app.app_context():
        report = delivery.deliver_due(datetime.now(UTC), outbox.wired_channels())
        db.session.remove()
    assert report.sent >= 2, report  # the DM and the SMS went out: the flow really ran
    assert fake_textbelt.texts and fake_discord.messages

    logged = everything_logged(caplog)
    assert len(caplog.records) > 20 and "Tradovate session opened" in logged
    secrets = {
        **SECRETS,
        "owner password": PASSWORD,
        "api token": api_token,
        "webhook token": strategy["webhook_token"],
        "webhook signing secret": webhook_secret,
        "bot token": fake_discord.token,
        "tradovate password": TRADOVATE_CREDENTIALS["password"],
        "tradovate sec": TRADOVATE_CREDENTIALS["sec"],
        "secret key": app.config["SECRET_KEY"],
        "encryption key": app.config["ENCRYPTION_KEY"],
        **{f"tradovate token {i}": token for i, token in enumerate(fake_tradovate.tokens)},
    }
    assert len(secrets) >= 12
    leaked = {name for name, value in secrets.items() if value in logged}
    assert leaked == set()
