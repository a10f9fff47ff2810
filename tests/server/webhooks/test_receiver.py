"""The local receiver, on a real socket (the session's `upstream`), fed deliveries signed
by the standardwebhooks library as an independent signer."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from server.webhooks.receiver import Verified, line, listener, receiver_app
from tests.upstream import SocketUpstream

OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 24).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 24).decode()
GID = "gid://business-api/Registration/42"
SAFETY_SECONDS = 20


def payload(data: Any = None, kind: str = "registration.created") -> bytes:
    envelope = {"type": kind, "timestamp": "2026-03-01T10:00:00Z", "data": data or {"id": GID}}
    return json.dumps(envelope).encode()


def signed(
    body: bytes,
    *secrets: str,
    msg_id: str = "msg_1",
    at: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers, one signature per secret (space-separated)."""
    when = at or datetime.now(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
    }


class Mounted:
    """A receiver app on the session's socket, with what it handed to `on_delivery`."""

    def __init__(self, upstream: SocketUpstream, secret: str | list[str], keep: int = 50):
        self.deliveries: list[Verified] = []
        self.base = upstream.mount(receiver_app(secret, self.deliveries.append, keep=keep), "hook")
        self.client = httpx.AsyncClient(trust_env=False)

    async def post(self, body: bytes, headers: dict[str, str], path: str = "/") -> httpx.Response:
        return await self.client.post(self.base + path, content=body, headers=headers)

    async def page(self) -> str:
        response = await self.client.get(self.base + "/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        return response.text


@pytest.fixture
async def mount(upstream: SocketUpstream) -> Any:
    mounted: list[Mounted] = []

    def mounting(secret: str | list[str], keep: int = 50) -> Mounted:
        mounted.append(Mounted(upstream, secret, keep))
        return mounted[-1]

    yield mounting
    for each in mounted:
        await each.client.aclose()
        upstream.unmount(each.base)
    upstream.assert_no_failures()


async def test_a_signed_delivery_is_verified_answered_204_and_recorded(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    body = payload()
    response = await receiver.post(body, signed(body, NEW_SECRET), path="/any/path")
    assert response.status_code == 204
    (verified,) = receiver.deliveries
    assert verified.webhook_id == "msg_1"
    assert verified.type == "registration.created"
    assert verified.timestamp == "2026-03-01T10:00:00Z"
    assert verified.data == {"id": GID}
    assert line(verified) == f"2026-03-01T10:00:00Z registration.created {GID} (msg_1)"


async def test_a_wrong_signature_is_answered_400_and_not_recorded(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    body = payload()
    response = await receiver.post(body, signed(body, OLD_SECRET))
    assert response.status_code == 400
    assert response.text == "no signature matches the secret\n"
    assert receiver.deliveries == []
    assert "No verified deliveries yet" in await receiver.page()


async def test_a_body_changed_after_signing_is_refused(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    headers = signed(payload(), NEW_SECRET)
    response = await receiver.post(payload({"id": "gid://business-api/Registration/43"}), headers)
    assert response.status_code == 400 and receiver.deliveries == []


async def test_a_stale_timestamp_is_answered_400_and_not_recorded(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    body = payload()
    stale = datetime.now(UTC) - timedelta(minutes=10)
    response = await receiver.post(body, signed(body, NEW_SECRET, at=stale))
    assert response.status_code == 400
    assert "more than 5 minutes old" in response.text
    assert receiver.deliveries == []


async def test_missing_headers_are_answered_400(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    response = await receiver.post(payload(), {"content-type": "application/json"})
    assert response.status_code == 400
    assert "missing webhook-id" in response.text


async def test_the_body_is_parsed_only_after_it_verifies(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    garbage = b"{not json"
    unsigned = await receiver.post(garbage, signed(garbage, OLD_SECRET))
    assert unsigned.text == "no signature matches the secret\n"
    ours = await receiver.post(garbage, signed(garbage, NEW_SECRET))
    assert ours.status_code == 400 and ours.text == "the body is not JSON\n"
    assert receiver.deliveries == []


async def test_during_rotation_either_secret_verifies(mount: Any) -> None:
    """The sender signs with both secrets while they overlap: a receiver still on the old
    one and a receiver already on the new one both verify; a receiver given both verifies
    a delivery signed with either alone."""
    body = payload()
    both = signed(body, NEW_SECRET, OLD_SECRET)
    assert " " in both["webhook-signature"]
    for secret in (OLD_SECRET, NEW_SECRET):
        assert (await mount(secret).post(body, both)).status_code == 204
    rotating = mount([OLD_SECRET, NEW_SECRET])
    for index, secret in enumerate((OLD_SECRET, NEW_SECRET)):
        response = await rotating.post(body, signed(body, secret, msg_id=f"msg_{index}"))
        assert response.status_code == 204
    assert len(rotating.deliveries) == 2


async def test_the_page_shows_deliveries_html_escaped_newest_first(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    hostile = {"id": GID, "name": "<script>alert(1)</script>"}
    first = payload(hostile)
    second = payload({"id": GID}, kind="registration.<b>updated</b>")
    await receiver.post(first, signed(first, NEW_SECRET, msg_id="msg_first"))
    await receiver.post(second, signed(second, NEW_SECRET, msg_id="msg_second"))
    page = await receiver.page()
    assert "<script>alert" not in page and "<b>updated" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "registration.&lt;b&gt;updated&lt;/b&gt;" in page
    assert page.index("msg_second") < page.index("msg_first")
    assert "&quot;id&quot;: &quot;gid://business-api/Registration/42&quot;" in page


async def test_a_retry_shows_once_with_a_count(mount: Any) -> None:
    receiver = mount(NEW_SECRET)
    body = payload()
    for _ in range(3):
        response = await receiver.post(body, signed(body, NEW_SECRET, msg_id="msg_retried"))
        assert response.status_code == 204
    page = await receiver.page()
    assert page.count("msg_retried") == 1
    assert "×3" in page
    assert len(receiver.deliveries) == 3  # each attempt is still reported


async def test_the_page_keeps_only_the_latest_deliveries(mount: Any) -> None:
    receiver = mount(NEW_SECRET, keep=2)
    for index in range(3):
        body = payload()
        await receiver.post(body, signed(body, NEW_SECRET, msg_id=f"msg_{index}"))
    page = await receiver.page()
    assert "msg_0" not in page and "msg_1" in page and "msg_2" in page


def test_a_secret_that_is_not_a_key_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        receiver_app("whsec_", lambda verified: None)
    with pytest.raises(ValueError):
        receiver_app([], lambda verified: None)


def test_line_falls_back_to_compact_data_without_an_id() -> None:
    verified = Verified(
        "msg_9", "source.sync.completed", "2026-01-01T00:00:00Z", {"n": 1}, datetime.now(UTC)
    )
    assert line(verified) == '2026-01-01T00:00:00Z source.sync.completed {"n":1} (msg_9)'


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening(free_port: int) -> Iterator[tuple[str, list[str]]]:
    """The listener the CLI runs, in a thread; its URL and the lines it printed."""
    printed: list[str] = []
    server = listener(NEW_SECRET, "127.0.0.1", free_port, printed.append)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SAFETY_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the listener did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{free_port}/", printed
    finally:
        server.should_exit = True
        thread.join(SAFETY_SECONDS)


async def test_the_listener_prints_a_line_per_verified_delivery(
    listening: tuple[str, list[str]],
) -> None:
    url, printed = listening
    body = payload()
    async with httpx.AsyncClient(trust_env=False) as client:
        good = await client.post(url, content=body, headers=signed(body, NEW_SECRET))
        bad = await client.post(url, content=body, headers=signed(body, OLD_SECRET))
    assert (good.status_code, bad.status_code) == (204, 400)
    assert printed == [f"2026-03-01T10:00:00Z registration.created {GID} (msg_1)"]
