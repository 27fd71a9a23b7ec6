#!/usr/bin/env bash
# Benchmarks of the staff workspace (server/examples/staff_bench.rs), on SQLite and PostgreSQL:
#   monitoring: the national page of a wave of MONITOR_N responses over 34 provinces, server
#     time per request, against loading every response into memory (the baseline);
#   exports: a CSV export of EXPORT_N and of EXPORT_N/10 responses, rows per second and peak
#     resident memory of the exporting process (flat memory = the export streams);
#   indices from the database: the demonstration's wave and COMPUTE_N responses, against the
#     CSV path in the same run (the ratio).
#   scripts/bench-staff.sh [MONITOR_N] [EXPORT_N] [PG_EXPORT_N] [COMPUTE_N]
set -euo pipefail
cd "$(dirname "$0")/.."
monitor_n=${1:-40000}
export_n=${2:-1000000}
pg_export_n=${3:-200000}
compute_n=${4:-1000000}
source scripts/env.sh
source scripts/postgres.sh >/dev/null
cargo build --release -p sipas --example staff_bench
bench="$TARGET_DIR/release/examples/staff_bench"
work=$(mktemp -d)
admin=${TEST_DATABASE_URL:-postgres://sipas_test:sipas_test@127.0.0.1:5432/postgres}
databases=()
cleanup() {
  rm -rf "$work"
  for name in "${databases[@]}"; do
    psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
pg() { # a fresh PostgreSQL database URL (in $url; dropped on exit)
  local name="sipas_bench_$1_$$"
  psql "$admin" -qc "CREATE DATABASE $name" >/dev/null
  databases+=("$name")
  url="${admin%/*}/$name"
}
RUST_LOG=error "$bench" monitor "sqlite://$work/monitor.db" "$monitor_n"
pg monitor
RUST_LOG=error "$bench" monitor "$url" "$monitor_n"
for n in $((export_n / 10)) "$export_n"; do
  RUST_LOG=error "$bench" seed "sqlite://$work/export-$n.db" "$n"
  RUST_LOG=error "$bench" export "sqlite://$work/export-$n.db"
done
for n in $((pg_export_n / 10)) "$pg_export_n"; do
  pg "export_$n"
  RUST_LOG=error "$bench" seed "$url" "$n"
  RUST_LOG=error "$bench" export "$url"
done
# Indices from the database against the CSV path: the demonstration's wave, then compute_n.
RUST_LOG=error "$bench" compute-demo "sqlite://$work/compute-demo.db?mode=rwc"
RUST_LOG=error "$bench" compute "sqlite://$work/compute.db?mode=rwc" "$compute_n"
pg compute_demo
RUST_LOG=error "$bench" compute-demo "$url"
pg compute
RUST_LOG=error "$bench" compute "$url" "$compute_n"
