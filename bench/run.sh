#!/usr/bin/env bash
# End-to-end benchmark: builds letsdata in release mode and runs bench/src/main.rs, which
# generates JSON lines input, runs `letsdata datasets create` on it and reports MB/s and peak RSS.
#   bench/run.sh                    # ~1 GB over 8 files, then 8 x 32 MB to show RSS independence
#   bench/run.sh --total-mb 256     # smaller
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p letsdata -p letsdata-bench
TARGET="${CARGO_TARGET_DIR:-target}"
exec "$TARGET/release/letsdata-bench" "$@"
