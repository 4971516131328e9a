#!/usr/bin/env bash
# Delivery figures: messages the mock provider journals per second, and
# native send throughput with delivery over HTTP against in-process.
#
# The server under test is pinned to core 0; wrk (one thread, 64
# connections) to core 1. With --provider, the provider shares core 1 with
# wrk: a 2-core machine has no third core, so that run understates what a
# separate provider host would allow. Loopback only.
#
# Usage: benches/wrk/delivery.sh [DURATION]   (default 10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/otpbench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 50); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # label pid port wrk-args...
  local label=$1 pid=$2 port=$3; shift 3
  local before after out requests
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c64 -d"$duration" "$@" "http://127.0.0.1:$port")
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-34s %10s req/s  CPU of the measured server %6s us/req  non-2xx %s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}

# 1. The provider alone.
pport=$(free_port)
taskset -c 0 "$bin" provider --listen "127.0.0.1:$pport" 2>/dev/null & ppid=$!
wait_up "$pport"
measure "provider: messages journaled" "$ppid" "$pport" -s benches/wrk/provider-messages.lua
kill -INT "$ppid"; wait "$ppid" || true

# 2. Native sends, in-process journal.
sport=$(free_port)
taskset -c 0 "$bin" serve --listen "127.0.0.1:$sport" 2>/dev/null & spid=$!
wait_up "$sport"
measure "send, in-process delivery" "$spid" "$sport" -s benches/wrk/dialect-send.lua
kill -INT "$spid"; wait "$spid" || true

# 3. Native sends delivered over HTTP to the provider.
pport=$(free_port); sport=$(free_port)
taskset -c 1 "$bin" provider --listen "127.0.0.1:$pport" 2>/dev/null & ppid=$!
wait_up "$pport"
taskset -c 0 "$bin" serve --listen "127.0.0.1:$sport" --provider "http://127.0.0.1:$pport" 2>/dev/null & spid=$!
wait_up "$sport"
measure "send, HTTP delivery to provider" "$spid" "$sport" -s benches/wrk/dialect-send.lua
journaled=$(curl -s "http://127.0.0.1:$pport/_admin/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["channels"]["sms"]["journaled"])')
echo "provider journaled $journaled messages during the HTTP-delivery run"
kill -INT "$spid" "$ppid"; wait "$spid" "$ppid" || true
