"""An emulator for the fake provider, on the shared kit: offset paging, a batch lookup."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.providers.emulated.emulation import Emulator, EmulatorError, Endpoint
from tests.server.providers.fake.dataset import FakeDataset


def _error(status: int, message: str) -> EmulatorError:
    return EmulatorError(status, {"problem": message})


class FakeEmulator(Emulator):
    def __init__(self, dataset: FakeDataset, token: str) -> None:
        self.dataset, self._token = dataset, token
        super().__init__(
            [
                Endpoint("GET", "/people", "people.list", self._people),
                Endpoint("POST", "/attendance", "attendance.batch", self._attendance),
            ],
            authenticate=self._authenticate,
            error=_error,
        )

    def _authenticate(self, request: Request) -> None:
        if request.headers.get("x-fake-token") != self._token:
            raise _error(401, "who are you")

    def _people(self, request: Request, body: Any) -> Any:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 10))
        return {"people": list(self.dataset.people[offset : offset + limit])}

    def _attendance(self, request: Request, body: Any) -> Any:
        return {i: list(self.dataset.attendance.get(i, ())) for i in body["ids"]}
