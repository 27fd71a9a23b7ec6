#!/usr/bin/env bash
# The statistics benchmark: 1,000,000 responses x 33 items x 63 provinces, the whole index tree
# with intervals, in Rust; R's survey package on the same file as the baseline.
#   scripts/bench.sh [ROWS] [R_ITEMS]      (needs r-base-core and r-cran-survey for the baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
r_items=${2:-3}
data=${BENCH_DATA:-/tmp/sipas-bench-$rows.csv}
cargo build --release -p sipas-stats --example bench
bench="${CARGO_TARGET_DIR:-target}/release/examples/bench"
[[ -f "$data" ]] || "$bench" generate "$data" "$rows"
echo "== Rust (one thread)"
rust=$(taskset -c 0 "$bench" time "$data" stats/bench/methodology.toml)
echo "$rust"
if command -v Rscript >/dev/null; then
  echo "== R survey $(Rscript -e 'cat(format(packageVersion("survey")))') (baseline)"
  r=$(Rscript stats/bench/survey.R "$data" "$r_items")
  echo "$r"
  rust_total=$(sed -n 's/^csv_to_results_seconds=//p' <<<"$rust")
  r_per_item=$(sed -n 's/^r_seconds_per_item=//p' <<<"$r")
  awk -v rt="$rust_total" -v rpi="$r_per_item" -v k="$r_items" 'BEGIN {
    printf "ratio_measured=%.1f  (R on %d items / Rust on all 33 items and every inner node and subgroup)\n", rpi * k / rt, k;
    printf "ratio_extrapolated=%.0f  (R per item x 33 / Rust total)\n", rpi * 33 / rt }'
fi
