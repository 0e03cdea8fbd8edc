#!/usr/bin/env bash
# Benchmark: an export of completions to HR (issue 21: 600,000 rows in under 30 s, streamed).
#
#   bench/hr_export.sh postgres|sqlite [rows]
#
# Set-up: a fresh database; `trellis demo` (release build unless TRELLIS_BIN says otherwise,
# pinned to core 0); Debian's OpenSSH server on a loopback port with a host key of the bench's
# own. ROWS (default 600,000) members of Northmoor's staff with an assignment number, each with a
# completion of a course given a competence code, written straight into the database (as the
# superuser: the set-up, not the measurement). Then, through the product: the demo training
# manager saves the SFTP settings (Trellis makes the trust's SSH key; its public key is authorised
# on the server) and presses *Send now*.
# Measured: from *Send now* to the export recorded as delivered (the worker reads the rows a page
# at a time into a temporary CSV, hashes it, and sends it over SFTP), the server's peak memory
# (VmHWM), the rows and bytes delivered, and that the file's SHA-256 is the one recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: bench/hr_export.sh postgres|sqlite [rows]}
rows=${2:-600000}
port=18084
source bench/lib.sh
bin=${TRELLIS_BIN:-target/release/trellis}
host=northmoor.localhost
base="http://127.0.0.1:$port"
export RUST_LOG=${RUST_LOG:-error,trellis_web::usecases::hr_export=info}
export TRELLIS__JOBS__HR_EXPORT_EVERY_SECS=1 TRELLIS__JOBS__HR_EXPORT_SETTLE_SECS=0 \
  TRELLIS__DEVELOPMENT__ALLOW_LOCAL_NETWORK=true
sql() {
  if [[ "$backend" == postgres ]]; then psql "${admin%/*}/trellis_bench" -qAt -v ON_ERROR_STOP=1 -c "$1"
  else python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchone(); c.commit(); print(r[0] if r else "")' "$work/bench.db" "$1"; fi
}

# The SFTP server.
sshd_port=18122
mkdir -p "$work/sftp/upload" /run/sshd
ssh-keygen -q -t ed25519 -N "" -f "$work/sftp/host_key"
fingerprint=$(ssh-keygen -l -E sha256 -f "$work/sftp/host_key.pub" | awk '{print $2}')
: >"$work/sftp/authorized_keys"
cat >"$work/sftp/sshd_config" <<CONF
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $work/sftp/host_key
PidFile $work/sftp/sshd.pid
AuthorizedKeysFile $work/sftp/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
ForceCommand internal-sftp
CONF
/usr/sbin/sshd -f "$work/sftp/sshd_config"
trap 'kill $(cat "$work/sftp/sshd.pid") 2>/dev/null; cleanup' EXIT

"$bin" migrate >/dev/null
"$bin" tenants apply tenants >/dev/null
taskset -c 0 "$bin" demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null -H "Host: $host" "$base/sign-in" && break; sleep 0.2; done

tenant=$(sql "SELECT id FROM tenants WHERE slug = 'northmoor'")
course=$(sql "SELECT id FROM courses WHERE code = 'NM-BLS'")
echo "seeding $rows completions…"
if [[ "$backend" == postgres ]]; then
  sql "INSERT INTO staff_records (tenant_id, person_id, assignment_number, position, department, staff_group, place_of_work, updated_at)
       SELECT '$tenant', md5('p' || g)::uuid, lpad((20000000 + g)::text, 8, '0'), 'Nurse', 'Ward ' || (g % 40), 'Nursing and Midwifery Registered', 'Site', now()
         FROM generate_series(1, $rows) g"
  sql "INSERT INTO completions (tenant_id, id, person_id, course_id, enrolment_id, completed_at)
       SELECT '$tenant', md5('c' || g)::uuid, md5('p' || g)::uuid, '$course', md5('e' || g)::uuid, now() - (g || ' seconds')::interval
         FROM generate_series(1, $rows) g"
