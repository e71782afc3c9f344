#!/usr/bin/env bash
# schemathesis (PyPI) against a fresh `letsdata server`'s /openapi.json: no request may get a
# 5xx, and every response must match the document (status codes, content types, bodies).
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES]   (default 30 per operation; scripts/test.sh
# runs the default, a longer run takes e.g. 500). Needs a built `letsdata` in $CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES="${1:-30}"
CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
TARGET="${CARGO_TARGET_DIR:-$CACHE/target}"
LETSDATA="$TARGET/debug/letsdata"
[ -x "$LETSDATA" ] || cargo build --locked -p letsdata
ST_VENV="$CACHE/schemathesis"
if ! "$ST_VENV/bin/st" --version >/dev/null 2>&1; then
  echo "installing schemathesis into $ST_VENV"
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4,<5"
fi
HOME_DIR="$(mktemp -d)"
export LETSDATA_HOME="$HOME_DIR"
unset LETSDATA_DATABASE_URL LETSDATA_AWS_ENDPOINT LETSDATA_ENDPOINT LETSDATA_API_KEY
"$LETSDATA" admin tenants create --tenantName schemathesis >/dev/null
KEY="$("$LETSDATA" admin apikeys create --tenantName schemathesis \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["apiKey"])')"
"$LETSDATA" server --listen 127.0.0.1:0 >"$HOME_DIR/listening" 2>"$HOME_DIR/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$HOME_DIR"' EXIT
for _ in $(seq 1 100); do
  [ -s "$HOME_DIR/listening" ] && break
  sleep 0.1
done
URL="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["listening"])' "$HOME_DIR/listening")"
echo "schemathesis against $URL/openapi.json, $MAX_EXAMPLES examples per operation"
"$ST_VENV/bin/st" run "$URL/openapi.json" \
  --header "Authorization: Bearer $KEY" \
  --max-examples "$MAX_EXAMPLES" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance
if grep -q '"level":"ERROR"' "$HOME_DIR/server.log"; then
  echo "the server logged errors:" >&2
  grep '"level":"ERROR"' "$HOME_DIR/server.log" | head -20 >&2
  exit 1
fi
