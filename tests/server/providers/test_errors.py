"""The hierarchy of upstream failures (`server/providers/errors.py`) and the kinds that
label them in `business_api_upstream_errors_total`."""

from __future__ import annotations

import inspect

from server.limits.passes import WaitTooLong
from server.providers import errors
from server.providers.breaker import CircuitOpen

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.ProviderError) and cls.__module__ == errors.__name__
]

# The label values dashboards and alerts already read.
LABELS = {
    "ProviderError": "other",
    "ProviderUnavailable": "unavailable",
    "ProviderUnreachable": "unreachable",
    "ProviderTimedOut": "timeout",
    "ProviderThrottled": "throttled",
    "ProviderRejected": "rejected",
    "ProviderNotFound": "not_found",
    "InvalidResponse": "invalid_response",
}


def test_every_error_class_has_a_kind_of_its_own() -> None:
    kinds = [cls.kind for cls in ERROR_CLASSES]
    assert all(isinstance(kind, str) and kind for kind in kinds)
    assert len(set(kinds)) == len(ERROR_CLASSES), sorted(kinds)


def test_the_kinds_are_the_labels_the_metric_has_always_used() -> None:
    assert {cls.__name__: cls.kind for cls in ERROR_CLASSES} == LABELS


def test_a_failure_defined_elsewhere_is_counted_under_its_parent_kind() -> None:
    assert CircuitOpen("fake", 5.0).kind == "unavailable"
    assert WaitTooLong("fake", 90.0, "Retry-After", 60.0).kind == "other"
