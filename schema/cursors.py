"""Opaque, signed pagination cursors.

A cursor is `base64url(json payload) "." base64url(hmac)`. The payload names the business
and the list it was issued for (a business's participants, one participant's
registrations), so a cursor that was tampered with, or carried to another business or
another list, is refused with BAD_USER_INPUT instead of being trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from schema.errors import BadUserInput

_VERSION = 1
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_MAX_LENGTH = 4096  # a position per provider connection fits


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    # Strict: a character outside the URL-safe alphabet is refused, not skipped, so a
    # cursor has exactly one spelling.
    if not _URL_SAFE.fullmatch(text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"cursor:" + payload, hashlib.sha256).digest()[:18]

    def encode(self, *, business: str, list_name: str, position: Any) -> str:
        payload = json.dumps(
            {"v": _VERSION, "b": business, "c": list_name, "p": position},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str, *, business: str, list_name: str) -> Any:
        """Return the position the cursor carries, or raise BAD_USER_INPUT."""
        invalid = BadUserInput("The `after` cursor is not valid for this list.")
        if not isinstance(cursor, str) or len(cursor) > _MAX_LENGTH:
            raise invalid
        body, _, signature = cursor.partition(".")
        try:
            payload = _unb64(body)
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise invalid
        try:
            data = json.loads(payload)
        except ValueError:
            raise invalid from None
        if (
            not isinstance(data, dict)
            or data.get("v") != _VERSION
            or data.get("b") != business
            or data.get("c") != list_name
        ):
            raise invalid
        return data.get("p")
