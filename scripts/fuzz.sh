#!/usr/bin/env bash
# Fuzzes every parser that reads untrusted input (fuzz/fuzz_targets/) for SECONDS each (default
# 60). Not part of CI: the property tests (`cargo test`, files named never_panics.rs) are.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz from crates.io when it is missing. cargo-fuzz needs nightly compiler flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Builds go to fuzz/target (or
# FUZZ_TARGET_DIR), never to the workspace's target directory. Each run starts from the committed
# seeds in fuzz/corpus/<target>/ and writes what it discovers to a scratch corpus under the target
# directory, so the committed corpus only changes when someone copies inputs there on purpose.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL_TARGETS=(invitation_code questionnaire_toml methodology_toml microdata_csv submit_json)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
# Address sanitizer by default (our crates forbid `unsafe`, their dependencies do not);
# FUZZ_SANITIZER=none to skip it. A build the toolchain refuses is retried without it.
SANITIZER="${FUZZ_SANITIZER:-address}"
# cargo-fuzz defaults to one codegen unit, which makes the first build of leptos very slow on a
# small machine; 16 builds several times faster and fuzzes only slightly slower.
CODEGEN_UNITS="${FUZZ_CODEGEN_UNITS:-16}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# Not shared with the normal build, and not incremental (its caches grow without bound).
export CARGO_INCREMENTAL=0

echo "== building the fuzz targets (sanitizer: $SANITIZER, target dir: $TARGET_DIR)"
flags() {
  FLAGS=(--fuzz-dir fuzz --target-dir "$TARGET_DIR" --sanitizer "$SANITIZER" --debug-assertions
    --codegen-units "$CODEGEN_UNITS")
}
flags
if ! cargo fuzz build "${FLAGS[@]}"; then
  if [ "$SANITIZER" = none ]; then exit 1; fi
  echo "!! the build with --sanitizer $SANITIZER failed; retrying with --sanitizer none"
  SANITIZER=none
  flags
  cargo fuzz build "${FLAGS[@]}"
fi

failed=()
summary=()
for target in "${TARGETS[@]}"; do
  scratch="$TARGET_DIR/corpus/$target"
  mkdir -p "$scratch"
  log="$TARGET_DIR/fuzz-$target.log"
  echo "== $target for ${SECONDS_PER_TARGET}s (log: $log)"
  status=0
  # The scratch corpus comes first: libFuzzer adds new inputs to the first directory only.
  cargo fuzz run "${FLAGS[@]}" "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1 ||
    status=$?
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    summary+=("$target: CRASH (exit $status), see $log and fuzz/artifacts/$target/")
    grep -m 5 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" || true
  else
    summary+=("$target: ${runs:-no final stats} ($cov)")
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes in: ${failed[*]}" >&2
  exit 1
fi
