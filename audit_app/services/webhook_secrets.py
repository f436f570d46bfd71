"""Webhook signing secrets (Standard Webhooks): made, kept encrypted at rest, and used to sign.

The server must sign every delivery, so the secret cannot be stored only as a hash as API keys are. It is
encrypted with Fernet under a key derived by HKDF-SHA256 from ``DJANGO_SECRET_KEY``: a database dump alone
does not reveal it. Changing ``DJANGO_SECRET_KEY`` makes stored secrets unreadable: set each webhook again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_START = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes


class SecretUnreadable(Exception):
    """The stored secret was encrypted under another DJANGO_SECRET_KEY (or was altered)."""


def new_secret() -> str:
    return SECRET_START + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _fernet() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"glassbox webhook signing secrets v1")
    return Fernet(base64.urlsafe_b64encode(derived.derive(settings.SECRET_KEY.encode())))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The webhook's signing secret cannot be decrypted (DJANGO_SECRET_KEY changed?); set the webhook again."
        ) from None


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and base64 of HMAC-SHA256 over ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix(SECRET_START))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
