#!/usr/bin/env bash
# The public results site's load benchmark (issue 12): the release server with the demo's
# published history (2023, 2024 v1/v2 on 63 provinces, 2025 on 34 units), on SQLite and then on
# PostgreSQL, loaded with oha (built from crates.io) on this machine. Reports requests per
# second and p99 latency for the front page, the overview, a province page and two API
# documents (as browsers ask: Brotli), two pages for a client without Brotli (gzip), and, as
# the baseline of the same run, `/healthz` (the smallest handler: one database ping).
#   scripts/bench-site.sh [SECONDS] [CONNECTIONS] [ENGINES]   (ENGINES: "sqlite postgres")
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-50}
engines=${3:-sqlite postgres}
source scripts/env.sh
command -v oha >/dev/null || cargo install oha --locked
cargo leptos build --release
work=$(mktemp -d)
port=3392
pg_name="sipas_bench_site_$$"
admin=""
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  rm -rf "$work"
  if [[ -n $admin ]]; then
    psql "$admin" -qc "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

run() { # $1: engine, DATABASE_URL set
  "$SIPAS_BIN" demo >/dev/null
  LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=error "$SIPAS_BIN" serve &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo
  echo "$1"
  echo
  echo "| address | encoding | requests/s | p50 ms | p99 ms | ratio to /healthz | bytes per answer |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  local baseline="" path encoding
  for target in /healthz:br /:br /ket-qua:br /ket-qua/2025/tinh/79:br \
    /api/v1/releases/2025/latest:br /api/v1/releases/2025/1/provinces/79:br \
    /ket-qua:gzip /ket-qua/2025/tinh/79:gzip; do
    path=${target%:*}
    encoding=${target##*:}
    url="http://127.0.0.1:$port$path"
    # The first request builds the page; the run measures serving it.
    size=$(curl -fs -H "accept-encoding: $encoding" -o "$work/body" -w '%{size_download}' "$url")
    oha --no-tui --output-format json -z "${seconds}s" -c "$connections" \
      -H "accept-encoding: $encoding" "$url" >"$work/oha.json"
    read -r rps p50 p99 bad <<<"$(python3 - "$work/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]; p = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f'{s["requestsPerSec"]:.0f} {1000 * p["p50"]:.2f} {1000 * p["p99"]:.2f} {sum(v for k, v in codes.items() if k != "200")}')
PY
)"
    [[ $bad == 0 ]] || echo "warning: $bad answers to $path were not 200" >&2
    if [[ -z $baseline ]]; then baseline=$rps; fi
    ratio=$(python3 -c "print(f'{$rps / $baseline:.2f}')")
    echo "| \`$path\` | $encoding | $rps | $p50 | $p99 | $ratio | $size |"
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
}

for engine in $engines; do
  case $engine in
    sqlite)
      DATABASE_URL="sqlite://$work/site.db" run "SQLite" ;;
    postgres)
      source scripts/postgres.sh >/dev/null
      admin=${TEST_DATABASE_URL:-postgres://sipas_test:sipas_test@127.0.0.1:5432/postgres}
      psql "$admin" -qc "CREATE DATABASE $pg_name" >/dev/null
      # Migrated by the owner, served by the application role (docs/operations.md).
      owner="${admin%/*}/$pg_name"
      app="postgres://sipas_test_app:sipas_test_app@${owner#*@}"
      DATABASE_URL=$app SIPAS_MIGRATE_DATABASE_URL=$owner "$SIPAS_BIN" migrate >/dev/null
      DATABASE_URL=$app run "PostgreSQL 15" ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
done
