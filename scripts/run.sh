#!/usr/bin/env bash
# README command (a): build the release and serve it on SQLite with demo data at
# http://127.0.0.1:3000 (override with LEPTOS_SITE_ADDR, DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo leptos build --release
export LEPTOS_ENV=PROD
# The staff workspace has no default account: on a terminal, offer to create the first
# administrator (`sipas admin create` asks for the password).
if [[ -t 0 ]] && [[ -z "$("$SIPAS_BIN" user list 2>/dev/null)" ]]; then
  echo "No staff account yet. Create the first administrator of /staff (an empty password skips this):"
  "$SIPAS_BIN" admin create --username admin --name "Quản trị viên" || echo "(skipped)"
fi
echo "Survey: http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}/s  Staff: http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}/staff"
exec "$SIPAS_BIN" serve --demo
