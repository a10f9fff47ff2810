"""Global IDs in the Business API document's form: `gid://Sessions/<Type>/<prefix>_<opaque>`.

The opaque part encodes the provider connection and the provider's own id, so a GID can be
resolved again without a lookup table. It is an encoding, not a secret: clients are told
not to parse it, and nothing in it is a credential.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass

import strawberry

from schema.errors import BadUserInput

PREFIXES = {
    "Business": "biz",
    "BusinessParticipant": "p",
    "ActivityRegistration": "reg",
    "ActivitySession": "s",
    "ProductPurchase": "pur",
    "Product": "prod",
}
_ROOT = "gid://Sessions/"
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_MAX_LENGTH = 512


@dataclass(frozen=True)
class GlobalId:
    type_name: str
    connection: str  # the connection's public id; "" for a Business
    provider_id: str  # for a Business: its public id


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _b64decode(text: str) -> str:
    if not _URL_SAFE.fullmatch(text):  # one spelling per GID: nothing skipped
        raise ValueError("not URL-safe base64")
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()


def business_gid(public_id: str) -> str:
    """A business's public id already carries the `biz_` prefix."""
    return f"{_ROOT}Business/{public_id}"


@functools.lru_cache(maxsize=1 << 14)
def encode_gid(type_name: str, connection: str, provider_id: str) -> strawberry.ID:
    """Memoised (and an ID already, which costs a call of its own): the same objects come
    back page after page, request after request. Some 300 bytes an entry with its key, so
    16,384 of them (a few large pages' worth): every business's GIDs are distinct, and a
    process serving many would otherwise keep up to 131,072 (some 40 MB)."""
    prefix = PREFIXES[type_name]
    return strawberry.ID(f"{_ROOT}{type_name}/{prefix}_{_b64encode(f'{connection}/{provider_id}')}")


def decode_gid(gid: str) -> GlobalId:
    """Parse a GID this server issued; anything else is BAD_USER_INPUT."""
    invalid = BadUserInput("The ID is not a valid Business API global ID.")
    if not isinstance(gid, str) or len(gid) > _MAX_LENGTH or not gid.startswith(_ROOT):
        raise invalid
    type_name, _, local = gid[len(_ROOT) :].partition("/")
    prefix = PREFIXES.get(type_name)
    if prefix is None or not local.startswith(prefix + "_"):
        raise invalid
    if type_name == "Business":
        return GlobalId(type_name, "", local)
    try:
        connection, separator, provider_id = _b64decode(local[len(prefix) + 1 :]).partition("/")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if not separator or not connection or not provider_id:
        raise invalid
    return GlobalId(type_name, connection, provider_id)
