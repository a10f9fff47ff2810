"""The one hierarchy of upstream failures, in the kinds an operator acts on.

Adapters and the provider HTTP layer raise only these. Their `detail` is for the log
(status, exception type, what was wrong with a body); it never reaches a client, which
sees UPSTREAM_UNAVAILABLE naming the provider and nothing of the provider's text.

Each class names its `kind`: the label of `business_api_upstream_errors_total` that counts
it (dashboards read these values, so they do not change). A subclass defined elsewhere
inherits its parent's kind unless it says its own.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed. `transient` failures are worth another try."""

    kind = "other"
    transient = False

    def __init__(self, provider: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{provider}: {detail}")
        self.provider = provider
        self.detail = detail
        self.status = status


class ProviderUnavailable(ProviderError):
    """No usable answer: unreachable, timed out, or a 5xx."""

    kind = "unavailable"
    transient = True


class ProviderUnreachable(ProviderUnavailable):
    """No connection to the provider, or one lost before it answered. `reason` says why
    in a few words ("connection refused", "host not found"), for the operator."""

    kind = "unreachable"

    def __init__(self, provider: str, detail: str, reason: str) -> None:
        super().__init__(provider, detail)
        self.reason = reason


class ProviderTimedOut(ProviderUnavailable):
    """The call's total deadline of `seconds` passed before the answer was read."""

    kind = "timeout"

    def __init__(self, provider: str, seconds: float) -> None:
        super().__init__(provider, f"timed out after {seconds:g} s")
        self.seconds = seconds


class ProviderThrottled(ProviderUnavailable):
    """429: the provider asked us to wait `retry_after` seconds (None when it did not say)."""

    kind = "throttled"

    def __init__(
        self, provider: str, detail: str, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(provider, detail, status)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """401/403: the credential is refused. Not retried: the operator must fix it."""

    kind = "rejected"


class ProviderNotFound(ProviderError):
    """404 for one object asked by id: an answer ("there is none"), not an outage."""

    kind = "not_found"


class InvalidResponse(ProviderError):
    """A body that is not the documented JSON: wrong types, too large, nested too deep,
    or paging that never ends."""

    kind = "invalid_response"
