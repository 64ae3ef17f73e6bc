"""Keyed pseudonyms and encrypted reply addresses (SPEC safety rule 6).

One SECRET_KEY feeds two independent keys through HKDF, so the pseudonym key never
doubles as the encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class Identity:
    def __init__(self, secret_key: str) -> None:
        secret = secret_key.encode()
        self._pseudonym_key = _derive(secret, b"qorgau/pseudonym/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"qorgau/encrypt/v1")))

    def keyed_hash(self, value: str) -> str:
        digest = hmac.new(self._pseudonym_key, value.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def pseudonym(self, telegram_id: int) -> str:
        """A stable keyed pseudonym: the same person always maps to the same value."""
        return self.keyed_hash(str(telegram_id))

    def encrypt(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def decrypt(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as error:
            raise ValueError("cannot decrypt: wrong SECRET_KEY or damaged value") from error
