"""/api/2fa: two-factor login's setup (an app or SMS), switch, backup codes, trusted
devices, and the step-up before sensitive actions (§5.4).

Answers that carry a secret or backup codes are shown once and marked no-store, so no
cache along the way keeps them.
"""

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify
from flask_login import current_user

from app.api import step_up
from app.api.schemas import TwoFactorCode, TwoFactorEnable, TwoFactorProof, parse_body
from app.api.serialize import iso
from app.models import TrustedDevice
from app.services.notify import login_code
from app.services.setup import trusted_devices, two_factor

bp = Blueprint("two_factor", __name__, url_prefix="/2fa")


def device_json(device: TrustedDevice) -> dict:
    return {
        "id": device.id,
        "label": device.label,
        "created_at": iso(device.created_at),
        "last_seen_at": iso(device.last_seen_at),
        "expires_at": iso(device.expires_at),
    }


def _owner():
    return current_user._get_current_object()


@bp.post("/setup")
def setup():
    """A new key for an authenticator app, as text, otpauth URI and QR code (SVG); two-factor
    login is not on until /enable sees a code made from it."""
    g.no_store = True
    found = two_factor.begin_setup(_owner())
    return jsonify(
        {"secret": found.secret, "otpauth_uri": found.otpauth_uri, "qr_svg": found.qr_svg}
    )


@bp.post("/enable")
def enable():
    """Turn the second step on with a code from the app; the ten backup codes, shown once."""
    body = parse_body(TwoFactorEnable)
    g.no_store = True
    codes = two_factor.enable(_owner(), body["code"], datetime.now(UTC))
    return jsonify({"enabled": True, "backup_codes": codes})


@bp.post("/disable")
def disable():
    """Turn the second step off (password and a code); trusted devices are forgotten too."""
    body = parse_body(TwoFactorProof)
    two_factor.disable(_owner(), body["password"], body["code"], datetime.now(UTC))
    return jsonify({"enabled": False})


@bp.post("/backup-codes")
def backup_codes():
    """Ten new backup codes for the password and a code; the old ones stop working."""
    body = parse_body(TwoFactorProof)
    g.no_store = True
    codes = two_factor.regenerate_backup_codes(
        _owner(), body["password"], body["code"], datetime.now(UTC)
    )
    return jsonify({"backup_codes": codes})


@bp.post("/step-up")
def step_up_session():
    """A fresh second factor for this browser session: the sensitive actions pass without
    asking again until `valid_until` (five minutes)."""
    body = parse_body(TwoFactorCode)
    until = step_up.prove_for_session(body["code"], datetime.now(UTC))
    return jsonify({"valid_until": iso(until)})


@bp.post("/sms/setup")
def sms_setup():
    """Text a code to the first SMS number; /sms/enable with it makes SMS the second factor."""
    return jsonify(_sent_json(login_code.send_for_setup(_owner(), datetime.now(UTC))))


@bp.post("/sms/enable")
def sms_enable():
    """Turn the second step on by SMS with the texted code; the backup codes, shown once."""
    body = parse_body(TwoFactorCode)
    g.no_store = True
    codes = two_factor.enable_sms(_owner(), body["code"], datetime.now(UTC))
    return jsonify({"enabled": True, "backup_codes": codes})


@bp.post("/sms/send")
def sms_send():
    """Text a code while SMS is the second factor: for a step-up, turning it off or new
    backup codes."""
    sent = login_code.send_for_second_factor(_owner(), datetime.now(UTC), "a step-up")
    return jsonify(_sent_json(sent))


def _sent_json(sent: login_code.Sent) -> dict:
    return {"sent_to": sent.to, "valid_until": iso(sent.valid_until)}


@bp.get("/devices")
def devices():
    """The browsers trusted to skip the second step, while their 30 days run."""
    listed = trusted_devices.listed(_owner(), datetime.now(UTC))
    return jsonify({"items": [device_json(device) for device in listed]})


@bp.delete("/devices/<id:device_id>")
def revoke_device(device_id: int):
    """Stop trusting one browser: its next login asks for a code again."""
    trusted_devices.revoke(_owner(), device_id)
    return "", 204
