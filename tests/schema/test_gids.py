"""Global IDs: `gid://Sessions/<Type>/<prefix>_<opaque>`, and what is refused."""

from __future__ import annotations

import base64

import pytest

from schema.errors import BadUserInput
from schema.gids import PREFIXES, GlobalId, business_gid, decode_gid, encode_gid

CONNECTION = "conn_0a1b2c3d"
NON_BUSINESS_TYPES = [name for name in PREFIXES if name != "Business"]


def opaque(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def assert_refused(gid) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_gid(gid)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}
    assert raised.value.message == "The ID is not a valid Business API global ID."


@pytest.mark.parametrize("type_name", NON_BUSINESS_TYPES)
@pytest.mark.parametrize("provider_id", ["42", "a3f1-77c0", "with/slash", "ünïcode", "+= ?&"])
def test_a_gid_decodes_to_what_it_was_encoded_from(type_name, provider_id):
    gid = encode_gid(type_name, CONNECTION, provider_id)
    assert decode_gid(gid) == GlobalId(type_name, CONNECTION, provider_id)


@pytest.mark.parametrize("type_name", NON_BUSINESS_TYPES)
def test_a_gid_has_the_documented_form(type_name):
    gid = encode_gid(type_name, CONNECTION, "42")
    assert gid == f"gid://Sessions/{type_name}/{PREFIXES[type_name]}_{opaque(CONNECTION + '/42')}"
    assert "=" not in gid


def test_every_type_in_the_prefix_table_round_trips():
    for type_name in PREFIXES:
        if type_name == "Business":
            gid = business_gid("biz_1a2b")
        else:
            gid = encode_gid(type_name, CONNECTION, "7")
        assert decode_gid(gid).type_name == type_name


def test_a_business_gid_carries_its_public_id():
    gid = business_gid("biz_1a2b3c4d")
    assert gid == "gid://Sessions/Business/biz_1a2b3c4d"
    assert decode_gid(gid) == GlobalId("Business", "", "biz_1a2b3c4d")


def test_the_same_ids_give_the_same_gid():
    assert encode_gid("Product", CONNECTION, "9") == encode_gid("Product", CONNECTION, "9")
    assert encode_gid("Product", CONNECTION, "9") != encode_gid("Product", "conn_other", "9")


def test_an_unknown_type_cannot_be_encoded():
    with pytest.raises(KeyError):
        encode_gid("ApiKey", CONNECTION, "1")


PARTICIPANT = encode_gid("BusinessParticipant", CONNECTION, "42")
LOCAL = PARTICIPANT.rpartition("/")[2]


@pytest.mark.parametrize(
    "gid",
    [
        pytest.param(PARTICIPANT.replace("gid://Sessions/", "gid://Other/"), id="wrong root"),
        pytest.param(PARTICIPANT.replace("gid://", "https://"), id="wrong scheme"),
        pytest.param(LOCAL, id="no root"),
        pytest.param(f"gid://Sessions/ApiKey/{LOCAL}", id="unknown type"),
        pytest.param(f"gid://Sessions/businessparticipant/{LOCAL}", id="type in the wrong case"),
        pytest.param(PARTICIPANT.replace("/p_", "/reg_"), id="prefix of another type"),
        pytest.param(f"gid://Sessions/ProductPurchase/{LOCAL}", id="type of another prefix"),
        pytest.param(PARTICIPANT.replace("/p_", "/p"), id="prefix without underscore"),
        pytest.param("gid://Sessions/Business/p_1", id="business without biz prefix"),
        pytest.param("gid://Sessions/BusinessParticipant/p_a", id="bad base64 length"),
        pytest.param("gid://Sessions/BusinessParticipant/p_!!!!", id="not base64"),
        pytest.param(f"gid://Sessions/BusinessParticipant/p_{opaque('')}", id="empty payload"),
        pytest.param(
            "gid://Sessions/BusinessParticipant/p_"
            + base64.urlsafe_b64encode(b"\xff\xfe/\xff").decode(),
            id="not utf-8",
        ),
        pytest.param(f"gid://Sessions/BusinessParticipant/p_{opaque('conn_1')}", id="no separator"),
        pytest.param(f"gid://Sessions/BusinessParticipant/p_{opaque('/42')}", id="no connection"),
        pytest.param(
            f"gid://Sessions/BusinessParticipant/p_{opaque('conn_1/')}", id="no provider id"
        ),
        pytest.param("gid://Sessions/BusinessParticipant", id="no local part"),
        pytest.param("gid://Sessions/", id="root only"),
        pytest.param("", id="empty"),
        pytest.param(encode_gid("BusinessParticipant", CONNECTION, "x" * 400), id="too long"),
    ],
)
def test_a_malformed_gid_is_bad_user_input(gid):
    assert_refused(gid)


@pytest.mark.parametrize("not_text", [None, 42, b"gid://Sessions/Business/biz_1"])
def test_a_gid_that_is_not_text_is_bad_user_input(not_text):
    assert_refused(not_text)


def test_the_length_limit_is_on_the_whole_gid():
    just_fits = encode_gid("BusinessParticipant", CONNECTION, "x" * 300)
    assert len(just_fits) <= 512
    assert decode_gid(just_fits).provider_id == "x" * 300
    assert len(encode_gid("BusinessParticipant", CONNECTION, "x" * 400)) > 512
