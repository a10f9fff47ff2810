"""Where a query runs: the document cache (`document_cache`), the one analysis pass over a
document (`analysis`), the operation limits it is checked against (`operation_limits`),
the fields collected for each object (`collect`), the price (`query_cost`), the compiled
plan (`compiled`) and the executor that runs them in order (`execution`). The policy's
verdict over the same analysis is `schema/policy/enforce.py`."""
