#!/usr/bin/env bash
# Refreshes the GraphiQL explorer's assets in server/static/graphiql/ from npm.
#
# The explorer is served from this server, never from a CDN, because the machines it runs on
# may have no internet. Bump a version below, run this script, open the explorer
# (GET /@{handle}/api/graphql in a browser), run tests/browser/, and commit the result.
set -euo pipefail

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1
REACT_DOM_VERSION=18.3.1

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/server/static/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION: unpacks NAME@VERSION's published tarball into $work/NAME/package/.
fetch() {
    local name="$1" version="$2"
    mkdir -p "$work/$name"
    local tarball
    tarball="$(cd "$work/$name" && npm pack --silent "$name@$version" | tail -n 1)"
    tar -xzf "$work/$name/$tarball" -C "$work/$name"
}

fetch graphiql "$GRAPHIQL_VERSION"
fetch react "$REACT_VERSION"
fetch react-dom "$REACT_DOM_VERSION"

rm -rf "$dest"
mkdir -p "$dest"
cp "$work/graphiql/package/graphiql.min.js" "$dest/graphiql.min.js"
cp "$work/graphiql/package/graphiql.min.css" "$dest/graphiql.min.css"
cp "$work/graphiql/package/LICENSE" "$dest/LICENSE.graphiql"
cp "$work/react/package/umd/react.production.min.js" "$dest/react.production.min.js"
cp "$work/react/package/LICENSE" "$dest/LICENSE.react"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$dest/react-dom.production.min.js"
cp "$work/react-dom/package/LICENSE" "$dest/LICENSE.react-dom"

# The bundle must not reach out at run time: no script, worker or font from a CDN.
if grep -Eq 'https?://(unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com)' \
    "$dest/graphiql.min.js" "$dest/graphiql.min.css"; then
    echo "warning: the GraphiQL bundle names a CDN URL; check it loads nothing at run time" >&2
fi

cat > "$dest/VERSIONS" <<VERSIONS
graphiql@$GRAPHIQL_VERSION
react@$REACT_VERSION
react-dom@$REACT_DOM_VERSION
VERSIONS

echo "vendored into $dest:"
ls -l "$dest"
