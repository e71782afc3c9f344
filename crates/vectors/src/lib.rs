//! letsdata-vectors: the model behind the `LAMBDA_AND_SAGEMAKER` compute engine, run where the
//! workers run.
//!
//! LetsData deploys a HuggingFace model from `model.tar.gz` to a SageMaker endpoint; letsdata
//! loads the same model directory in-process and runs it on CPU. [`SentenceModel::load`] reads a
//! sentence-transformers directory as `SentenceTransformer.save()` writes it:
//!
//! ```text
//! modules.json                 Transformer → Pooling (→ Normalize), the pipeline
//! config.json                  the BERT encoder's shape
//! model.safetensors            its weights
//! tokenizer.json               the (fast) tokenizer
//! sentence_bert_config.json    max_seq_length, the longest input in tokens
//! 1_Pooling/config.json        which pooling (mean, CLS, max, mean/√len)
//! ```
//!
//! and checks every piece before anything runs, naming the file and what to do.
//! [`SentenceModel::embed`] turns a batch of texts into vectors: texts are tokenized, sorted by
//! length and run through the encoder [`BATCH`] at a time (padding only to the longest of each
//! batch), pooled and normalized as the directory declares. A text longer than the model's
//! maximum is cut to it, as sentence-transformers does, and its [`Embedding::truncated`] says
//! where.
//!
//! Nothing here reads archives, datasets or the network: the engine unpacks `model.tar.gz` and
//! hands over the directory.

mod model;

pub use model::{BATCH, Embedding, ModelError, Pooling, SentenceModel, Truncation};
