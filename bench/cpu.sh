#!/usr/bin/env bash
# Benchmark: server CPU per request — the trellis process plus, on PostgreSQL, the database
# backends serving it — for the sign-in page, a course page, My learning, and the homes of a
# learner and of a training manager.
#
#   bench/cpu.sh sqlite|postgres [seconds]
#
# The demo (`trellis demo`, release build, pinned to core 0) on a fresh database; the demo learner
# signs in over HTTP and accepts the terms. Each page is then loaded by wrk (Debian, pinned to core
# 1) at 8 connections, keep-alive, for SECONDS (default 10) after a 3 s warm-up. CPU is read from
# /proc (utime + stime) of the server and of every PostgreSQL backend connected to the bench
# database, before and after each run (a backend that connected during the run counts in full).
# Reports requests/s and server CPU per request in milliseconds. TRELLIS_BIN runs another build
# (to measure a before and an after side by side). Not part of CI: figures go in
# docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/cpu.sh sqlite|postgres [seconds]}
secs=${2:-10}
port=18082
source bench/lib.sh
bin=${TRELLIS_BIN:-target/release/trellis}
host=northmoor.localhost
base="http://127.0.0.1:$port"

"$bin" migrate >/dev/null
taskset -c 0 "$bin" demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done
curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" || { echo "server not serving"; cat "$work/serve.log"; exit 1; }

# The PostgreSQL backends of the bench database, one "pid" per line.
backends() {
  [[ "$backend" == postgres ]] || return 0
  psql "$admin" -qAtc "SELECT pid FROM pg_stat_activity WHERE datname = 'trellis_bench' AND pid <> pg_backend_pid()"
}
# "pid ticks" for the server and each backend.
cpu_table() {
  echo "$server_pid $(awk '{print $14 + $15}' "/proc/$server_pid/stat")"
  for pid in $(backends); do
    [[ -r /proc/$pid/stat ]] && echo "$pid $(awk '{print $14 + $15}' "/proc/$pid/stat")"
  done
  return 0
}
# Ticks used between two tables (a pid only in the second counts in full).
spent() { awk 'NR == FNR { a[$1] = $2; next } { s += $2 - ($1 in a ? a[$1] : 0) } END { print s }' "$1" "$2"; }

learner=$(sign_in learner@northmoor.example)
[[ -n "$learner" ]] || { echo "could not sign in"; exit 1; }
course=$(curl -fs -H "Host: $host" -H "Cookie: $learner" "$base/courses" | grep -o 'href="/courses/[0-9a-f-]\{36\}"' | head -1 | sed 's/href="//;s/"$//')
[[ -n "$course" ]] || { echo "no course in the catalogue"; exit 1; }
grep -q '<title>My learning' <<<"$(curl -fs -H "Host: $host" -H "Cookie: $learner" "$base/learning")" || { echo "the learner is not signed in"; exit 1; }

echo "| backend | page | requests/s | server CPU per request |"
echo "| --- | --- | ---: | ---: |"
run() {  # name path cookie
  local name=$1 path=$2 cookie=$3 out total
  local args=(-H "Host: $host")
  [[ -z "$cookie" ]] || args+=(-H "Cookie: $cookie")
  taskset -c 1 wrk -t1 -c8 -d3s "${args[@]}" "$base$path" >/dev/null
  cpu_table >"$work/before"
  out=$(taskset -c 1 wrk -t1 -c8 -d"${secs}s" "${args[@]}" "$base$path")
  cpu_table >"$work/after"
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "$name: errors during the run"; grep -E 'Non-2xx|Socket errors' <<<"$out"; exit 1; fi
  awk -v b="$backend" -v n="$name" -v t="$(spent "$work/before" "$work/after")" -v hz="$hz" -v r="$total" \
    -v rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" \
    'BEGIN { printf "| %s | %s | %.0f | %.3f ms |\n", b, n, rps, t / hz * 1000 / r }'
}
run "sign-in page" /sign-in ""
run "course page" "$course" "$learner"
run "My learning" /learning "$learner"
run "learner's home" / "$learner"
manager_email=$(sed -nE 's/^    northmoor: (training\.manager@.*)$/\1/p' "$work/serve.log")
manager=$(sign_in "$manager_email")
grep -q 'Your trust at a glance' <<<"$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/")" || { echo "the manager's home is not theirs"; exit 1; }
run "training manager's home" / "$manager"
