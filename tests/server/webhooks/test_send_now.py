"""`Deliverer.send_now`, what `business-api webhooks test` sends its ping through: one
delivery at once, signed, recorded as any attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from server.store.crypto import CredentialCipher
from server.webhooks.delivery import Deliverer, Schedule
from server.webhooks.operating import write_ping
from tests.server.conftest import World

URL = "http://127.0.0.1:9/hooks"


@dataclass
class Answered:
    status: int | None
    error: str | None = None
    latency_ms: float = 3.0
    head: str = ""
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Recording:
    """A receiver's answer without the network. The real Sender (`sending.py`, with its
    address checks) is on another branch; `tests/server/webhooks/test_cli.py` sends the
    ping over a socket through it once it is merged."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answered:
        self.sent.append((url, body, headers))
        return Answered(self.status, head="nope" if self.status >= 300 else "")

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("status", [204, 500])
async def test_a_ping_is_sent_at_once_signed_and_recorded(world: World, status: int) -> None:
    subscriptions = world.services.webhooks.subscriptions
    key_id = world.keys["tremble"].split("_")[1]
    subscription, secret = await subscriptions.create(
        "tremble", URL, ["registration.created"], key_id
    )
    await subscriptions.disable(subscription.public_id, "receiver moving")
    recording = Recording(status)
    deliverer = Deliverer(
        world.services.webhooks.sessions,
        CredentialCipher(str(world.services.settings.secret_key)),
        lambda: recording,
        Schedule((0, 60), timedelta(days=5)),
        timeout=5,
        endpoint_concurrency=1,
        rng=random.Random(1),
    )
    ping = await write_ping(world.services.webhooks.sessions, subscription.public_id)
    answer = await deliverer.send_now(ping)  # a disabled subscription is tested all the same

    assert answer.delivered is (status == 204)
    [(url, body, headers)] = recording.sent
    assert url == URL and headers["webhook-id"] == ping
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "ping"
    assert payload["data"] == {"subscription": subscription.public_id}
    [delivery] = await subscriptions.deliveries(subscription.public_id)
    assert (delivery.public_id, delivery.seq, delivery.topic) == (ping, 0, "ping")
    assert delivery.attempts == 1 and delivery.tries[0].status == status
    assert delivery.state == ("delivered" if status == 204 else "pending")
    assert (await subscriptions.get(subscription.public_id)).disabled_reason == "receiver moving"
    with pytest.raises(LookupError):
        await deliverer.send_now("msg_nope")
