// Runs graphql-http's GraphQL-over-HTTP server audit against a running endpoint.
//
//   node tests/http_audit/audit.mjs URL KEY
//
// Every audit request carries `Authorization: Bearer KEY`, since the endpoint answers
// nothing without a key. Prints one JSON line per audit: {"id", "name", "status", "reason"},
// where status is "ok", "warn" (a failed SHOULD), "error" (a failed MUST) or "notice"
// (a failed MAY). Exits 0 whatever the results; the caller judges them.
import { auditServer } from "graphql-http";

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error("usage: node audit.mjs URL KEY");
  process.exit(2);
}

/** The request's headers as a plain object, whether given as Headers, pairs, an object or not at all. */
function headers(init) {
  const given = init?.headers;
  if (!given) return {};
  return Object.fromEntries(new Headers(given).entries());
}

const results = await auditServer({
  url,
  fetchFn: (input, init) =>
    fetch(input, { ...init, headers: { ...headers(init), Authorization: `Bearer ${key}` } }),
});

for (const { id, name, status, reason } of results) {
  console.log(JSON.stringify({ id, name, status, reason: reason ?? null }));
}
process.exit(0);
