"""What the server tells its operator: a request id, one log line and metrics per request,
and trace spans through the OpenTelemetry API."""
