#!/usr/bin/env bash
# Benchmark: a marketing-pack poster (issue 22: an A4 poster PDF in under 300 ms).
#
#   bench/poster.sh [sqlite|postgres] [seconds]
#
# Set-up: a fresh database and `trellis demo` (release build unless TRELLIS_BIN says otherwise,
# pinned to core 0). Measured: wrk (Debian, pinned to core 1), one connection, keep-alive, SECONDS
# (default 10) after a 3 s warm-up, GET /admin/marketing/posters/1.pdf as the demo training
# manager (Northmoor): each request lays out and draws the whole poster, QR code included.
# Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-10}
port=18087
source bench/lib.sh
bin=${TRELLIS_BIN:-target/release/trellis}
host=northmoor.localhost
base="http://127.0.0.1:$port"

"$bin" migrate >/dev/null
"$bin" tenants apply tenants >/dev/null
taskset -c 0 "$bin" demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done

manager=$(sign_in training.manager@northmoor.example)
bytes=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/marketing/posters/1.pdf" | wc -c)
[[ "$bytes" -gt 1000 ]] || { echo "no poster ($bytes bytes)"; exit 1; }
taskset -c 1 wrk -t1 -c1 -d3s -H "Host: $host" -H "Cookie: $manager" "$base/admin/marketing/posters/1.pdf" >/dev/null
out=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -H "Host: $host" -H "Cookie: $manager" "$base/admin/marketing/posters/1.pdf")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
echo
echo "| database | poster bytes | requests/s | p50 | p99 |"
echo "| --- | --- | --- | --- | --- |"
echo "| $backend | $bytes | $rps | $p50 | $p99 |"
