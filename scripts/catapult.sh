#!/usr/bin/env bash
# Runs ADL's CATAPULT cmi5 LMS test suite (lts/ of adlnet/CATAPULT) against a trust's LMS API.
#
#   scripts/catapult.sh <path-to-a-CATAPULT-checkout> [sqlite] [postgres]
#
# The suite is never committed here: bring it with the tool library's `fetch` (or clone it) and
# give its path. Its npm dependencies are installed from the npm registry if missing (puppeteer is
# told not to download a browser: Debian's /usr/bin/chromium runs the AUs), and its test packages
# are built with its own webpack set-up. Trellis's adapter, tests/catapult/lms.trellis.js (the
# suite's lib/lms.template.js interface over /api/v1), is copied into the suite's lib/.
#
# For each database asked for (SQLite by default; PostgreSQL too when CATAPULT_POSTGRES_URL, a
# superuser URL, is set or `postgres` is named) this starts Trellis on a fresh database, applies
# the demo trusts, issues Northmoor an API token (courses, launch, conformance) and a read-only LRS
# credential, runs the suite's package and runtime tests, prints the counts and any failure, and
# writes the counts into docs/elearning.md (between the catapult markers). Exits 0 only if every
# test passed on every database. CATAPULT_GREP=<regex> runs only matching tests (jest -t).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
checkout=${1:?usage: scripts/catapult.sh <CATAPULT-checkout> [sqlite] [postgres]}
shift
suite="$(cd "$checkout" && pwd)/lts"
[[ -f "$suite/lib/lms.template.js" && -f "$suite/__tests__/runtime.js" ]] || { echo "no lts/ test suite in $checkout"; exit 2; }
backends=("$@")
if [[ ${#backends[@]} -eq 0 ]]; then
  backends=(sqlite)
  [[ -n "${CATAPULT_POSTGRES_URL:-}" ]] && backends+=(postgres)
fi
pg_url="${CATAPULT_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
chromium=${PUPPETEER_EXECUTABLE_PATH:-/usr/bin/chromium}
[[ -x "$chromium" ]] || scripts/install-test-deps.sh

export PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_EXECUTABLE_PATH="$chromium"
if [[ ! -d "$suite/node_modules" ]]; then
  echo "catapult: installing the suite's npm packages"
  (cd "$suite" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
if [[ ! -f "$suite/pkg/dist/001-essentials.zip" ]]; then
  echo "catapult: building the suite's test packages"
  (cd "$suite/pkg" && NODE_OPTIONS=--openssl-legacy-provider npx webpack >/dev/null)
fi
cp tests/catapult/lms.trellis.js "$suite/lib/lms.trellis.js"

cargo build --quiet -p trellis
bin="${CARGO_TARGET_DIR:-$root/target}/debug/trellis"
port=${CATAPULT_PORT:-18124}
work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$pg_url" -qc "DROP DATABASE IF EXISTS trellis_catapult WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/puppeteer.config.js" <<JS
module.exports = { launch: { headless: true, executablePath: "$chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] } };
JS

overall=0
summary=()
for backend in "${backends[@]}"; do
  case "$backend" in
    sqlite) export DATABASE_URL="sqlite://$work/catapult.db?mode=rwc"; rm -f "$work/catapult.db" ;;
    postgres)
      PGOPTIONS=--client-min-messages=warning psql "$pg_url" -qc "DROP DATABASE IF EXISTS trellis_catapult WITH (FORCE)" -c "CREATE DATABASE trellis_catapult" >/dev/null
      export DATABASE_URL="${pg_url%/*}/trellis_catapult" ;;
    *) echo "unknown database $backend (sqlite or postgres)"; exit 2 ;;
  esac
  export TRELLIS__SERVER__LISTEN="127.0.0.1:$port" TRELLIS__SERVER__METRICS_LISTEN="127.0.0.1:0" \
    TRELLIS__LOG__FILTER=error TRELLIS__MAIL__DIR="$work/mail" TRELLIS__FILES__DIR="$work/files-$backend" TRELLIS__SECRETS__KEY_FILE="$work/secrets.key" REDIS_URL=""
  "$bin" migrate >/dev/null
  "$bin" tenants apply tenants >/dev/null
  token=$("$bin" api-token northmoor "CATAPULT cmi5 LMS test suite" --scope courses --scope launch --scope conformance --days 1 | sed -n 's/^token: //p')
  creds=$("$bin" lrs-credential northmoor "CATAPULT statement checks" --scope read --xapi-version 1.0.3)
  "$bin" serve >"$work/serve-$backend.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
  echo "== CATAPULT cmi5 LMS tests on $backend, against http://northmoor.localhost:$port/api/v1"
  (cd "$suite" && CATAPULT_LMS=./lib/lms.trellis.js \
    TRELLIS_API="http://northmoor.localhost:$port/api/v1" TRELLIS_API_TOKEN="$token" \
    LRS_ENDPOINT="http://northmoor.localhost:$port/xapi" \
    LRS_KEY="$(sed -n 's/^key: //p' <<<"$creds")" LRS_SECRET="$(sed -n 's/^secret: //p' <<<"$creds")" \
    JEST_PUPPETEER_CONFIG="$work/puppeteer.config.js" \
    NODE_OPTIONS="--require $root/tests/peers/localhost-dns.cjs" \
    npx jest --runInBand --testTimeout=60000 --json --outputFile="$work/result-$backend.json" \
      ${CATAPULT_GREP:+-t "$CATAPULT_GREP"} __tests__/package.js __tests__/runtime.js \
    >"$work/jest-$backend.out" 2>&1) || true
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  server_pid=""
  [[ -f "$work/result-$backend.json" ]] || { echo "the suite wrote no result:"; tail -40 "$work/jest-$backend.out"; overall=1; continue; }
  line=$(python3 - "$work/result-$backend.json" "$backend" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
by = {}
for f in r["testResults"]:
    name = f["name"].rsplit("/", 1)[-1].replace(".js", "")
    c = by.setdefault(name, [0, 0, 0])
    for t in f["assertionResults"]:
        c[0 if t["status"] == "passed" else 1 if t["status"] == "failed" else 2] += 1
        if t["status"] == "failed":
            print(f"# FAILED {name}: {' > '.join(t['ancestorTitles'] + [t['title']])}", file=sys.stderr)
            for m in t.get("failureMessages", [])[:1]:
                print("#   " + m.splitlines()[0][:300] if m else "", file=sys.stderr)
parts = [f"{n}: {p} passed, {f} failed, {s} skipped" for n, (p, f, s) in sorted(by.items())]
print(f"{sys.argv[2]}|{r['numPassedTests']}|{r['numFailedTests']}|{r['numPendingTests']}|{'; '.join(parts)}")
PY
)
  IFS='|' read -r _ passed failed skipped detail <<<"$line"
  echo "$backend: $passed passed, $failed failed, $skipped skipped ($detail)"
  summary+=("| $backend | $passed | $failed | $skipped | $detail |")
  [[ "$failed" == "0" && "$passed" != "0" ]] || overall=1
done

if [[ -z "${CATAPULT_GREP:-}" && ${#summary[@]} -gt 0 ]]; then
  commit=$(git -C "$checkout" rev-parse --short HEAD 2>/dev/null || echo unknown)
  python3 - docs/elearning.md "$commit" "$(date -u +%Y-%m-%d)" "${summary[@]}" <<'PY'
import re, sys
path, commit, day, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
text = open(path).read()
block = "\n".join([
    "<!-- catapult:begin (written by scripts/catapult.sh) -->",
    f"Last run {day}, CATAPULT at commit `{commit}`:",
    "",
    "| Database | Passed | Failed | Skipped | By test file |",
    "|---|---|---|---|---|",
    *rows,
    "<!-- catapult:end -->",
])
new, n = re.subn(r"<!-- catapult:begin.*?<!-- catapult:end -->", block, text, flags=re.S)
if n == 0:
    sys.exit("docs/elearning.md has no catapult markers")
open(path, "w").write(new)
PY
  echo "counts written to docs/elearning.md"
fi
exit "$overall"
