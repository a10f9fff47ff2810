"""Webhook subscriptions: the change log delivered to integrators' endpoints.

A subscription (the operator's: `business-api webhooks …`, the operator's GraphQL) names
a URL, topics and the API key whose scopes bound every payload. When the change log
takes an event, a delivery per matching subscription is written to the outbox in the
same transaction (`outbox.py`); a worker in every `serve` process claims due deliveries,
signs them as Standard Webhooks (`signing.py`) and sends them to public addresses only
(`sending.py`), retrying on a schedule and disabling an endpoint that keeps failing
(`delivery.py`). `business-api webhooks listen` is a receiver for trying it locally
(`receiver.py`).
"""

# Why a subscription the operator disabled is disabled, unless the operator says; here, so
# that the command line reads it without loading the store.
BY_OPERATOR = "disabled by the operator"
