#!/usr/bin/env bash
# Benchmark: SCORM commits and xAPI statements, durably stored (PostgreSQL's default
# synchronous_commit: every acknowledged commit is on disk).
#
#   bench/elearning.sh postgres|sqlite [seconds]
#
# Set-up, through the product: a fresh database; `trellis demo` (release build, pinned to core 0);
# the demo training manager creates BENCH_ATTEMPTS (default 100) courses in the editor, uploads
# the SCORM 1.2 test package to each and publishes it; the demo learner enrols on each and
# launches it: BENCH_ATTEMPTS attempts, each with its launch token from the page that frames it.
# An LRS credential is issued with `trellis lrs-credential`.
#
# Measured with wrk pinned to core 1, SECONDS each (default 10) after a 3 s warm-up:
#   - SCORM commits (bench/scorm_commit.lua): POST /run/<token>/commit on the content origin,
#     round-robin over the attempts, each commit a new location, session time, suspend data, score
#     and an interaction; each applied to the attempt's record under a row lock, kept raw for the
#     trace view, reflected in the learning record and mirrored as xAPI statements. 16 and 64
#     connections.
#   - xAPI statements (bench/xapi_statements.lua): POST /xapi/statements, one statement per
#     request and batches of 50, at 16 and 64 connections; statements/s = requests/s × batch.
# Each measured run counts the rows stored against the responses acknowledged (they must agree:
# an acknowledged commit or statement is on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/elearning.sh postgres|sqlite [seconds]}
secs=${2:-10}
attempts=${BENCH_ATTEMPTS:-100}
port=18082
source bench/lib.sh
host=northmoor.localhost
base="http://127.0.0.1:$port"
content="127.0.0.1:$port"
sql() {
  if [[ "$backend" == postgres ]]; then psql "${admin%/*}/trellis_bench" -qAt -v ON_ERROR_STOP=1 -c "$1"
  else python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$work/bench.db" "$1"; fi
}
stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f s", b - a }'; }

t=$(stamp)
target/release/trellis migrate >/dev/null
target/release/trellis tenants apply tenants >/dev/null
taskset -c 0 target/release/trellis demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done
manager=$(sign_in training.manager@northmoor.example)
learner=$(sign_in learner@northmoor.example)
(cd tests/packages/scorm12-hand-hygiene && python3 -m zipfile -c "$work/scorm12.zip" $(ls -A))
: >"$work/tokens"
for i in $(seq 1 "$attempts"); do
  csrf=$(token_of "$manager" /admin/courses/new)
  loc=$(curl -fs -o /dev/null -w '%{redirect_url}' -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" \
    -d "kind=course&title=Bench+e-learning+$i&code=BENCH-EL-$i&enrolment=open" "$base/admin/courses/new")
  course=${loc##*/admin/courses/}
  csrf=$(token_of "$manager" "/admin/courses/$course/package")
  curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" -F "csrf_token=$csrf" -F "file=@$work/scorm12.zip;type=application/zip" \
    "$base/admin/courses/$course/package"
  csrf=$(token_of "$manager" "/admin/courses/$course")
  curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" "$base/admin/courses/$course/publish"
  csrf=$(token_of "$learner" "/courses/$course")
  curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $learner" --data-urlencode "csrf_token=$csrf" "$base/courses/$course/enrol"
  session=$(curl -fs -H "Host: $host" -H "Cookie: $learner" "$base/courses/$course" | grep -o "href=\"/learn/$course/[0-9a-f-]*\"" | head -1 | sed 's/href="//;s/"$//')
  csrf=$(token_of "$learner" "$session")
  play=$(curl -fs -o /dev/null -w '%{redirect_url}' -H "Host: $host" -H "Cookie: $learner" --data-urlencode "csrf_token=$csrf" "$base$session/launch")
  curl -fs -H "Host: $host" -H "Cookie: $learner" "$play" | grep -o '/run/[A-Za-z0-9_-]*"' | head -1 | sed 's#/run/##;s/"$//' >>"$work/tokens"
done
[[ $(grep -c . "$work/tokens") -eq $attempts ]] || { echo "only $(grep -c . "$work/tokens") of $attempts launches"; exit 1; }
creds=$(target/release/trellis lrs-credential northmoor bench)
auth="Basic $(printf '%s:%s' "$(sed -n 's/^key: //p' <<<"$creds")" "$(sed -n 's/^secret: //p' <<<"$creds")" | base64 -w0)"
echo "set-up: $attempts courses uploaded, published, enrolled and launched: $(took "$t")"

run() { # label host script connections table per-request [env…]
  local label=$1 h=$2 script=$3 c=$4 table=$5 per=$6 before after out rps total p50 p99 errors cpu rows0 rows1 records
  shift 6
  env "$@" taskset -c 1 wrk -t1 -c4 -d3s -s "$script" -H "Host: $h" "$base" >/dev/null
  rows0=$(sql "SELECT count(*) FROM $table")
  before=$(ticks)
  out=$(env "$@" taskset -c 1 wrk -t1 -c"$c" -d"${secs}s" --latency -s "$script" -H "Host: $h" "$base")
  after=$(ticks)
  rows1=$(sql "SELECT count(*) FROM $table")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.0f µs", t / hz * 1e6 / n }')
  records=$(awk -v r="$rps" -v n="$per" 'BEGIN { printf "%.0f", r * n }')
  echo "| $backend | $label | $c | $rps | $records | $p50 | $p99 | $cpu | $((total * per)) / $((rows1 - rows0)) |"
  [[ -z "$errors" ]] || echo "  errors: $errors"
}
echo
echo "| backend | what | connections | requests/s | records/s | p50 | p99 | server CPU per request | acknowledged / stored |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in 16 64; do run "SCORM commit" "$content" bench/scorm_commit.lua "$c" attempt_commits 1 TOKENS="$work/tokens"; done
refused=$(sql "SELECT count(*) FROM attempt_commits WHERE outcome <> 'applied'")
# Statements only: the SCORM commits' mirrored statements are stored while they run, not here.
for c in 16 64; do run "xAPI statement (1 per request)" "$host" bench/xapi_statements.lua "$c" xapi_statements 1 AUTH="$auth" BATCH=1; done
for c in 16 64; do run "xAPI statements (batches of 50)" "$host" bench/xapi_statements.lua "$c" xapi_statements 50 AUTH="$auth" BATCH=50; done
echo
echo "SCORM commits refused: $refused (every commit is kept; a refused one names its fault)"
echo "peak server memory (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$server_pid/status")"
