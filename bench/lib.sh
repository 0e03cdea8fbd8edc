# Shared by the benchmarks (sourced, not run): tools, a fresh database, clean-up, CPU ticks.
# Expects $backend (sqlite|postgres) and $port; sets $work, $admin (PostgreSQL), DATABASE_URL and
# the server's settings; `server_pid` is killed on exit. BENCH_KEEP=1 keeps the database and
# $work; BENCH_POSTGRES_URL is a superuser URL (default postgres://postgres@127.0.0.1:5432/test);
# BENCH_POOL the application pool (default 8).

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
[[ -x target/release/trellis ]] || cargo build --release -p trellis
work=$(mktemp -d)
server_pid=""
admin=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [[ -n "${BENCH_KEEP:-}" ]]; then echo "kept: $DATABASE_URL ($work)"; return; fi
  [[ "$backend" == postgres ]] && psql "$admin" -qc "DROP DATABASE IF EXISTS trellis_bench WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

case "$backend" in
  sqlite) export DATABASE_URL="sqlite://$work/bench.db?mode=rwc" ;;
  postgres)
    psql "$admin" -qc "DROP DATABASE IF EXISTS trellis_bench WITH (FORCE)" -c "CREATE DATABASE trellis_bench" >/dev/null
    export DATABASE_URL="${admin%/*}/trellis_bench" ;;
  *) echo "backend must be sqlite or postgres"; exit 2 ;;
esac
export TRELLIS__SERVER__LISTEN="127.0.0.1:$port" TRELLIS__SERVER__METRICS_LISTEN="127.0.0.1:0" \
  TRELLIS__LOG__FILTER=error TRELLIS__DATABASE__MAX_CONNECTIONS=${BENCH_POOL:-8} \
  TRELLIS__MAIL__DIR="$work/mail" TRELLIS__FILES__DIR="$work/files"

# The server's user + system CPU time so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)
