#!/usr/bin/env bash
# README command (b): every test. Unit and integration tests (the storage conformance suite on
# SQLite and on PostgreSQL, the golden statistics tests), then the release build and the
# end-to-end tests in chromium on a phone viewport.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
source scripts/env.sh
source scripts/postgres.sh

echo "== unit and integration tests (SQLite and PostgreSQL)"
cargo test --workspace --exclude sipas-frontend

echo "== release build (server and wasm)"
cargo leptos build --release

echo "== end-to-end tests (chromium, 360x740)"
(cd end2end && npx playwright test)
