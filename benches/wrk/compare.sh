#!/usr/bin/env bash
# Send throughput of each dialect against /healthz throughput of the same
# server (the engine issue's goal: send >= 0.8x healthz, for every dialect).
#
# The server is pinned to one core and wrk to the other (taskset), one wrk
# thread, loopback only, a fresh server per run. Runs alternate healthz and
# send for ROUNDS rounds (and, within a round, the binaries of BINS); the
# summary gives medians. Besides requests per second it reports the
# server's CPU time per request (from /proc), which a noisy host disturbs
# far less than wall-clock throughput.
#
# Usage: benches/wrk/compare.sh [DURATION] [CONNECTIONS] [ROUNDS] [DIALECT…]
#        (defaults: 10s 64 3 native)
# Environment:
#   BINS="before=/tmp/a/otpbench after=target/release/otpbench"
#        label=path pairs, measured side by side in the same rounds
#        (default: this checkout's release build, built first)
#   RT=1 run server and wrk under SCHED_FIFO (chrt -f 50) on their pinned
#        cores, so other work on a shared machine cannot preempt them
#        (needs root or CAP_SYS_NICE)
#   SERVER_CPU, WRK_CPU   the cores (defaults 0 and 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
connections=${2:-64}
rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
dialects=("${@:-native}")
server_cpu=${SERVER_CPU:-0}
wrk_cpu=${WRK_CPU:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
if [ -z "${BINS:-}" ]; then
  cargo build --release --quiet
  BINS="otpbench=target/release/otpbench"
fi
read -r -a bins <<<"$BINS"
for entry in "${bins[@]}"; do
  [ -x "${entry#*=}" ] || { echo "not an executable: ${entry#*=} (in BINS)" >&2; exit 1; }
done
realtime=()
if [ "${RT:-0}" = 1 ]; then
  chrt -f 50 true 2>/dev/null || { echo "RT=1: chrt -f 50 is not allowed here" >&2; exit 1; }
  realtime=(chrt -f 50)
fi
ticks=$(getconf CLK_TCK)
results=$(mktemp)
trap 'rm -f "$results"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # label binary name path [wrk args...]  ($name picks the send script's dialect)
  local label=$1 bin=$2 name=$3 path=$4; shift 4
  local port pid before after out rps requests
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$server_cpu" "${realtime[@]}" "$bin" serve --listen "127.0.0.1:$port" 2>/dev/null &
  pid=$!
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [ "$name" = loyaltydog ]; then
    OTPBENCH_JWT=$(curl -fs "http://127.0.0.1:$port/v2/token" -H 'Content-Type: application/json' \
      -d '{"api_key": "test-key"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    export OTPBENCH_JWT
  fi
  before=$(cpu_ticks "$pid")
  out=$(DIALECT=$name taskset -c "$wrk_cpu" "${realtime[@]}" wrk -t1 -c"$connections" -d"$duration" --latency "$@" "http://127.0.0.1:$port$path")
  after=$(cpu_ticks "$pid")
  kill -INT "$pid"; wait "$pid" || true
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  local us_per_request
  us_per_request=$(awk -v t=$((after - before)) -v hz="$ticks" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  printf '%-8s %-10s %10s req/s  p50 %8s  p99 %8s  server CPU %6s us/req  non-2xx %s\n' "$label" "$name" "$rps" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$us_per_request" "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
  echo "$label $name $rps $us_per_request" >> "$results"
}

for _ in $(seq "$rounds"); do
  for entry in "${bins[@]}"; do
    label=${entry%%=*} bin=${entry#*=}
    run "$label" "$bin" healthz /healthz
    for dialect in "${dialects[@]}"; do
      run "$label" "$bin" "$dialect" "" -s benches/wrk/dialect-send.lua
    done
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for entry in "${bins[@]}"; do
  label=${entry%%=*}
  h_rps=$(awk -v l="$label" '$1==l && $2=="healthz" {print $3}' "$results" | median)
  h_cpu=$(awk -v l="$label" '$1==l && $2=="healthz" {print $4}' "$results" | median)
  printf '%s median: healthz %.0f req/s (%.2f us CPU/req)\n' "$label" "$h_rps" "$h_cpu"
  for dialect in "${dialects[@]}"; do
    s_rps=$(awk -v l="$label" -v d="$dialect" '$1==l && $2==d {print $3}' "$results" | median)
    s_cpu=$(awk -v l="$label" -v d="$dialect" '$1==l && $2==d {print $4}' "$results" | median)
    awk -v l="$label" -v d="$dialect" -v hr="$h_rps" -v sr="$s_rps" -v hc="$h_cpu" -v sc="$s_cpu" 'BEGIN {
      printf "%-8s %-10s send %6.0f req/s (%5.2f us CPU/req)  / healthz: throughput %.2f, by CPU %.2f\n", l, d, sr, sc, sr / hr, hc / sc
    }'
  done
done
