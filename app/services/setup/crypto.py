"""Encryption at rest for broker and bot credentials (Fernet, key from ENCRYPTION_KEY)."""

import json
import logging

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from app import redaction

logger = logging.getLogger(__name__)


class SecretUnreadable(RuntimeError):
    """The stored secret cannot be decrypted: the ENCRYPTION_KEY changed or the row is corrupt."""


def _fernet() -> Fernet:
    return Fernet(current_app.config["ENCRYPTION_KEY"].encode())


def encrypt_text(plain: str) -> str:
    """Everything kept encrypted is a secret, so the log masks it from now on."""
    redaction.remember(plain)
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        plain = _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with this ENCRYPTION_KEY"
        ) from exc
    redaction.remember(plain)
    return plain


# The fields of an encrypted document that are secrets; the rest (a username, an app
# name) stay readable in the log.
SECRET_FIELDS = frozenset({"password", "sec", "secret", "token", "key"})


def encrypt_json(data: dict) -> str:
    _remember_fields(data)
    return encrypt_text(json.dumps(data, sort_keys=True))


def decrypt_json(token: str) -> dict:
    data = json.loads(decrypt_text(token))
    _remember_fields(data)
    return data


def _remember_fields(data: dict) -> None:
    redaction.remember(*(str(v) for k, v in data.items() if k in SECRET_FIELDS and v))
