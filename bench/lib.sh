# Shared by the benchmarks (sourced, not run): tools, a fresh database, clean-up, CPU ticks.
# Expects $backend (sqlite|postgres) and $port; sets $work, $admin (PostgreSQL), DATABASE_URL and
# the server's settings; `server_pid` is killed on exit. BENCH_KEEP=1 keeps the database and
# $work; BENCH_POSTGRES_URL is a superuser URL (default postgres://postgres@127.0.0.1:5432/test);
# BENCH_POOL the application pool (default 8).

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
[[ -x ${TRELLIS_BIN:-target/release/trellis} ]] || cargo build --release -p trellis
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
  TRELLIS__MAIL__DIR="$work/mail" TRELLIS__FILES__DIR="$work/files" TRELLIS__SECRETS__KEY_FILE="$work/secrets.key" \
  TRELLIS__AUTH__SECRET=${BENCH_SECRET:-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}

# The server's user + system CPU time so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)

# Signs in at $host (through $base) with the demo password; prints the session cookie
# ("name=value; …"). Accepts the current terms on the way.
sign_in() {
  local jar="$work/jar.$1" token
  token=$(curl -fs -c "$jar" -H "Host: $host" "$base/sign-in" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -fs -o /dev/null -b "$jar" -c "$jar" -H "Host: $host" --data-urlencode "csrf_token=$token" \
    --data-urlencode "email=$1" --data-urlencode "password=demo manager password" "$base/sign-in"
  # Agree to the current terms (the demo people have not yet).
  local terms accepting
  terms=$(curl -fs -b "$jar" -c "$jar" -H "Host: $host" "$base/terms")
  token=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$terms" | head -1 | sed 's/.*value="//;s/"$//')
  accepting=$(grep -o 'name="accepting" value="[^"]*"' <<<"$terms" | head -1 | sed 's/.*value="//;s/"$//')
  [[ -z "$accepting" ]] || curl -fs -o /dev/null -b "$jar" -c "$jar" -H "Host: $host" --data-urlencode "csrf_token=$token" \
    --data-urlencode "accepting=$accepting" "$base/terms"
  # Every cookie of the jar (HttpOnly ones are written as "#HttpOnly_<domain>").
  awk -F'\t' 'NF == 7 && ($1 !~ /^#/ || $1 ~ /^#HttpOnly_/) { c = c (c ? "; " : "") $6 "=" $7 } END { print c }' "$jar"
}
token_of() { curl -fs -H "Host: $host" -H "Cookie: $1" "$base$2" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//'; }
