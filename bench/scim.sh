#!/usr/bin/env bash
# Benchmark: a SCIM bulk load (issue 21: 20,000 users through the API in under 5 minutes).
#
#   bench/scim.sh postgres|sqlite [users] [concurrency]
#
# Set-up: a fresh database; `trellis demo` (release build, pinned to core 0), whose Northmoor has
# its mandatory training rules; a token with the scim scope from `trellis api-token`.
# Measured: bench/scim_load.py (pinned to core 1) provisions USERS (default 20,000) new staff at
# CONCURRENCY (default 16) requests at once, each a POST /scim/v2/Users as Entra ID sends it (an
# account, an approved membership, the staff record, the trust's rules applied to the person and
# the audit entry, in one transaction): total time, users/s, p50/p99, and every response 201;
# then totalResults and a filter by userName are checked.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/scim.sh postgres|sqlite [users] [concurrency]}
users=${2:-20000}
concurrency=${3:-16}
port=18083
source bench/lib.sh
bin=${TRELLIS_BIN:-target/release/trellis}
host=northmoor.localhost
base="http://127.0.0.1:$port"

"$bin" migrate >/dev/null
"$bin" tenants apply tenants >/dev/null
taskset -c 0 "$bin" demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done
token=$("$bin" api-token --scope scim northmoor "Bench identity system" | sed 's/^token: //')
before=$(ticks)
result=$(taskset -c 1 python3 bench/scim_load.py "127.0.0.1:$port" "$host" "$token" "$users" "$concurrency")
cpu=$(( $(ticks) - before ))
echo "$result"
python3 - "$result" "$cpu" "$hz" "$backend" <<'PY'
import json, sys
r, cpu, hz, backend = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print()
print("| database | users | concurrency | time | users/s | p50 | p99 | server CPU per user | refused |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {backend} | {r['users']:,} | {r['concurrency']} | {r['seconds']} s | {r['users_per_second']} | {r['p50_ms']} ms "
      f"| {r['p99_ms']} ms | {cpu / hz / r['users'] * 1000:.2f} ms | {r['refused']} |")
PY
