"""Encryption at rest for broker and bot credentials (Fernet, key from ENCRYPTION_KEY)."""

import json
import logging

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

logger = logging.getLogger(__name__)


class SecretUnreadable(RuntimeError):
    """The stored secret cannot be decrypted: the ENCRYPTION_KEY changed or the row is corrupt."""


def _fernet() -> Fernet:
    return Fernet(current_app.config["ENCRYPTION_KEY"].encode())


def encrypt_text(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with this ENCRYPTION_KEY"
        ) from exc


def encrypt_json(data: dict) -> str:
    return encrypt_text(json.dumps(data, sort_keys=True))


def decrypt_json(token: str) -> dict:
    return json.loads(decrypt_text(token))
