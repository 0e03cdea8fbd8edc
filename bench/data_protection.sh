#!/usr/bin/env bash
# Benchmark: issue 20's figures, on PostgreSQL, with the release build.
#
#   bench/data_protection.sh
#
# 1. A 200 MB video uploaded as a course session while scanning is required, through a real clamd
#    (tests/peers/clamd.py: Debian's clamd on deploy/clamav/clamd.conf): the upload's wall time,
#    and the server's peak resident memory (VmHWM) before and after, to show the file is streamed
#    to the scanner and the store, not held in memory.
# 2. *Download my data* for the demo learner with 50,000 tracking rows (session progress, made by
#    SQL): the time from asking (POST /account/my-data) to the copy being ready (polled in the
#    database), and the copy's size.
# 3. Closing an account (erasure by anonymisation) for that learner, in a trust whose audit trail
#    holds 2,000,000 recent entries (made by SQL; every one is searched for their name and email)
#    and with those 50,000 tracking rows: the request's wall time, and what was left of them.
# 4. The retention run over 10,000,000 audit entries older than the schedule (made by SQL, spread
#    over the demo trusts), plus today's: `trellis retention` wall time, and what it left.
#
# The server is `trellis demo` (its accounts, jobs in process) pinned to core 0. BENCH_AUDIT_ROWS
# sets the audit entries (default 10,000,000); BENCH_TRACKING_ROWS the tracking rows (50,000);
# BENCH_TRAIL_ROWS the trust's recent entries for the erasure (2,000,000). BENCH_PARTS picks the
# parts to run (default "1 2 3 4"; 3 needs 2).
# Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=postgres
port=18085
source bench/lib.sh
audit_rows=${BENCH_AUDIT_ROWS:-10000000}
tracking_rows=${BENCH_TRACKING_ROWS:-50000}
trail_rows=${BENCH_TRAIL_ROWS:-2000000}
parts=" ${BENCH_PARTS:-1 2 3 4} "
part() { [[ "$parts" == *" $1 "* ]]; }
host=northmoor.localhost
base="http://127.0.0.1:$port"
db() { psql "$DATABASE_URL" -qtAX -c "$1"; }

# A real clamd, with the EICAR-only signature database the tests use.
python3 tests/peers/clamd.py >"$work/clamd.out" 2>"$work/clamd.err" &
clamd_pid=$!
for _ in $(seq 1 100); do grep -q CLAMD_PORT "$work/clamd.out" && break; sleep 0.1; done
clamd_port=$(sed -n 's/^CLAMD_PORT=//p' "$work/clamd.out")
[[ -n "$clamd_port" ]] || { echo "clamd did not start"; cat "$work/clamd.err"; exit 1; }
trap 'kill $clamd_pid 2>/dev/null; cleanup' EXIT
export TRELLIS__UPLOADS__SCAN=required TRELLIS__UPLOADS__CLAMD="127.0.0.1:$clamd_port"

taskset -c 0 target/release/trellis demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do curl -fs -o /dev/null -H "Host: $host" "$base/" && break; sleep 0.1; done
curl -fs -H "Host: $host" "$base/" | grep -q Northmoor || { echo "server not serving"; cat "$work/serve.log"; exit 1; }
manager=$(sed -nE 's/^    northmoor: (training\.manager@.*)$/\1/p' "$work/serve.log")

if part 1; then
echo "## 1. A 200 MB video, scanned and stored"
cookie=$(sign_in "$manager")
token=$(token_of "$cookie" /admin/courses/new)
course=$(curl -fs -o /dev/null -w '%{redirect_url}' -H "Host: $host" -H "Cookie: $cookie" \
  --data-urlencode "csrf_token=$token" --data-urlencode kind=course --data-urlencode "title=Bench video" \
  --data-urlencode code=BENCH-VIDEO --data-urlencode enrolment=open "$base/admin/courses/new" | sed 's#.*/admin/courses/##')
# An MP4 header (an ftyp box, so it is recognised as video), then 200 MB of random bytes.
{ printf '\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom'; head -c 200M /dev/urandom; } >"$work/video.mp4"
before=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
token=$(token_of "$cookie" "/admin/courses/$course/sessions")
start=$(date +%s.%N)
status=$(curl -s -o "$work/upload.html" -w '%{http_code}' -H "Host: $host" -H "Cookie: $cookie" \
  -F "csrf_token=$token" -F kind=video -F "title=Bench video" -F completion=view -F "file=@$work/video.mp4;type=video/mp4" \
  "$base/admin/courses/$course/sessions")
end=$(date +%s.%N)
after=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
logged=$(db "SELECT kind || ' ' || bytes || ' ' || detail FROM access_events WHERE kind = 'upload.media' ORDER BY at DESC LIMIT 1")
echo "upload: HTTP $status in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f s", b - a }')"
echo "log: $logged"
echo "server peak memory (VmHWM): $((before / 1024)) MB before, $((after / 1024)) MB after"
fi

