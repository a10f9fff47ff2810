"""Signed pagination cursors: what was issued comes back; anything else is BAD_USER_INPUT."""

from __future__ import annotations

import base64
import json

import pytest

from schema.cursors import CursorCodec
from schema.errors import BadUserInput

SECRET = b"a test secret, long enough to sign with"
BUSINESS = "biz_1a2b3c4d"
CONNECTION = "participants"


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(SECRET)


def issued(codec: CursorCodec, position=("wix", 25)) -> str:
    return codec.encode(business=BUSINESS, list_name=CONNECTION, position=position)


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_refused(codec: CursorCodec, cursor, *, business=BUSINESS, list_name=CONNECTION):
    with pytest.raises(BadUserInput) as raised:
        codec.decode(cursor, business=business, list_name=list_name)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}
    assert "`after` cursor is not valid" in raised.value.message


@pytest.mark.parametrize("position", [None, 0, 42, "wix:abc", ["wix", 25], {"offset": 3}])
def test_a_cursor_decodes_to_the_position_it_was_issued_with(codec, position):
    cursor = issued(codec, position)
    assert codec.decode(cursor, business=BUSINESS, list_name=CONNECTION) == position


def test_a_cursor_is_url_safe_and_opaque(codec):
    cursor = issued(codec, "wix:abc")
    body, separator, signature = cursor.partition(".")
    assert separator == "."
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert len(unb64(signature)) == 18
    assert json.loads(unb64(body)) == {"v": 1, "b": BUSINESS, "c": CONNECTION, "p": "wix:abc"}


def test_another_codec_with_the_same_secret_accepts_the_cursor(codec):
    cursor = issued(codec)
    assert CursorCodec(SECRET).decode(cursor, business=BUSINESS, list_name=CONNECTION) == [
        "wix",
        25,
    ]


def test_a_cursor_with_a_tampered_payload_is_refused(codec):
    body, _, signature = issued(codec, 25).partition(".")
    data = json.loads(unb64(body))
    data["p"] = 5000
    forged = b64(json.dumps(data, separators=(",", ":")).encode())
    assert_refused(codec, f"{forged}.{signature}")


def test_a_cursor_with_a_tampered_signature_is_refused(codec):
    body, _, signature = issued(codec).partition(".")
    flipped = bytearray(unb64(signature))
    flipped[0] ^= 0x01
    assert_refused(codec, f"{body}.{b64(bytes(flipped))}")


def test_a_cursor_without_its_signature_is_refused(codec):
    body, _, _ = issued(codec).partition(".")
    assert_refused(codec, body)
    assert_refused(codec, f"{body}.")


def test_a_cursor_signed_with_another_secret_is_refused(codec):
    assert_refused(codec, issued(CursorCodec(b"another secret")))


def test_a_cursor_carried_to_another_business_is_refused(codec):
    assert_refused(codec, issued(codec), business="biz_99999999")


def test_a_cursor_carried_to_another_list_is_refused(codec):
    assert_refused(codec, issued(codec), list_name="registrations:gid://Sessions/X")


def test_a_signed_payload_of_another_version_is_refused(codec):
    payload = json.dumps({"v": 2, "b": BUSINESS, "c": CONNECTION, "p": 1}).encode()
    assert_refused(codec, f"{b64(payload)}.{b64(codec._sign(payload))}")


def test_a_signed_payload_that_is_not_an_object_is_refused(codec):
    payload = b"[1, 2, 3]"
    assert_refused(codec, f"{b64(payload)}.{b64(codec._sign(payload))}")


@pytest.mark.parametrize(
    "garbage", ["", ".", "not a cursor", "!!!.???", "a.b.c", "YQ", "Zm9v.YmFy", "é.é", "\x00"]
)
def test_garbage_is_refused(codec, garbage):
    assert_refused(codec, garbage)


@pytest.mark.parametrize("not_text", [None, 12, b"bytes"])
def test_a_cursor_that_is_not_text_is_refused(codec, not_text):
    assert_refused(codec, not_text)


def test_an_over_long_cursor_is_refused_before_it_is_decoded(codec):
    long_position = "x" * 4000
    cursor = issued(codec, long_position)
    assert len(cursor) > 4096
    assert_refused(codec, cursor)


def test_a_cursor_just_under_the_length_limit_is_accepted(codec):
    position = "x" * 2900
    cursor = issued(codec, position)
    assert len(cursor) <= 4096
    assert codec.decode(cursor, business=BUSINESS, list_name=CONNECTION) == position
