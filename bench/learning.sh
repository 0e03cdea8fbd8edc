#!/usr/bin/env bash
# Benchmark: the catalogue, a course page and the compliance matrix of a trust with 20,000 staff
# and 30 mandatory courses, everything loaded through the product's own paths.
#
#   bench/learning.sh sqlite|postgres [seconds]
#
# Set-up (timed and reported): a fresh database; `trellis migrate`; `tenants apply tenants`;
# Northmoor's catalogue gets BENCH_COURSES (default 2,000) generated courses of three sessions each
# (`trellis catalogue apply`, bench/learning_data.py), on top of the national catalogue the demo
# offers; the server starts as `trellis demo` (release build, pinned to core 0, jobs in process);
# the demo training manager signs in over HTTP, adds 30 rules ("Bench mandatory NN", everyone,
# mandatory, due in 28 days, renewed yearly) and imports BENCH_STAFF (default 20,000) staff from an
# ESR-shaped CSV (dry run, then apply: the worker imports them all or nothing and applies the rules,
# so 600,000 compliance records are made by the code that makes them in production). Then the
# records are given a realistic spread of states by SQL (by a hash of person and course: 55 %
# completed at some time in the last 13 months, so some have lapsed; 10 % started; due dates from
# 60 days ago to 60 days ahead, so some are overdue) and the statistics are refreshed (VACUUM ANALYZE, as autovacuum would have by then).
#
# Measured, with wrk (Debian) pinned to core 1, keep-alive, signed in (the demo learner for the
# learner pages, the training manager for the matrix), SECONDS each (default 10) after a 3 s
# warm-up, at 1 and 16 connections:
#   - GET /courses?q=patient+safety     full-text search over the trust's catalogue, first page
#   - GET /courses                      browsing: the first page, topics and programmes
#   - GET /courses/<id>                 a course page (a mandatory one, with its sessions)
#   - GET /admin/compliance             the matrix: 50 staff × 31 courses with trust-wide totals
#                                       (the totals are kept two minutes, so wrk sees them kept; the
#                                       views with totals counted afresh are timed one by one first)
#   - GET /admin/compliance?group=Nursing+and+Midwifery+Registered&sort=overdue&page=20
#                                       filtered by staff group, most overdue first, page 20
# Before those, timed once each, after the server is started again (the states were changed by SQL
# behind its back): the whole trust's matrix opened at once after a manager signs in (it waits for
# the count the sign-in starts: the cost of counting afresh) and 3 s after signing in (counted
# ahead), each staff group's matrix (counted afresh), and the whole record exported as CSV
# (GET /admin/compliance/export.csv).
# Reports requests/s, p50 and p99 latency and server CPU time per request. PostgreSQL: set
# BENCH_POSTGRES_URL (a superuser URL; default postgres://postgres@127.0.0.1:5432/test); a
# database trellis_bench is made and dropped (BENCH_KEEP=1 keeps it, and the SQLite file, to study). Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/learning.sh sqlite|postgres [seconds]}
secs=${2:-10}
staff=${BENCH_STAFF:-20000}
courses=${BENCH_COURSES:-2000}
mandatory=30
port=18081
source bench/lib.sh
# SQL run as the owner (PostgreSQL superuser; SQLite through Python's sqlite3).
sql() {
  if [[ "$backend" == postgres ]]; then psql "${admin%/*}/trellis_bench" -qAt -v ON_ERROR_STOP=1 -c "$1"
  else python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print("\n".join("|".join(map(str,x)) for x in r))' "$work/bench.db" "$1"; fi
}
host=northmoor.localhost
base="http://127.0.0.1:$port"
stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f s", b - a }'; }

t=$(stamp)
target/release/trellis migrate >/dev/null
target/release/trellis tenants apply tenants >/dev/null
python3 bench/learning_data.py "$work" "$staff" "$courses" "$mandatory"
target/release/trellis catalogue apply deploy/catalogue/national.toml >/dev/null
target/release/trellis catalogue apply "$work/catalogue.toml" --trust northmoor >/dev/null
echo "set-up: migrate, trusts and $courses courses: $(took "$t")"

taskset -c 0 target/release/trellis demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done
curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" || { echo "server not serving"; cat "$work/serve.log"; exit 1; }

manager=$(sign_in training.manager@northmoor.example)
learner=$(sign_in learner@northmoor.example)
[[ -n "$manager" && -n "$learner" ]] || { echo "could not sign in"; exit 1; }
grep -q '<title>Compliance' <<<"$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/compliance")" || { echo "the manager is not signed in"; exit 1; }

