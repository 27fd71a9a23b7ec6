#!/usr/bin/env bash
# Installs what building, running and testing SIPAS needs, skipping what is already present.
# Idempotent; safe to run before every build. Everything comes from crates.io, npm or Debian.
#   scripts/setup.sh          tools to build and run
#   scripts/setup.sh --test   also the browser, PostgreSQL and the end-to-end packages
#   scripts/setup.sh --r      R with the survey and sampling packages (Debian), to regenerate the golden
#                             statistics (stats/golden/generate.R) and run scripts/bench.sh's
#                             baseline; the tests never need it
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
want_test=false
want_r=false
[[ "${1:-}" == "--test" ]] && want_test=true
[[ "${1:-}" == "--r" ]] && want_r=true

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes a while, once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# wasm-bindgen's CLI must be exactly the version of the library in Cargo.lock.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$bindgen_version"; then
  say "installing wasm-bindgen-cli $bindgen_version"
  # Not --locked: its locked set wants a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

apt_install() {
  say "installing Debian packages: $*"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  fi
}

command -v npm >/dev/null || apt_install nodejs npm

# end2end/node_modules carries Playwright and binaryen's wasm-opt (release wasm optimisation).
if [[ ! -d end2end/node_modules ]] || [[ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  say "installing npm packages in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
fi

# cargo-deny checks licences, banned crates and sources in CI (deny.toml).
CARGO_DENY_VERSION=0.20.2
if $want_test && ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  say "installing cargo-deny $CARGO_DENY_VERSION (once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "cargo-deny@$CARGO_DENY_VERSION" --locked
fi

if $want_test; then
  missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
fi
if $want_r && ! Rscript -e 'library(survey); library(MASS); library(sampling)' >/dev/null 2>&1; then
  apt_install r-base-core r-cran-survey r-cran-mass r-cran-sampling
fi
say "tools ready"
