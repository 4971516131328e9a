#!/usr/bin/env bash
# schemathesis against `otpbench serve --test-mode`, every dialect, with
# the OpenAPI documents under openapi/: no 5xx, every status and content
# type documented, every body matching its schema. Bounded: N examples
# per operation (default 30, OTPBENCH_ST_EXAMPLES), a fixed seed, and
# `timeout` around each dialect's run (schemathesis' own --max-time is a
# budget it spends, not a cap). Prints the cases generated per dialect.
# Usage: tests/schemathesis.sh target/debug/otpbench
set -euo pipefail
bin=${1:?usage: tests/schemathesis.sh PATH-TO-OTPBENCH}
examples=${OTPBENCH_ST_EXAMPLES:-30}
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
log=$(mktemp)
"$bin" serve --test-mode --listen 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT
base=
for _ in $(seq 100); do
  base=$(grep -o 'listening on http://[0-9.:]*' "$log" | sed 's/listening on //' || true)
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "schemathesis.sh: otpbench serve did not start"; cat "$log"; exit 1; }
# The served documents are the files.
for dialect in native rees46 sigmasms valify nomado loyaltydog; do
  curl -sf "$base/openapi/$dialect.json" | cmp -s - "openapi/$dialect.json" \
    || { echo "schemathesis.sh: $base/openapi/$dialect.json is not openapi/$dialect.json"; exit 1; }
done
jwt=$(curl -sf -X POST "$base/v2/token" -H 'Content-Type: application/json' \
  -d '{"api_key": "test-key"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
status=0
for dialect in native rees46 sigmasms valify nomado loyaltydog; do
  case $dialect in
    rees46) auth=() ;;                     # credentials travel in the body
    nomado) auth=(--auth test:test) ;;
    loyaltydog) auth=(-H "Authorization: Bearer $jwt") ;;
    *) auth=(-H "Authorization: Bearer test-token") ;;
  esac
  out=$(timeout 180 st run "$base/openapi/$dialect.json" --url "$base" "${auth[@]}" \
    --checks "$checks" --max-examples "$examples" --seed 1 --no-color 2>&1) \
    || { status=1; echo "$out"; }
  cases=$(echo "$out" | grep -Eo '[0-9]+ generated' | head -1)
  echo "schemathesis $dialect: ${cases:-? generated} ($(echo "$out" | tail -1 | tr -d '=' | xargs))"
done
exit $status
