#!/usr/bin/env bash
# The public results site's load benchmark (issue 12): the release server on SQLite with the
# demo's published history (2023, 2024 v1/v2 on 63 provinces, 2025 on 34 units), loaded with
# oha (built from crates.io) on this machine. Reports requests per second and p99 latency for
# the overview, a province page and an API document, and, as the baseline of the same run,
# `/healthz` (the smallest handler: one database ping).
#   scripts/bench-site.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-50}
source scripts/env.sh
command -v oha >/dev/null || cargo install oha --locked
cargo leptos build --release
work=$(mktemp -d)
port=3392
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

export DATABASE_URL="sqlite://$work/site.db"
"$SIPAS_BIN" demo >/dev/null
LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=error "$SIPAS_BIN" serve &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "| address | requests/s | p50 ms | p99 ms | ratio to /healthz | bytes per answer (br) |"
echo "| --- | --- | --- | --- | --- | --- |"
baseline=""
for path in /healthz /ket-qua /ket-qua/2025/tinh/79 /api/v1/releases/2025/latest /api/v1/releases/2025/1/provinces/79; do
  url="http://127.0.0.1:$port$path"
  # The first request builds the page; the run measures serving it.
  size=$(curl -fs -H 'accept-encoding: br' -o "$work/body" -w '%{size_download}' "$url")
  oha --no-tui --output-format json -z "${seconds}s" -c "$connections" \
    -H 'accept-encoding: br' "$url" >"$work/oha.json"
  read -r rps p50 p99 ok <<<"$(python3 - "$work/oha.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]; p = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f'{s["requestsPerSec"]:.0f} {1000 * p["p50"]:.2f} {1000 * p["p99"]:.2f} {sum(v for k, v in codes.items() if k != "200")}')
EOF
)"
  [[ $ok == 0 ]] || echo "warning: $ok answers to $path were not 200" >&2
  if [[ -z $baseline ]]; then baseline=$rps; fi
  ratio=$(python3 -c "print(f'{$rps / $baseline:.2f}')")
  echo "| \`$path\` | $rps | $p50 | $p99 | $ratio | $size |"
done
