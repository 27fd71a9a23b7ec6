#!/usr/bin/env bash
# README command (a): build the release and serve it on SQLite with demo data at
# http://127.0.0.1:3000 (override with LEPTOS_SITE_ADDR, DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo leptos build --release
export LEPTOS_ENV=PROD
exec "$SIPAS_BIN" serve --demo