northmoor=$(db "SELECT id FROM tenants WHERE slug = 'northmoor'")
learner=$(db "SELECT id FROM people WHERE email = 'learner@northmoor.example'")
if part 2; then
echo
echo "## 2. Download my data with $tracking_rows tracking rows"
northmoor=$(db "SELECT id FROM tenants WHERE slug = 'northmoor'")
learner=$(db "SELECT id FROM people WHERE email = 'learner@northmoor.example'")
db "INSERT INTO object_progress (tenant_id, enrolment_id, cycle, object_id, person_id, first_access_at, last_access_at, seconds_spent, completed_at)
    SELECT '$northmoor', gen_random_uuid(), 0, gen_random_uuid(), '$learner', now() - (g || ' minutes')::interval, now(), g % 3600, NULL
      FROM generate_series(1, $tracking_rows) g"
cookie=$(sign_in learner@northmoor.example)
token=$(token_of "$cookie" /account/my-data)
start=$(date +%s.%N)
curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $cookie" --data-urlencode "csrf_token=$token" "$base/account/my-data"
for _ in $(seq 1 1200); do
  [[ "$(db "SELECT status FROM data_exports WHERE person_id = '$learner' ORDER BY requested_at DESC LIMIT 1")" == ready ]] && break
  sleep 0.05
done
end=$(date +%s.%N)
size=$(db "SELECT bytes FROM data_exports WHERE person_id = '$learner' ORDER BY requested_at DESC LIMIT 1")
echo "ready in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f s", b - a }'); the copy is $((size / 1024)) KB"
fi

if part 3; then
echo
echo "## 3. Closing an account: $trail_rows entries in the trust's audit trail, $(db "SELECT count(*) FROM object_progress WHERE person_id = '$learner'") tracking rows"
psql "$DATABASE_URL" -qtAX -c "ALTER TABLE audit_events DISABLE TRIGGER USER" 2>/dev/null || true
db "INSERT INTO audit_events (tenant_id, id, at, actor_person_id, action, subject, ip, detail)
    SELECT '$northmoor', gen_random_uuid(), now() - (g || ' seconds')::interval, NULL, 'bench.recent', 'someone',
           '192.0.2.1', '{\"course\":\"Fire safety\",\"by\":\"training.manager@northmoor.example\"}'
      FROM generate_series(1, $trail_rows) g"
psql "$DATABASE_URL" -qtAX -c "ALTER TABLE audit_events ENABLE TRIGGER USER" 2>/dev/null || true
db "ANALYZE audit_events"
cookie=$(sign_in learner@northmoor.example)
token=$(token_of "$cookie" /account/close)
start=$(date +%s.%N)
status=$(curl -s -o "$work/closed.html" -w '%{http_code}' -H "Host: $host" -H "Cookie: $cookie" \
  --data-urlencode "csrf_token=$token" --data-urlencode confirm=yes "$base/account/close")
end=$(date +%s.%N)
echo "closed: HTTP $status in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f s", b - a }')"
echo "left: $(db "SELECT count(*) FROM people WHERE id = '$learner'") account, $(db "SELECT count(*) FROM object_progress WHERE person_id = '$learner'") tracking rows under the old id, $(db "SELECT count(*) FROM audit_events WHERE strpos(lower(detail), 'learner@northmoor.example') > 0") audit entries naming them"
fi

if part 4; then
echo
echo "## 4. Retention over $audit_rows audit entries"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
start=$(date +%s.%N)
# Made as the database owner (the trail is append-only for every role the server uses).
psql "$DATABASE_URL" -qtAX -c "ALTER TABLE audit_events DISABLE TRIGGER USER" 2>/dev/null || true
db "INSERT INTO audit_events (tenant_id, id, at, actor_person_id, action, subject, ip, detail)
    SELECT t.id, gen_random_uuid(), now() - interval '7 years' - (g || ' seconds')::interval, NULL, 'bench.old', 'x', NULL, '{}'
      FROM generate_series(1, $audit_rows) g
      JOIN (SELECT id, row_number() OVER () - 1 AS n, count(*) OVER () AS c FROM tenants) t ON g % t.c = t.n"
psql "$DATABASE_URL" -qtAX -c "ALTER TABLE audit_events ENABLE TRIGGER USER" 2>/dev/null || true
db "ANALYZE audit_events"
end=$(date +%s.%N)
echo "made in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f s", b - a }'); $(db "SELECT count(*) FROM audit_events") entries in all"
target/release/trellis retention --dry-run | sed 's/^/  dry run: /'
start=$(date +%s.%N)
target/release/trellis retention | sed 's/^/  /'
end=$(date +%s.%N)
echo "retention run: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f s", b - a }'); $(db "SELECT count(*) FROM audit_events") entries left"
fi