# 30 mandatory rules for everyone (before the import, so the import's rule pass makes the records).
t=$(stamp)
form=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/training")
csrf=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$form" | head -1 | sed 's/.*value="//;s/"$//')
mapfile -t ids < <(grep -o '<option value="[0-9a-f-]*"[^>]*>Bench mandatory' <<<"$form" | sed 's/<option value="//;s/".*//')
[[ ${#ids[@]} -eq $mandatory ]] || { echo "found ${#ids[@]} bench courses in the rules form, want $mandatory"; exit 1; }
for id in "${ids[@]}"; do
  curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" \
    -d "course=$id&audience_kind=everyone&mandatory=on&due_days=28&renewal_months=12" "$base/admin/training"
done
echo "set-up: $mandatory rules: $(took "$t")"

t=$(stamp)
csrf=$(token_of "$manager" /admin/staff/import)
checked=$(curl -fs -H "Host: $host" -H "Cookie: $manager" -F "csrf_token=$csrf" -F "file=@$work/staff.csv;type=text/csv" "$base/admin/staff/import")
file=$(grep -o 'name="file" value="[0-9a-f]\{64\}"' <<<"$checked" | sed 's/.*value="//;s/"$//')
[[ -n "$file" ]] || { echo "the staff file did not pass its dry run"; exit 1; }
echo "set-up: dry run of $staff staff: $(took "$t")"
t=$(stamp)
curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" -d "file=$file" "$base/admin/staff/import/apply"
for _ in $(seq 1 3000); do
  page=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/staff/import" || true)  # SQLite: busy while the import writes
  grep -q 'imported —\|failed, nothing changed' <<<"$page" && break
  sleep 0.2
done
grep -q 'imported —' <<<"$page" || { echo "the import did not finish"; exit 1; }
records=$(sql "SELECT count(*) FROM assignments")
echo "set-up: import of $staff staff with the rules applied ($records compliance records): $(took "$t")"

# The spread of states (random per record; 55 % completed within the last 13 months, so some have
# lapsed; 10 % more started; due dates from 60 days ago to 60 days ahead).
if [[ "$backend" == postgres ]]; then
  rnd="random()"; days() { echo "current_date + ($1)::int"; }; ago() { echo "now() - ($1) * interval '1 day'"; }
  expiry="(completed_at + interval '12 months')::date"
else
  rnd="(abs(random()) / 9223372036854775808.0)"; days() { echo "date('now', ($1) || ' days')"; }; ago() { echo "datetime('now', '-' || ($1) || ' days')"; }
  expiry="date(completed_at, '+12 months')"
fi
sql "UPDATE assignments SET due_on = $(days "cast($rnd * 121 AS int) - 60"),
       completed_at = CASE WHEN $rnd < 0.55 THEN $(ago "cast($rnd * 395 AS int)") END" >/dev/null
sql "UPDATE assignments SET started_at = CASE WHEN completed_at IS NOT NULL THEN completed_at
       WHEN $rnd < 0.22 THEN $(ago "cast($rnd * 30 AS int)") END,
       expires_on = CASE WHEN completed_at IS NOT NULL THEN $expiry END" >/dev/null
if [[ "$backend" == postgres ]]; then sql "VACUUM ANALYZE" >/dev/null; else sql "ANALYZE" >/dev/null; fi
echo "states: $(sql "SELECT sum(CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END), sum(CASE WHEN due_on < CURRENT_DATE AND completed_at IS NULL THEN 1 ELSE 0 END) FROM assignments" | awk -F'|' '{ printf "%s completed at some time, %s overdue never completed", $1, $2 }')"

# The states were changed behind the server's back: start it again (nothing kept), and sign in again.
restart() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  taskset -c 0 target/release/trellis serve >>"$work/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done
}
restart
learner=$(sign_in learner@northmoor.example)
course=$(curl -fs -H "Host: $host" -H "Cookie: $learner" "$base/courses?q=Bench+mandatory+01" >"$work/found"; grep -o 'href="/courses/[0-9a-f-]\{36\}"' "$work/found" | head -1 | sed 's/href="//;s/"$//')
[[ -n "$course" ]] || { echo "no course found by search"; exit 1; }
# The whole trust's totals are counted when a training manager signs in. The matrix opened at
# once after signing in waits for that count (the cost of counting them afresh); opened a few
# seconds later (as a person would reach it), it finds them counted.
manager=$(sign_in training.manager@northmoor.example)
cold=$(curl -fs -o "$work/matrix" -w '%{time_total}' -H "Host: $host" -H "Cookie: $manager" "$base/admin/compliance")
grep -q 'Bench mandatory 30' "$work/matrix" || { echo "the matrix does not show the bench courses"; exit 1; }
restart
manager=$(sign_in training.manager@northmoor.example)
learner=$(sign_in learner@northmoor.example)
sleep 3
ahead=$(curl -fs -o /dev/null -w '%{time_total}' -H "Host: $host" -H "Cookie: $manager" "$base/admin/compliance")
echo "matrix, whole trust: opened at once after signing in (waiting for the count) $(awk -v t="$cold" 'BEGIN { printf "%.0f ms", t * 1000 }'); 3 s after signing in (counted ahead) $(awk -v t="$ahead" 'BEGIN { printf "%.0f ms", t * 1000 }')"
# Each staff group's totals, never counted before, one request at time.
groups=()
for g in "Add Prof Scientific and Technic" "Additional Clinical Services" "Administrative and Clerical" \
  "Allied Health Professionals" "Estates and Ancillary" "Healthcare Scientists" "Medical and Dental" \
  "Nursing and Midwifery Registered" "Students"; do
  groups+=("$(curl -fs -o /dev/null -w '%{time_total}' -G -H "Host: $host" -H "Cookie: $manager" --data-urlencode "group=$g" "$base/admin/compliance")")
done
echo "matrix with its totals counted afresh, per staff group (9 views): median $(printf '%s\n' "${groups[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.0f ms, slowest %.0f ms", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }')"

# The whole trust's compliance record as CSV (streamed a thousand people at a time).
export_out=$(curl -fs -o "$work/export.csv" -w '%{time_total} %{size_download}' -H "Host: $host" -H "Cookie: $manager" "$base/admin/compliance/export.csv")
echo "export of the whole record as CSV: $(wc -l <"$work/export.csv") lines, $(awk '{ printf "%.1f MB in %.1f s", $2 / 1e6, $1 }' <<<"$export_out")"
rm -f "$work/export.csv"

# Records and reports (issue 19). The enrolments the rules made take the states of their
# compliance records, and each started one gets a tracking row; the demo learner gets 500
# completed courses with 100 tracking rows each (50,000); the training manager is made a reporting
# lead (by SQL: the chain of grants is exercised by the tests, not timed here).
if [[ "$backend" == postgres ]]; then newid="gen_random_uuid()"; hundred="generate_series(1, 100)"; now="now()"; later="now() + interval '300 days'"
else newid="randomblob(16)"; hundred="(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100) SELECT n FROM s)"; now="datetime('now')"; later="datetime('now', '+300 days')"; fi
t=$(stamp)
sql "UPDATE enrolments SET completed_at = a.completed_at, last_activity_at = a.started_at,
       status = CASE WHEN a.completed_at IS NOT NULL THEN 'completed' ELSE 'active' END
       FROM assignments a WHERE a.tenant_id = enrolments.tenant_id AND a.person_id = enrolments.person_id
        AND a.course_id = enrolments.course_id" >/dev/null
sql "INSERT INTO object_progress (tenant_id, enrolment_id, cycle, object_id, person_id, first_access_at, last_access_at,
       seconds_spent, visits, completed_at, score_scaled, success)
     SELECT e.tenant_id, e.id, e.cycle, e.course_id, e.person_id, e.last_activity_at, COALESCE(e.completed_at, e.last_activity_at),
            CAST($rnd * 1800 AS int), 1 + CAST($rnd * 4 AS int), e.completed_at,
            CASE WHEN e.completed_at IS NOT NULL THEN $rnd END, ''
       FROM enrolments e WHERE e.last_activity_at IS NOT NULL" >/dev/null
sql "INSERT INTO enrolments (tenant_id, id, person_id, course_id, status, source, cycle, requested_at, enrolled_at, completed_at, last_activity_at)
     SELECT c.tenant_id, $newid, p.id, c.id, 'completed', 'self', 1, $(ago 400), $(ago 400), $(ago "cast($rnd * 390 AS int)"), $(ago 1)
       FROM courses c JOIN people p ON p.email = 'learner@northmoor.example'
      WHERE c.code LIKE 'BENCH-%' AND c.title NOT LIKE 'Bench mandatory%'
        AND c.tenant_id = (SELECT id FROM tenants WHERE slug = 'northmoor')
      ORDER BY c.code LIMIT 500" >/dev/null
sql "INSERT INTO object_progress (tenant_id, enrolment_id, cycle, object_id, person_id, first_access_at, last_access_at,
       seconds_spent, visits, completed_at, score_scaled, success)
     SELECT e.tenant_id, e.id, 1, $newid, e.person_id, e.requested_at, e.completed_at, CAST($rnd * 600 AS int), 1, e.completed_at, $rnd, 'passed'
       FROM enrolments e JOIN people p ON p.id = e.person_id AND p.email = 'learner@northmoor.example'
       CROSS JOIN $hundred AS h WHERE e.course_id IN (SELECT id FROM courses WHERE code LIKE 'BENCH-%' AND title NOT LIKE 'Bench mandatory%')" >/dev/null
sql "INSERT INTO report_grants (tenant_id, id, kind, person_id, person_name, person_email, granted_by, statement, purpose, ip, created_at, expires_at, expiry_noted)
     SELECT m.tenant_id, $newid, 'lead', p.id, 'Training Manager', p.email, p.id, 'bench', '', '', $now, $later, false
       FROM people p JOIN memberships m ON m.person_id = p.id
      WHERE p.email = 'training.manager@northmoor.example' AND m.tenant_id = (SELECT id FROM tenants WHERE slug = 'northmoor')" >/dev/null
if [[ "$backend" == postgres ]]; then sql "VACUUM ANALYZE" >/dev/null; else sql "ANALYZE" >/dev/null; fi
echo "set-up for records and reports: $(sql "SELECT count(*) FROM object_progress") tracking rows, $(sql "SELECT count(*) FROM enrolments e JOIN people p ON p.id = e.person_id AND p.email = 'learner@northmoor.example' WHERE e.completed_at IS NOT NULL") completions for the demo learner: $(took "$t")"
median_ms() { # cookie path: the median of 7 requests, in ms (after one to warm)
  local ts=()
  curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $1" "$base$2"
  for _ in 1 2 3 4 5 6 7; do ts+=("$(curl -fs -o /dev/null -w '%{time_total}' -H "Host: $host" -H "Cookie: $1" "$base$2")"); done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.0f ms", a[4] * 1000 }'
}
echo "the learner's activity record (500 courses), on screen: $(median_ms "$learner" "/account/activity")"
echo "the learner's activity detail (50,000 session lines, first page), on screen: $(median_ms "$learner" "/account/activity?report=detail")"
echo "the learner's activity record as PDF: $(median_ms "$learner" "/account/activity.pdf")"
stats_course=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/statistics" | grep -o '<option value="[0-9a-f-]*"[^>]*>Bench mandatory 01' | sed 's/<option value="//;s/".*//')
[[ -n "$stats_course" ]] || { echo "no course in the statistics form"; exit 1; }
echo "anonymised statistics of a mandatory course (20,000 enrolments), by month: $(median_ms "$manager" "/admin/statistics?course=$stats_course")"
echo "  by staff group: $(median_ms "$manager" "/admin/statistics?course=$stats_course&by=group")"
echo "organisation report, staff activity, first screen (25 people): $(median_ms "$manager" "/reporting/reports/staff-activity")"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
report_out=$(curl -fs -o "$work/activity.csv" -w '%{time_total} %{size_download}' -H "Host: $host" -H "Cookie: $manager" "$base/reporting/reports/staff-activity.csv")
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
echo "organisation report, staff activity as CSV (streamed): $(($(wc -l <"$work/activity.csv") - 1)) lines, $(awk '{ printf "%.1f MB in %.1f s", $2 / 1e6, $1 }' <<<"$report_out"); server memory (VmRSS) $((rss_before / 1024)) MB before, $((rss_after / 1024)) MB after"
rm -f "$work/activity.csv"

run() { # name cookie path
  taskset -c 1 wrk -t1 -c4 -d3s -H "Host: $host" -H "Cookie: $2" "$base$3" >/dev/null
  for c in 1 16; do
    local before after out rps total p50 p99 errors cpu
    before=$(ticks)
    out=$(taskset -c 1 wrk -t1 -c"$c" -d"${secs}s" --latency -H "Host: $host" -H "Cookie: $2" "$base$3")
    after=$(ticks)
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.0f µs", t / hz * 1e6 / n }')
    echo "| $backend | $1 | $c | $rps | $p50 | $p99 | $cpu |"
    [[ -z "$errors" ]] || echo "  errors: $errors"
  done
}
echo
echo "| backend | page | connections | requests/s | p50 | p99 | server CPU per request |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
run "search" "$learner" "/courses?q=patient+safety"
run "catalogue" "$learner" "/courses"
run "course page" "$learner" "$course"
run "matrix, page 1" "$manager" "/admin/compliance"
run "matrix, group, overdue, page 20" "$manager" "/admin/compliance?group=Nursing+and+Midwifery+Registered&sort=overdue&page=20"
echo
echo "peak server memory (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$server_pid/status")"
