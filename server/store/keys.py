"""API key minting and verification.

A key looks like ``sk_<key id>_<secret>``. The key id is stored in clear and used to
find the row in one indexed lookup; only a hash of the secret is stored. Both parts use
alphabets without ``_`` so the key splits unambiguously.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field

KEY_PREFIX = "sk"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 43  # 43 base62 characters carry ~256 bits of randomness.
MAX_KEY_LENGTH = 200

_BASE62 = string.digits + string.ascii_letters
_KEY_ID_RE = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")
_SECRET_RE = re.compile(rf"[0-9A-Za-z]{{{SECRET_LENGTH}}}")


@dataclass(frozen=True)
class MintedKey:
    """A freshly minted key; the secret exists only here and in the caller's hands."""

    key_id: str
    secret: str = field(repr=False)  # kept out of logs and tracebacks

    @property
    def full(self) -> str:
        """The string handed to the client, shown exactly once."""
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


def mint_key() -> MintedKey:
    """Create a new random key id and secret."""
    key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
    secret = "".join(secrets.choice(_BASE62) for _ in range(SECRET_LENGTH))
    return MintedKey(key_id=key_id, secret=secret)


def parse_key(full: str) -> tuple[str, str] | None:
    """Split a presented key into ``(key_id, secret)``, or ``None`` if it is malformed.

    Malformed input is rejected before any database work, and the length cap is checked
    first so hostile multi-kilobyte headers cost almost nothing.
    """
    if not isinstance(full, str) or len(full) > MAX_KEY_LENGTH:
        return None
    parts = full.split("_")
    if len(parts) != 3:
        return None
    prefix, key_id, secret = parts
    if prefix != KEY_PREFIX:
        return None
    if not _KEY_ID_RE.fullmatch(key_id) or not _SECRET_RE.fullmatch(secret):
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """Hash a secret for storage.

    A plain SHA-256 is deliberate. Password hashes (argon2, bcrypt, scrypt) are slow to
    make guessing low-entropy human passwords expensive; these secrets are ~256 random
    bits, so brute force is already infeasible and a slow hash would only add tens of
    milliseconds of CPU to every single API request.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare in constant time so response timing does not leak hash prefixes."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


# Compared against when a key id is unknown, so that path costs the same as a real check.
DUMMY_HASH = hash_secret(secrets.token_hex(32))
