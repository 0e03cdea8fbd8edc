#!/usr/bin/env bash
# Benchmark: a campaign's email to a large audience resolved and queued (issue 22: 20,000 people in
# under 5 s).
#
#   bench/campaign.sh postgres [staff]
#
# Set-up: a fresh database; `trellis demo` (release build unless TRELLIS_BIN says otherwise,
# pinned to core 0, its worker in the same process, mail to files). STAFF (default 20,000)
# approved members of Northmoor with staff records (staff group "Nursing and Midwifery
# Registered", 120 departments), written straight into the database as the superuser (the set-up,
# not the measurement); one in fifty has objected to campaign emails. The tables are analysed, as
# autovacuum would. Then, as the demo training manager, over HTTP: a campaign for that staff group
# promoting the catalogue's first course is created, launched and sent.
# Measured: from the send (`send_requested_at`) to the worker's commit of the whole audience
# resolved, the email rendered once and one outbox item per recipient queued (`emailed_at`), as
# the database recorded them; and the outbox items and recipients counted.
# Not part of CI: figures go in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/campaign.sh postgres [staff]}
[[ "$backend" == postgres ]] || { echo "this bench seeds PostgreSQL"; exit 2; }
staff=${2:-20000}
port=18088
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
group="Nursing and Midwifery Registered"
echo "seeding $staff staff…"
sql "INSERT INTO people (id, email, given_name, family_name, job_role, place_of_work, status, created_at, updated_at,
                         objected_campaigns_at)
     SELECT md5('p' || g)::uuid, 'staff' || g || '@northmoor.example', 'Staff', 'Member ' || g, 'Nurse', 'RXX', 'active',
            now(), now(), CASE WHEN g % 50 = 0 THEN now() END
       FROM generate_series(1, $staff) g"
sql "INSERT INTO memberships (tenant_id, person_id, status, created_at, updated_at)
     SELECT '$tenant', md5('p' || g)::uuid, 'approved', now(), now() FROM generate_series(1, $staff) g"
sql "INSERT INTO staff_records (tenant_id, person_id, assignment_number, position, department, staff_group, place_of_work, updated_at)
     SELECT '$tenant', md5('p' || g)::uuid, lpad((30000000 + g)::text, 8, '0'), 'Nurse', 'Ward ' || (g % 120), '$group', 'Site', now()
       FROM generate_series(1, $staff) g"
for t in people memberships staff_records; do sql "ANALYZE $t" >/dev/null; done

manager=$(sign_in training.manager@northmoor.example)
form=$(curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/campaigns/new")
token=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$form" | head -1 | sed 's/.*value="//;s/"$//')
course=$(grep -o '<option value="[0-9a-f-]\{36\}"' <<<"$form" | head -1 | sed 's/.*value="//;s/"$//')
post() { curl -fs -o /dev/null -w '%{redirect_url}' -H "Host: $host" -H "Cookie: $manager" "$@"; }
page=$(post --data-urlencode "csrf_token=$token" --data-urlencode "name=Bench campaign" --data-urlencode "course=$course" \
  --data-urlencode "staff_groups=$group" --data-urlencode "who=everyone" --data-urlencode "template=announcement" \
  --data-urlencode "subject=Bench" --data-urlencode "message=Hello." --data-urlencode "banner_text=Bench" \
  --data-urlencode "landing_text=Hello." --data-urlencode "window_days=30" "$base/admin/campaigns/new")
path=${page#*://*/}
[[ "$path" == admin/campaigns/* ]] || { echo "the campaign was not created ($page)"; exit 1; }
post --data-urlencode "csrf_token=$token" "$base/$path/launch" >/dev/null
post --data-urlencode "csrf_token=$token" "$base/$path/send" >/dev/null
id=${path##*/}
for _ in $(seq 1 600); do
  [[ -n "$(sql "SELECT 1 FROM campaigns WHERE id = '$id' AND emailed_at IS NOT NULL")" ]] && break
  sleep 0.1
done
took=$(sql "SELECT round(EXTRACT(EPOCH FROM emailed_at - send_requested_at)::numeric, 2) FROM campaigns WHERE id = '$id'")
sent=$(sql "SELECT email_count FROM campaigns WHERE id = '$id'")
queued=$(sql "SELECT COUNT(*) FROM outbox WHERE kind = 'mailing' AND payload LIKE '%' || (SELECT mailing_id::text FROM campaigns WHERE id = '$id') || '%'")
people=$(sql "SELECT COUNT(*) FROM campaign_people WHERE campaign_id = '$id' AND emailed_at IS NOT NULL")
[[ "$sent" == "$queued" && "$sent" == "$people" ]] || { echo "sent $sent, queued $queued, recorded $people"; exit 1; }
echo
echo "| database | staff in the audience | objected | emailed (queued, recorded) | send → queued |"
echo "| --- | --- | --- | --- | --- |"
echo "| $backend | $staff | $((staff / 50)) | $sent | ${took} s |"
