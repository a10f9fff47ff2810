"""Encryption of provider credentials at rest.

Provider credentials (API keys, tokens) must be usable by the server, so they are
encrypted rather than hashed. The Fernet key is derived from the server's secret key
with HKDF so the configured secret can be any string and is never used raw.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_HKDF_INFO = b"business-api provider credentials"


class CredentialDecryptError(Exception):
    """The token was not produced by this key or has been altered."""


class CredentialCipher:
    """Encrypts and decrypts provider credentials with a key derived from a secret."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=_HKDF_INFO,
        ).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def __repr__(self) -> str:
        return "CredentialCipher(<key redacted>)"

    def encrypt(self, plaintext: str) -> str:
        """Return an authenticated, URL-safe token for ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext; raise ``CredentialDecryptError`` on any failure."""
        try:
            return self._fernet.decrypt(token.encode("utf-8")).decode("utf-8")
        except (InvalidToken, ValueError, TypeError) as exc:
            raise CredentialDecryptError(
                "cannot decrypt credential: wrong secret key or corrupted value"
            ) from exc
