#!/usr/bin/env bash
# Runs the ADL LRS conformance test suite against a trust's LRS.
#
#   scripts/lrs-conformance.sh <path-to-lrs-conformance-test-suite> [2.0.0] [1.0.3]
#
# The suite is adlnet/lrs-conformance-test-suite (bring it with the tool library's `fetch`, or
# clone it; it is never committed here). Its npm dependencies are installed from the npm registry
# if missing. For each version asked for (both by default) this starts Trellis on a fresh SQLite
# database (or on PostgreSQL: set LRS_POSTGRES_URL to a superuser URL; a database trellis_lrs is
# made and dropped), applies the demo trusts, issues an LRS credential for Northmoor that speaks
# that version, runs the whole suite against http://northmoor.localhost:PORT/xapi, and prints the
# suite's counts. Exits 0 only if every test of every version passed. Failures are listed from
# the suite's own log (which also holds the HTTP transcripts). LRS_GREP=<regex> runs only the
# tests whose titles match (the suite's -g), while working on one part.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
suite=${1:?usage: scripts/lrs-conformance.sh <suite-path> [2.0.0] [1.0.3]}
shift
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.0.0 1.0.3)
suite=$(cd "$suite" && pwd)
[[ -f "$suite/bin/console_runner.js" ]] || { echo "no bin/console_runner.js in $suite"; exit 2; }
[[ -d "$suite/node_modules" ]] || (cd "$suite" && npm install --no-audit --no-fund --loglevel=error)
cargo build --quiet -p trellis
bin="$root/target/debug/trellis"
port=${LRS_PORT:-18123}
work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n "${LRS_POSTGRES_URL:-}" ]] && psql "$LRS_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS trellis_lrs WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
overall=0
for v in "${versions[@]}"; do
  if [[ -n "${LRS_POSTGRES_URL:-}" ]]; then
    psql "$LRS_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS trellis_lrs WITH (FORCE)" -c "CREATE DATABASE trellis_lrs" >/dev/null
    export DATABASE_URL="${LRS_POSTGRES_URL%/*}/trellis_lrs"
  else
    rm -f "$work/lrs.db"
    export DATABASE_URL="sqlite://$work/lrs.db?mode=rwc"
  fi
  export TRELLIS__SERVER__LISTEN="127.0.0.1:$port" TRELLIS__SERVER__METRICS_LISTEN="127.0.0.1:0" \
    TRELLIS__LOG__FILTER=error TRELLIS__MAIL__DIR="$work/mail" TRELLIS__FILES__DIR="$work/files" TRELLIS__SECRETS__KEY_FILE="$work/secrets.key" REDIS_URL=""
  "$bin" migrate >/dev/null
  "$bin" tenants apply tenants >/dev/null
  creds=$("$bin" lrs-credential northmoor "ADL conformance suite" --xapi-version "$v")
  key=$(sed -n 's/^key: //p' <<<"$creds")
  secret=$(sed -n 's/^secret: //p' <<<"$creds")
  "$bin" serve >"$work/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
  before=$(ls -t "$suite/logs" 2>/dev/null | head -1 || true)
  echo "== xAPI $v: the ADL LRS conformance suite against http://northmoor.localhost:$port/xapi"
  (cd "$suite" && NODE_OPTIONS="--require $root/tests/peers/localhost-dns.cjs" \
    node bin/console_runner.js -e "http://northmoor.localhost:$port/xapi" -a -u "$key" -p "$secret" -x "$v" \
    ${LRS_GREP:+-g "$LRS_GREP"} \
    >"$work/suite-$v.out" 2>&1) || true
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  server_pid=""
  log=$(ls -t "$suite/logs" | head -1)
  [[ -n "$log" && "$log" != "$before" ]] || { echo "the suite wrote no log:"; tail -20 "$work/suite-$v.out"; overall=1; continue; }
  python3 - "$suite/logs/$log" "$v" <<'PY' || overall=1
import json, sys
log = json.load(open(sys.argv[1]))
s = log.get("summary", {})
total, passed, failed = s.get("total", 0), s.get("passed", 0), s.get("failed", 0)
print(f"xAPI {sys.argv[2]}: {passed} passed, {failed} failed, of {total} tests (state: {log.get('state')})")
failures = []
def walk(node, path):
    title = node.get("title") or node.get("name") or ""
    here = path + ([title] if title else [])
    if node.get("status") == "failed" and not node.get("tests"):
        failures.append((" > ".join(here), str(node.get("error", ""))[:200]))
    for t in node.get("tests", []) or []:
        walk(t, here)
walk(log.get("log", {}), [])
for name, err in failures[:200]:
    print(f"  not ok - {name}\n      {err}")
if len(failures) > 200:
    print(f"  … and {len(failures) - 200} more")
sys.exit(0 if failed == 0 and passed == total and total > 0 else 1)
PY
done
exit $overall
