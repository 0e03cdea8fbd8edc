#!/usr/bin/env bash
# Benchmark: a trust's home page rendered from the database (one indexed query for its current
# key messages inside a tenant-scoped transaction; no page cache), with wrk from Debian.
#
#   bench/home.sh sqlite|postgres [seconds]
#
# Workload: GET / with Host: northmoor.localhost, keep-alive, at 1, 16 and 64 connections for
# SECONDS each (default 10) after a 3 s warm-up. The server (release build) is pinned to core 0
# and wrk to core 1 (`taskset`); PostgreSQL, when used, is not pinned. Reports requests/s, p50 and
# p99 latency, server CPU time per request (from /proc/<pid>/stat) and the server's peak resident
# memory (VmHWM). BENCH_POOL sets the application pool (default 8, as deployed). PostgreSQL: set BENCH_POSTGRES_URL (a superuser URL; default
# postgres://postgres@127.0.0.1:5432/test); a database trellis_bench is made and dropped.
# Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/home.sh sqlite|postgres [seconds]}
secs=${2:-10}
port=18080
source bench/lib.sh
target/release/trellis migrate >/dev/null
target/release/trellis tenants apply tenants >/dev/null
taskset -c 0 target/release/trellis serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null -H 'Host: northmoor.localhost' "http://127.0.0.1:$port/" && break; sleep 0.1; done
curl -fs -H 'Host: northmoor.localhost' "http://127.0.0.1:$port/" | grep -q 'Northmoor' || { echo "server not serving"; cat "$work/serve.log"; exit 1; }

url="http://127.0.0.1:$port/"
taskset -c 1 wrk -t1 -c16 -d3s -H 'Host: northmoor.localhost' "$url" >/dev/null   # warm-up
echo "| backend | connections | requests/s | p50 | p99 | server CPU per request |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for c in 1 16 64; do
  before=$(ticks)
  out=$(taskset -c 1 wrk -t1 -c"$c" -d"${secs}s" --latency -H 'Host: northmoor.localhost' "$url")
  after=$(ticks)
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.0f µs", t / hz * 1e6 / n }')
  echo "| $backend | $c | $rps | $p50 | $p99 | $cpu |"
  [[ -z "$errors" ]] || echo "  errors: $errors"
done
echo
echo "peak server memory (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$server_pid/status")"
