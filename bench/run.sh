#!/usr/bin/env bash
# End-to-end benchmark: builds letsdata in release mode and runs bench/src/main.rs, which
# generates JSON lines input, runs `letsdata datasets create` on it with the jsonl built-in parser
# and with examples/json-transform (Wasm), and reports MB/s, peak RSS and the sandbox crossing cost.
#   bench/run.sh                    # ~1 GB over 8 files, then 8 x 32 MB to show RSS independence
#   bench/run.sh --total-mb 256     # smaller
#   bench/run.sh --runs 3           # three alternating runs of each; the share uses the medians
#   bench/run.sh --sandbox-only     # only the sandbox figures (crossing cost, json-transform calls)
#   bench/run.sh --sandbox-only --compare OTHER.wasm
#                                   # json-transform against another build of it, call for call
# The runs share one compiled-code cache, as datasets on one installation do: the small Wasm
# run compiles json-transform (its code build time is printed), the timed runs load it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p letsdata -p letsdata-bench
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
CARGO_TARGET_DIR="$TARGET/guests" cargo build --release --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml -p json-transform -p letsdata-test-passthrough
export LETSDATA_BENCH_WASM_DIR="$TARGET/guests/wasm32-wasip2/release"
# Not exec: the benchmark reports its children's peak RSS (RUSAGE_CHILDREN), which an exec'd
# process would inherit from this shell, cargo's build included.
"$TARGET/release/letsdata-bench" "$@"
