"""Pseudonyms and encryption (docs/safety.md, rule 6)."""

from __future__ import annotations

import pytest

from bot.services.identity import Identity


def test_pseudonym_is_stable_keyed_and_hides_the_id() -> None:
    one = Identity("first-secret-key-0123")
    other = Identity("other-secret-key-0123")
    assert one.pseudonym(555) == one.pseudonym(555)
    assert one.pseudonym(555) != one.pseudonym(556)
    assert one.pseudonym(555) != other.pseudonym(555)
    assert "555" not in one.pseudonym(555)


def test_encrypted_values_round_trip_and_need_the_key() -> None:
    one = Identity("first-secret-key-0123")
    token = one.encrypt(123456789)
    assert "123456789" not in token
    assert one.decrypt(token) == 123456789
    with pytest.raises(ValueError):
        Identity("other-secret-key-0123").decrypt(token)
