"""SMS as the second factor, against the fake TextBelt: turned on with a texted code, a
login by "Text me a code", codes kept only as an HMAC, used once, expiring in five
minutes, at most one per 30 seconds and five an hour; a step-up and turning it off by
SMS; the numbers it goes to guarded while it is the factor."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD, csrf_from
from tests.integration.test_step_up import refused, with_code
from tests.integration.test_two_factor import log_out, logged_in, password_step, second_step

PHONE = "+15551234567"
OTHER_PHONE = "+15559876543"


@pytest.fixture
def sms_ready(app, api, fake_textbelt):
    app.config.update(TEXTBELT_URL=fake_textbelt.url)
    saved = api.put("/api/settings", {"textbelt_key": "tb-key-1", "sms_to": [PHONE, OTHER_PHONE]})
    assert saved.status_code == 200, saved.get_json()
    return fake_textbelt


def last_code(fake) -> str:
    return re.search(r"(\d{6}) is your code", fake.texts[-1]["message"]).group(1)


def owner_row(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User))
        db.session.expunge(user)
        return user


def rewind_last_code(app, seconds: int) -> None:
    """Make the last code look `seconds` older, as if time had passed."""
    with app.app_context():
        user = db.session.scalar(select(User))
        user.sms_code_expires_at -= timedelta(seconds=seconds)
        db.session.commit()


def turn_on_sms(api, fake) -> list[str]:
    assert api.post("/api/2fa/sms/setup").status_code == 200
    answer = api.post("/api/2fa/sms/enable", {"code": last_code(fake)})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["backup_codes"]


def text_me_a_code(client):
    page = client.get("/login/2fa")
    assert "Text me a code" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login/2fa", data={"send_sms": "1", "csrf_token": token})


def test_sms_needs_the_channel_ready(api):
    answer = api.post("/api/2fa/sms/setup")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "sms_not_ready"
    assert "No TextBelt key is set." in answer.get_json()["error"]["message"]


def test_a_texted_code_makes_sms_the_second_factor(api, app, sms_ready):
    answer = api.post("/api/2fa/sms/setup")
    assert answer.status_code == 200
    assert answer.get_json()["sent_to"] == "••• 4567"
    assert [(t["phone"], t["key"]) for t in sms_ready.texts] == [(PHONE, "tb-key-1")]
    code = last_code(sms_ready)
    stored = owner_row(app).sms_code_hash
    assert re.fullmatch(r"[0-9a-f]{64}", stored) and code not in stored
    wrong = api.post("/api/2fa/sms/enable", {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "invalid_code"
    enabled = api.post("/api/2fa/sms/enable", {"code": code})
    assert enabled.status_code == 200 and len(enabled.get_json()["backup_codes"]) == 10
    settings = api.get("/api/settings").get_json()
    assert (settings["two_factor_enabled"], settings["two_factor_method"]) == (True, "sms")
    assert owner_row(app).sms_code_hash is None, "used up"
    assert api.post("/api/2fa/sms/setup").get_json()["error"]["code"] == "already_enabled"
    assert api.post("/api/2fa/setup").status_code == 409


def test_a_login_by_text_message_takes_the_code_once(api, app, client, sms_ready):
    turn_on_sms(api, sms_ready)
    password_step(client)
    rewind_last_code(app, 31)
    sent = text_me_a_code(client)
    assert sent.status_code == 200
    assert "A code was texted to ••• 4567" in sent.get_data(as_text=True)
    code = last_code(sms_ready)
    assert second_step(client, code).headers["Location"] == "/"
    assert logged_in(client)
    log_out(client)
    password_step(client)
    assert second_step(client, code).status_code == 401
    assert not logged_in(client)


def test_an_expired_code_is_refused(api, app, client, sms_ready):
    turn_on_sms(api, sms_ready)
    password_step(client)
    rewind_last_code(app, 31)
    text_me_a_code(client)
    rewind_last_code(app, 300)
    assert second_step(client, last_code(sms_ready)).status_code == 401


def test_at_most_one_code_per_30_seconds_and_five_an_hour(api, app, client, sms_ready):
    turn_on_sms(api, sms_ready)  # the first text of the hour
    password_step(client)
    too_soon = text_me_a_code(client)
    assert too_soon.status_code == 429
    assert "wait" in too_soon.get_data(as_text=True)
    for _ in range(4):
        rewind_last_code(app, 31)
        assert api.post("/api/2fa/sms/send").status_code == 200
    rewind_last_code(app, 31)
    sixth = api.post("/api/2fa/sms/send")
    assert sixth.status_code == 429
    assert sixth.get_json()["error"]["code"] == "sms_hourly_limit"
    assert len(sms_ready.texts) == 5


def test_a_step_up_and_turning_it_off_by_sms(api, app, sms_ready):
    turn_on_sms(api, sms_ready)
    api.post("/api/kill-switch")
    assert refused(api.delete("/api/kill-switch"))
    rewind_last_code(app, 31)
    assert api.post("/api/2fa/sms/send").status_code == 200
    rearmed = with_code(api, "DELETE", "/api/kill-switch", last_code(sms_ready))
    assert rearmed.status_code == 200
    rewind_last_code(app, 31)
    api.post("/api/2fa/sms/send")
    off = api.post("/api/2fa/disable", {"password": PASSWORD, "code": last_code(sms_ready)})
    assert off.status_code == 200
    user = owner_row(app)
    assert (user.sms_second_factor, user.backup_code_hashes) == (False, None)
    answer = api.post("/api/2fa/sms/send")
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "not_sms"


def test_settings_say_sms_is_on_and_the_weaker_factor(api, auth, client, sms_ready):
    auth.login()
    turn_on_sms(api, sms_ready)
    page = client.get("/settings").get_data(as_text=True)
    assert "On by SMS: after the password, a login asks for a code texted to ••• 4567." in page
    assert "SMS is the weaker factor" in page
    assert 'data-role="twofa-text"' in page


def test_the_numbers_and_key_are_guarded_while_sms_is_the_factor(api, sms_ready):
    turn_on_sms(api, sms_ready)
    cleared = api.put("/api/settings", {"sms_to": []})
    assert cleared.status_code == 409
    assert cleared.get_json()["error"]["code"] == "sms_second_factor"
    assert api.put("/api/settings", {"textbelt_key": None}).status_code == 409
    assert refused(api.put("/api/settings", {"sms_to": [OTHER_PHONE]}))
    same = api.put("/api/settings", {"sms_to": [PHONE, OTHER_PHONE]})
    assert same.status_code == 200


def test_a_text_textbelt_refuses_leaves_no_code(api, app, sms_ready):
    sms_ready.fail_next(500)
    answer = api.post("/api/2fa/sms/setup")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "sms_not_sent"
    assert owner_row(app).sms_code_hash is None
    assert api.post("/api/2fa/sms/setup").status_code == 200, "a failed text is no attempt"
