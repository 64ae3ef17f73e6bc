"""Keyed pseudonyms and encrypted reply addresses (docs/safety.md, rule 6).

One SECRET_KEY feeds two independent keys through HKDF, so the pseudonym key never
doubles as the encryption key. Older keys (SECRET_KEYS_OLD) still decrypt and still find
what they keyed, while everything new is encrypted and keyed with the newest one
(cryptography's MultiFernet); bot/services/keys.py moves what is stored to the newest key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from bot.settings import Settings


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class Identity:
    def __init__(self, secret_key: str, old_keys: Sequence[str] = ()) -> None:
        raw = [key.encode() for key in (secret_key, *old_keys)]
        # Newest first: index 0 keys and encrypts everything new.
        self._pseudonym_keys = [_derive(secret, b"qorgau/pseudonym/v1") for secret in raw]
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(_derive(s, b"qorgau/encrypt/v1"))) for s in raw]
        )

    @classmethod
    def of(cls, settings: Settings) -> Identity:
        """SECRET_KEY, then SECRET_KEYS_OLD."""
        old = [key.get_secret_value() for key in settings.secret_keys_old]
        return cls(settings.secret_key.get_secret_value(), old)

    @property
    def has_old_keys(self) -> bool:
        """Whether values keyed by an older SECRET_KEY may still be stored."""
        return len(self._pseudonym_keys) > 1

    def keyed_hash(self, value: str, key: int = 0) -> str:
        """HMAC of `value` with the newest key (or the `key`-th, 0 being the newest)."""
        digest = hmac.new(self._pseudonym_keys[key], value.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def old_keyed_hashes(self, value: str) -> list[str]:
        """What older keys made of `value`: stored values to find and move to the newest."""
        return [self.keyed_hash(value, n) for n in range(1, len(self._pseudonym_keys))]

    def pseudonym(self, telegram_id: int) -> str:
        """A stable keyed pseudonym: the same person always maps to the same value."""
        return self.keyed_hash(str(telegram_id))

    def old_pseudonyms(self, telegram_id: int) -> list[str]:
        return self.old_keyed_hashes(str(telegram_id))

    def lookup_hash(self, value: object) -> str:
        """How persistence finds a row by Telegram ids without storing them."""
        return self.keyed_hash("persistence:" + json.dumps(value))

    def encrypt(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def decrypt(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as error:
            raise ValueError("cannot decrypt: wrong SECRET_KEY or damaged value") from error

    def rotate(self, token: str) -> str:
        """The same value, encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("cannot decrypt: wrong SECRET_KEY or damaged value") from error
