#!/usr/bin/env bash
# Benchmark: a line manager's team page and a coach's caseload (issue 22: each under 50 ms on a
# trust of 20,000 staff).
#
#   bench/team.sh postgres [staff] [team] [seconds]
#
# Set-up: a fresh database; `trellis demo` (release build unless TRELLIS_BIN says otherwise,
# pinned to core 0). STAFF (default 20,000) approved members of Northmoor, each with a staff
# record and 30 compliance entries (600,000: half complete, some overdue), written straight into
# the database as the superuser (the set-up, not the measurement); TEAM (default 200) of them get
# the demo training manager as their line manager. The same manager is a coach whose caseload is
# 200: everyone in "Ward 7" by rule (167 of 20,000, matched through the staff records when the
# page is read) and 33 more given by hand. The tables are analysed, as autovacuum would.
# Measured: wrk (Debian, pinned to core 1), one connection, keep-alive, SECONDS (default 10) after
# a 3 s warm-up, GET /team and then GET /coaching as the demo training manager: requests/s and
# latency (p50, p99).
# Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/team.sh postgres [staff] [team] [seconds]}
[[ "$backend" == postgres ]] || { echo "this bench seeds PostgreSQL"; exit 2; }
staff=${2:-20000}
team=${3:-200}
secs=${4:-10}
port=18086
source bench/lib.sh
bin=${TRELLIS_BIN:-target/release/trellis}
host=northmoor.localhost
base="http://127.0.0.1:$port"
sql() { psql "${admin%/*}/trellis_bench" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

"$bin" migrate >/dev/null
"$bin" tenants apply tenants >/dev/null
taskset -c 0 "$bin" demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done

tenant=$(sql "SELECT id FROM tenants WHERE slug = 'northmoor'")
boss=$(sql "SELECT id FROM people WHERE email = 'training.manager@northmoor.example'")
echo "seeding $staff staff with 30 compliance entries each, $team of them in one team…"
sql "INSERT INTO people (id, email, given_name, family_name, job_role, place_of_work, status, created_at, updated_at)
     SELECT md5('p' || g)::uuid, 'staff' || g || '@northmoor.example', 'Staff', 'Member ' || g, 'Nurse', 'RXX', 'active', now(), now()
       FROM generate_series(1, $staff) g"
sql "INSERT INTO memberships (tenant_id, person_id, status, created_at, updated_at)
     SELECT '$tenant', md5('p' || g)::uuid, 'approved', now(), now() FROM generate_series(1, $staff) g"
sql "INSERT INTO staff_records (tenant_id, person_id, assignment_number, position, department, staff_group, place_of_work, updated_at)
     SELECT '$tenant', md5('p' || g)::uuid, lpad((30000000 + g)::text, 8, '0'), 'Nurse', 'Ward ' || (g % 120), 'Nursing and Midwifery Registered', 'Site', now()
       FROM generate_series(1, $staff) g"
sql "INSERT INTO assignments (tenant_id, person_id, course_id, requirement_id, assigned_at, due_on, completed_at)
     SELECT '$tenant', md5('p' || g)::uuid, md5('c' || k)::uuid, md5('r' || k)::uuid, now(),
            current_date + ((g * 7 + k * 13) % 120 - 60),
            CASE WHEN (g + k) % 2 = 0 THEN now() - ((g + k) % 300 || ' days')::interval END
       FROM generate_series(1, $staff) g, generate_series(1, 30) k"
sql "INSERT INTO line_managers (tenant_id, person_id, manager_id, source, set_at)
     SELECT '$tenant', md5('p' || g)::uuid, '$boss', 'admin', now() FROM generate_series(1, $team) g"
sql "INSERT INTO coaches (tenant_id, person_id, appointed_at) VALUES ('$tenant', '$boss', now())"
sql "INSERT INTO coach_rules (tenant_id, id, coach_id, kind, value, created_at)
     VALUES ('$tenant', md5('rule')::uuid, '$boss', 'department', 'Ward 7', now())"
sql "INSERT INTO coach_learners (tenant_id, learner_id, coach_id, assigned_at)
     SELECT '$tenant', md5('p' || g)::uuid, '$boss', now() FROM generate_series(401, 433) g"
for t in people memberships staff_records assignments line_managers enrolments team_nudges coaches coach_rules coach_learners coach_contacts coach_follow_ups; do
  sql "ANALYZE $t" >/dev/null
done

manager=$(sign_in training.manager@northmoor.example)
page=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/team")
shown=$(grep -c 'action="/team/[0-9a-f-]*/remind"' <<<"$page" || true)
[[ "$shown" == "$team" ]] || { echo "the team page shows $shown people, not $team"; exit 1; }
page=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/coaching")
shown=$(grep -c 'href="/coaching/[0-9a-f-]*"' <<<"$page" || true)
[[ "$shown" == 200 ]] || { echo "the caseload shows $shown people, not 200"; exit 1; }

echo
echo "| page | database | staff | people shown | requests/s | p50 | p99 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for path in /team /coaching; do
  taskset -c 1 wrk -t1 -c1 -d3s -H "Host: $host" -H "Cookie: $manager" "$base$path" >/dev/null
  out=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -H "Host: $host" -H "Cookie: $manager" "$base$path")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  shown=$([[ $path == /team ]] && echo "$team" || echo 200)
  echo "| $path | $backend | $staff | $shown | $rps | $p50 | $p99 |"
done
