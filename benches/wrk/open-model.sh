#!/usr/bin/env bash
# The open model's accuracy (issue 21), against `otpbench serve`'s /healthz:
# the server pinned to core 0, the generator (and the peers) to core 1, both
# at real-time FIFO priority so other work on the machine cannot take their
# cores. A fresh server per run; three alternating rounds of everything.
#
#   benches/wrk/open-model.sh [BIN] [MODE...]
#
# MODE (default: all of them):
#   capacity   closed model, 64 connections: wrk against otpbench, with each
#              generator's CPU time per run
#   single     one connection, closed loop: the server's own p50
#   pool       open model at $RATE (default 50000/s) with 8 and with 256
#              connections
#   half       open model at $HALF/s (default: half the capacity found)
#   oha        open model against `oha --latency-correction` at $RATES
#              (default "20000 50000 100000"), 64 connections each
#
# Needs wrk (Debian package), oha (`cargo install oha`) for `oha`, python3,
# chrt and taskset; run as root for the real-time priority (or set RT=).
# Figures: docs/performance.md, "Load generator".
set -euo pipefail
BIN=${1:-target/release/otpbench}
shift || true
MODES=${*:-capacity single pool half oha}
OUT=${OUT:-$(mktemp -d)}
PORT=${PORT:-18091}
URL=http://127.0.0.1:$PORT/healthz
RT=${RT-chrt -f 50}
OHA=${OHA:-oha}
ROUNDS=${ROUNDS:-3}

start() {
  $RT taskset -c 0 "$BIN" serve --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
  SERVER=$!
  sleep 0.7
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
gen() { $RT taskset -c 1 "$@"; }
ours() { # ours NAME ARGS...: one otpbench run, its figures on one line
  local name=$1; shift
  gen timeout 120 "$BIN" load --url "$URL" --workers 1 --quiet --report "$OUT/$name" "$@" >/dev/null
  python3 - "$OUT/$name/report.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); g = d.get("generator", {}); o = d["operations"]["http"]
l, s, w = o["latency_us"], o["service_time_us"], o.get("wait_us", {})
print(f"{sys.argv[2]:>16}: {d['throughput_rps']:9.0f}/s  p50 {l['p50']} p90 {l['p90']} p99 {l['p99']} us"
      f"  (send->answer p50 {s['p50']}, wait p50 {w.get('p50')})"
      f"  queued {g.get('queued')} late {g.get('late')} dropped {d.get('dropped')}")
PY
}
capacity_rps=
uptime
for mode in $MODES; do
  case $mode in
  capacity)
    for r in $(seq "$ROUNDS"); do
      start
      /usr/bin/time -f "  wrk cpu %U+%S s" $RT taskset -c 1 wrk -t1 -c64 -d5s "$URL" 2>&1 | grep -E "Requests/sec|cpu"
      stop; start
      /usr/bin/time -f "  otpbench cpu %U+%S s" $RT taskset -c 1 "$BIN" load --url "$URL" --concurrency 64 \
        --workers 1 --duration 5s --quiet --report "$OUT/closed-$r" 2>&1 | grep -E "requests in|cpu"
      stop
      capacity_rps=$(python3 -c "import json;print(int(json.load(open('$OUT/closed-$r/report.json'))['throughput_rps']))")
    done ;;
  single)
    for r in $(seq "$ROUNDS"); do start; ours "single-$r" --concurrency 1 --duration 5s; stop; done ;;
  pool)
    for r in $(seq "$ROUNDS"); do for c in 8 256; do
      start; ours "pool-c$c-$r" --rate "${RATE:-50000}" --connections $c --duration 8s; stop
    done; done ;;
  half)
    half=${HALF:-$(( ${capacity_rps:-50000} / 2 ))}
    for r in $(seq "$ROUNDS"); do start; ours "half$half-$r" --rate "$half" --connections 64 --duration 8s; stop; done ;;
  oha)
    for rate in ${RATES:-20000 50000 100000}; do for r in $(seq "$ROUNDS"); do
      start; ours "ours$rate-$r" --rate "$rate" --connections 64 --duration 8s; stop
      start
      gen timeout 120 "$OHA" -q "$rate" --latency-correction -c 64 -z 8s --no-tui --output-format json "$URL" \
        > "$OUT/oha$rate-$r.json" 2>/dev/null || true
      stop
      python3 - "$OUT/oha$rate-$r.json" "oha$rate-$r" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["latencyPercentiles"]
print(f"{sys.argv[2]:>16}: {d['summary']['requestsPerSec']:9.0f}/s  p50 {p['p50']*1e6:.0f} p90 {p['p90']*1e6:.0f} p99 {p['p99']*1e6:.0f} us")
PY
    done; done ;;
  *) echo "unknown mode: $mode (capacity, single, pool, half, oha)" >&2; exit 2 ;;
  esac
done
uptime
echo "reports: $OUT"
