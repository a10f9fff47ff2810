"""With Redis unreachable, requests are still limited, in process, and never fail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import World


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"redis_url": "redis://127.0.0.1:1/0", "key_rate_limit": 3}


async def test_a_redis_outage_keeps_limiting_and_never_answers_500(world: World) -> None:
    statuses = [(await world.query("{ activeBusiness { name } }")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