else
  python3 - "$work/bench.db" "$tenant" "$course" "$rows" <<'PY'
import sqlite3, sys, uuid, datetime
db, tenant, course, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = sqlite3.connect(db)
now = datetime.datetime.now(datetime.timezone.utc)
def people():
    for g in range(1, n + 1):
        yield (tenant, str(uuid.uuid5(uuid.NAMESPACE_OID, f"p{g}")), f"{20000000 + g:08d}", "Nurse", f"Ward {g % 40}", "Nursing and Midwifery Registered", "Site", now.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"))
c.executemany("INSERT INTO staff_records (tenant_id, person_id, assignment_number, position, department, staff_group, place_of_work, updated_at) VALUES (?,?,?,?,?,?,?,?)", people())
def done():
    for g in range(1, n + 1):
        at = (now - datetime.timedelta(seconds=g)).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
        yield (tenant, str(uuid.uuid5(uuid.NAMESPACE_OID, f"c{g}")), str(uuid.uuid5(uuid.NAMESPACE_OID, f"p{g}")), course, str(uuid.uuid4()), at)
c.executemany("INSERT INTO completions (tenant_id, id, person_id, course_id, enrolment_id, completed_at) VALUES (?,?,?,?,?,?)", done())
c.commit()
PY
fi

# Statistics for the tables just filled, as autovacuum keeps them for tables that grow day by day
# (without them PostgreSQL plans for the empty tables the bulk load started from).
if [[ "$backend" == postgres ]]; then sql "ANALYZE completions" >/dev/null; sql "ANALYZE staff_records" >/dev/null
else sql "ANALYZE" >/dev/null; fi

manager=$(sign_in training.manager@northmoor.example)
csrf=$(token_of "$manager" /admin/hr-export/competences)
curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" \
  --data-urlencode "course=NM-BLS" --data-urlencode "competence=NHS|CSTF|Resuscitation - Level 2|1 Year" "$base/admin/hr-export/competences"
csrf=$(token_of "$manager" /admin/hr-export)
curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" \
  -d target=sftp -d sftp_host=127.0.0.1 -d sftp_port=$sshd_port --data-urlencode "sftp_user=$(id -un)" \
  --data-urlencode "sftp_dir=$work/sftp/upload" --data-urlencode "sftp_host_key=$fingerprint" "$base/admin/hr-export"
curl -fs -H "Host: $host" -H "Cookie: $manager" "$base/admin/hr-export" \
  | grep -o '<code id="public-key" class="trellis-break">[^<]*' | sed 's/.*">//' >>"$work/sftp/authorized_keys"
csrf=$(token_of "$manager" /admin/hr-export)
start=$(date +%s.%N)
curl -fs -o /dev/null -H "Host: $host" -H "Cookie: $manager" --data-urlencode "csrf_token=$csrf" "$base/admin/hr-export/send"
for _ in $(seq 1 6000); do
  [[ "$(sql "SELECT count(*) FROM hr_exports WHERE status = 'delivered'")" == "1" ]] && break
  sleep 0.1
done
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
delivered_rows=$(sql "SELECT rows FROM hr_exports WHERE status = 'delivered'")
sha=$(sql "SELECT sha256 FROM hr_exports WHERE status = 'delivered'")
file=$(ls "$work/sftp/upload"/*.csv)
bytes=$(stat -c %s "$file")
check=$(sha256sum "$file" | awk '{print $1}')
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
[[ "$check" == "$sha" ]] || { echo "checksum differs: $check vs $sha"; exit 1; }
echo
echo "| database | rows delivered | file | Send now to delivered | server peak memory | checksum |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| $backend | $delivered_rows | $((bytes / 1024 / 1024)) MB | $took s | $((hwm / 1024)) MB | matches |"
# The worker's own split: reading the rows into the file, then sending it.
sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep -o 'rows=[0-9]* written_ms=[0-9]* sent_ms=[0-9]*' | tail -1 || true
