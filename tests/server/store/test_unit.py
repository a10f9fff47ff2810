"""Key format and credential encryption, which need no database."""

from __future__ import annotations

import pytest

from server.store.crypto import CredentialCipher, CredentialDecryptError
from server.store.keys import hash_secret, mint_key, parse_key, secret_matches


def test_a_minted_key_parses_back_into_its_id_and_secret() -> None:
    minted = mint_key()
    assert minted.full.startswith("sk_")
    assert parse_key(minted.full) == (minted.key_id, minted.secret)
    assert len(minted.key_id) == 12
    assert "_" not in minted.key_id and "_" not in minted.secret
    assert "-" not in minted.secret


def test_minted_keys_are_unique() -> None:
    keys = {mint_key().full for _ in range(200)}
    assert len(keys) == 200


def test_the_minted_key_repr_does_not_show_the_secret() -> None:
    minted = mint_key()
    assert minted.secret not in repr(minted)
    assert minted.key_id in repr(minted)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "sk_",
        "sk__",
        "Bearer x",
        "pk_0123456789ab_" + "a" * 43,
        "SK_0123456789ab_" + "a" * 43,
        "sk_0123456789ab_" + "a" * 42,
        "sk_0123456789ab_" + "a" * 44,
        "sk_0123456789AB_" + "a" * 43,
        "sk_0123456789a_" + "a" * 43,
        "sk_0123456789ab_" + "a" * 40 + "-bc",
        "sk_0123456789ab_" + "a" * 20 + "_" + "a" * 22,
        "sk_0123456789ab_" + "a" * 43 + "_",
        " sk_0123456789ab_" + "a" * 43,
        "sk_0123456789ab_" + "a" * 43 + "\n",
        "x" * 10_000,
        "sk_0123456789ab_" + "a" * 10_000,
    ],
)
def test_malformed_keys_do_not_parse(presented: str) -> None:
    assert parse_key(presented) is None


def test_a_well_formed_key_parses() -> None:
    assert parse_key("sk_0123456789ab_" + "a" * 43) == ("0123456789ab", "a" * 43)


def test_secret_matches_only_its_own_hash() -> None:
    stored = hash_secret("right")
    assert secret_matches("right", stored)
    assert not secret_matches("wrong", stored)
    assert len(stored) == 64 and "right" not in stored


def test_a_credential_round_trips_and_the_token_does_not_contain_it() -> None:
    cipher = CredentialCipher("server secret")
    token = cipher.encrypt("wix-api-key-123")
    assert "wix-api-key-123" not in token
    assert cipher.decrypt(token) == "wix-api-key-123"


def test_a_cipher_with_a_different_secret_key_cannot_decrypt() -> None:
    token = CredentialCipher("server secret").encrypt("wix-api-key-123")
    with pytest.raises(CredentialDecryptError):
        CredentialCipher("another secret").decrypt(token)


@pytest.mark.parametrize("token", ["", "not a token", "gAAAAA", "é"])
def test_a_garbage_token_raises_credential_decrypt_error(token: str) -> None:
    with pytest.raises(CredentialDecryptError):
        CredentialCipher("server secret").decrypt(token)


def test_a_tampered_token_raises_credential_decrypt_error() -> None:
    cipher = CredentialCipher("server secret")
    token = cipher.encrypt("wix-api-key-123")
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(CredentialDecryptError):
        cipher.decrypt(tampered)


def test_an_empty_secret_key_is_refused() -> None:
    with pytest.raises(ValueError):
        CredentialCipher("")
