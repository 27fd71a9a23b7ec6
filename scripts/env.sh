# Sourced by the scripts: where the build puts things and which tools to use.
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export SIPAS_BIN="$TARGET_DIR/release/sipas"
# cargo-leptos writes the site (wasm, JS, CSS, assets) here; the server serves it.
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$TARGET_DIR/site}"
export LEPTOS_SITE_PKG_DIR="${LEPTOS_SITE_PKG_DIR:-pkg}"
export LEPTOS_OUTPUT_NAME="${LEPTOS_OUTPUT_NAME:-sipas}"
