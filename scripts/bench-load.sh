#!/usr/bin/env bash
# The submission load benchmark: the release server on SQLite and on PostgreSQL, each with group
# commit (the default) and without it (the baseline), all in the same run. Each run gets fresh
# codes; every submission is a complete questionnaire with its own code, acknowledged only once
# it is durable. Rate limits are off (one client sends everything); load shedding stays on.
#   scripts/bench-load.sh [CODES] [CONNECTIONS] [DRAFTS]
# DRAFTS (default 0): draft saves per code before it is submitted, as the hydrated page makes
# one per screen (the default questionnaire has 11). Every respondent sends a device cookie of
# their own (the quality review's device count); a third row per engine sends none, the baseline
# of that check's cost.
set -euo pipefail
cd "$(dirname "$0")/.."
codes_per_run=${1:-20000}
connections=${2:-64}
drafts=${3:-0}
source scripts/env.sh
cargo build --release -p sipas --bin sipas --example load
load="$TARGET_DIR/release/examples/load"
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

run() { # engine label url group_commit [device cookies: on|off]
  local engine=$1 label=$2 url=$3 group=$4 devices=${5:-on} port=3390
  DATABASE_URL=$url "$SIPAS_BIN" demo --no-history >/dev/null
  # Batches of at most 5,000 codes (the one limit, as on the staff page) over province 79.
  local left=$codes_per_run part=0 codes="$work/codes-$label.csv"
  while (( left > 0 )); do
    local n=$(( left < 5000 ? left : 5000 ))
    DATABASE_URL=$url "$SIPAS_BIN" codes --wave sipas-2026-demo --province 79 --count "$n" \
      --out "$work/part-$label-$part.csv" >/dev/null
    if (( part == 0 )); then cat "$work/part-$label-$part.csv" >"$codes"
    else tail -n +2 "$work/part-$label-$part.csv" >>"$codes"; fi
    left=$(( left - n )); part=$(( part + 1 ))
  done
  DATABASE_URL=$url LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=error \
    SIPAS_DATABASE_GROUP_COMMIT=$group SIPAS_LIMIT_SUBMISSIONS_PER_MINUTE=0 \
    SIPAS_LIMIT_CODE_PAGES_PER_MINUTE=0 SIPAS_DATABASE_MAX_CONNECTIONS=16 \
    "$SIPAS_BIN" serve &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  "$load" --addr "127.0.0.1:$port" --codes "$codes" --connections "$connections" \
    --drafts "$drafts" --devices "$devices" --label "$engine/$label"
  kill "$server"; wait "$server" 2>/dev/null || true
}

echo "== SQLite (WAL, synchronous = FULL)"
run sqlite group-commit "sqlite://$work/group.db" true
run sqlite baseline "sqlite://$work/baseline.db" false
run sqlite no-device-cookies "sqlite://$work/no-devices.db" true off

if [[ -n "${BENCH_DATABASE_URL:-}" ]] || source scripts/postgres.sh; then
  admin=${BENCH_DATABASE_URL:-$TEST_DATABASE_URL}
  base=${admin%/*}
  echo "== PostgreSQL (synchronous_commit = on)"
  for label in group-commit baseline no-device-cookies; do
    db="sipas_bench_${label//-/_}_$$"
    psql "$admin" -qc "CREATE DATABASE $db"
    group=true; [[ $label == baseline ]] && group=false
    devices=on; [[ $label == no-device-cookies ]] && devices=off
    # Migrated by the owner, served by the application role, as deployed (docs/operations.md).
    app="postgres://sipas_test_app:sipas_test_app@${base#*@}/$db"
    DATABASE_URL=$app SIPAS_MIGRATE_DATABASE_URL="$base/$db" "$SIPAS_BIN" migrate >/dev/null
    run postgres "$label" "$app" "$group" "$devices"
    psql "$admin" -qc "DROP DATABASE $db WITH (FORCE)"
  done
fi
