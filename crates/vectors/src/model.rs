//! A sentence-transformers model directory, loaded and run.

use std::path::{Path, PathBuf};

use candle::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams, TruncationStrategy};

/// Texts run through the encoder at once (after sorting by length, so that a batch pads little).
pub const BATCH: usize = 32;

/// Why a model directory cannot be used, or an inference failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The directory is not a model letsdata can run: the message names the file and what to do.
    #[error("{0}")]
    Invalid(String),
    /// The encoder failed on a batch (out of memory, a bug): not the texts' fault.
    #[error("the model failed: {0}")]
    Inference(String),
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

fn inference(e: impl std::fmt::Display) -> ModelError {
    ModelError::Inference(e.to_string())
}

/// One text's vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub vector: Vec<f32>,
    /// Set when the text was longer than the model's maximum and only its start was encoded.
    pub truncated: Option<Truncation>,
}

/// Where a text was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// The model's maximum length in tokens (the special tokens included).
    pub max_tokens: usize,
    /// The text's length in tokens, had it not been cut (special tokens included).
    pub text_tokens: usize,
    /// Bytes of the text that were encoded, from its start (the rest was not).
    pub encoded_bytes: usize,
    /// The text's length in bytes.
    pub text_bytes: usize,
}

/// The pooling modes sentence-transformers' `Pooling` module knows and letsdata runs, in the
/// order their vectors are concatenated when several are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Cls,
    Max,
    Mean,
    MeanSqrtLen,
}

/// `1_Pooling/config.json`.
#[derive(Debug, Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default)]
    include_prompt: Option<bool>,
}

/// One entry of `modules.json`.
#[derive(Debug, Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `sentence_bert_config.json`.
#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

/// A loaded model: the encoder, its tokenizer and what follows it.
pub struct SentenceModel {
    bert: BertModel,
    tokenizer: Tokenizer,
    pooling: Vec<Pooling>,
    normalize: bool,
    lowercase: bool,
    max_tokens: usize,
    dimension: usize,
    device: Device,
}

impl std::fmt::Debug for SentenceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceModel")
            .field("pooling", &self.pooling)
            .field("normalize", &self.normalize)
            .field("max_tokens", &self.max_tokens)
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

/// Reads a JSON file of the model directory; `None` when it is not there.
fn read_json<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    name: &str,
) -> Result<Option<T>, ModelError> {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(invalid(format!("{name} cannot be read: {e}"))),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        invalid(format!(
            "{name} is not what sentence-transformers writes: {e}"
        ))
    })
}

/// The module directory `path` of `modules.json`, inside the model directory.
fn module_dir(root: &Path, path: &str) -> Result<PathBuf, ModelError> {
    let rel = Path::new(path);
    if rel.components().any(|c| {
        !matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    }) {
        return Err(invalid(format!(
            "modules.json names the module path {path:?}, which leaves the model directory"
        )));
    }
    Ok(root.join(rel))
}

impl SentenceModel {
    /// Loads and checks a sentence-transformers model directory (see the crate's docs).
    pub fn load(dir: &Path) -> Result<SentenceModel, ModelError> {
        if !dir.is_dir() {
            return Err(invalid(format!("{} is not a directory", dir.display())));
        }
        // The pipeline. Without modules.json, sentence-transformers reads the directory as a
        // plain HuggingFace encoder with mean pooling; so does letsdata.
        let modules: Vec<Module> = read_json(dir, "modules.json")?.unwrap_or_else(|| {
            vec![
                Module {
                    path: String::new(),
                    kind: "sentence_transformers.models.Transformer".into(),
                },
                Module {
                    path: String::new(),
                    kind: "letsdata.MeanPooling".into(),
                },
            ]
        });
        let mut transformer = None;
        let mut pooling_dir = None;
        let mut normalize = false;
        for (i, module) in modules.iter().enumerate() {
            let kind = module.kind.rsplit('.').next().unwrap_or_default();
            match (i, kind) {
                (0, "Transformer") => transformer = Some(module_dir(dir, &module.path)?),
                (1, "Pooling") => pooling_dir = Some(module_dir(dir, &module.path)?),
                (1, "MeanPooling") => {}
                (2, "Normalize") => normalize = true,
                _ => {
                    return Err(invalid(format!(
                        "modules.json's module {i} is {:?}; letsdata runs Transformer, then Pooling, then optionally Normalize (a BERT sentence encoder as sentence-transformers saves it)",
                        module.kind
                    )));
                }
            }
        }
        let Some(transformer) = transformer else {
            return Err(invalid(
                "modules.json lists no modules; it must list Transformer, then Pooling, then optionally Normalize",
            ));
        };

        let config: Config = read_json(&transformer, "config.json")?.ok_or_else(|| {
            invalid("the model directory has no config.json (the encoder's configuration)")
        })?;
        match config.model_type.as_deref() {
            Some("bert") => {}
            other => {
                return Err(invalid(format!(
                    "config.json's model_type is {}; letsdata runs BERT encoders (model_type \"bert\", as all-MiniLM-L6-v2, all-MiniLM-L12-v2, bge-small-en)",
                    other.map_or("missing".to_string(), |t| format!("{t:?}"))
                )));
            }
        }

        let tokenizer_path = transformer.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(invalid(
                "the model directory has no tokenizer.json: save the model with sentence-transformers (SentenceTransformer.save writes the tokenizer beside config.json) and pack that directory",
            ));
        }
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| invalid(format!("tokenizer.json cannot be read as a tokenizer: {e}")))?;

        let st_config: Option<SentenceBertConfig> =
            read_json(&transformer, "sentence_bert_config.json")?;
        // sentence-transformers cuts texts at max_seq_length; without it, at what the tokenizer
        // says, and never past the encoder's positions.
        let max_tokens = st_config
            .as_ref()
            .and_then(|c| c.max_seq_length)
            .or_else(|| tokenizer.get_truncation().map(|t| t.max_length))
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        let lowercase = st_config.as_ref().is_some_and(|c| c.do_lower_case);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                ..Default::default()
            }))
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);

        let pooling = match pooling_dir {
            None => vec![Pooling::Mean],
            Some(pdir) => {
                let name = format!(
                    "{}config.json",
                    pdir.strip_prefix(dir)
                        .ok()
                        .map(|p| p.display().to_string())
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("{p}/"))
                        .unwrap_or_default()
                );
                let pc: PoolingConfig = read_json(&pdir, "config.json")?.ok_or_else(|| {
                    invalid(format!(
                        "modules.json names a Pooling module, but {name} is not there"
                    ))
                })?;
                pooling_modes(&pc, &name, config.hidden_size)?
            }
        };

        let weights_path = transformer.join("model.safetensors");
        let weights = match std::fs::read(&weights_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hint = if transformer.join("pytorch_model.bin").is_file() {
                    " (it has pytorch_model.bin: convert it, e.g. save the model again with a recent sentence-transformers, which writes safetensors)"
                } else {
                    ""
                };
                return Err(invalid(format!(
                    "the model directory has no model.safetensors, the encoder's weights{hint}"
                )));
            }
            Err(e) => return Err(invalid(format!("model.safetensors cannot be read: {e}"))),
        };
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| invalid(format!("model.safetensors is not a safetensors file: {e}")))?;
        let bert = BertModel::load(vb, &config).map_err(|e| {
            invalid(format!(
                "model.safetensors does not hold the BERT encoder config.json describes: {e}"
            ))
        })?;
        Ok(SentenceModel {
            bert,
            tokenizer,
            dimension: config.hidden_size * pooling.len(),
            pooling,
            normalize,
            lowercase,
            max_tokens,
            device,
        })
    }

    /// The length of the vectors this model makes.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The longest input in tokens (the special tokens included); longer texts are cut.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The vectors of `texts`, in their order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Embedding>, ModelError> {
        let mut encodings = Vec::with_capacity(texts.len());
        for text in texts {
            let text = text.as_ref();
            let encoding = if self.lowercase {
                self.tokenizer.encode(text.to_lowercase(), true)
            } else {
                self.tokenizer.encode(text, true)
            }
            .map_err(|e| inference(format!("tokenizing: {e}")))?;
            encodings.push(encoding);
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut out: Vec<Option<Embedding>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let vectors = self.run(chunk.iter().map(|&i| &encodings[i]))?;
            for (&i, vector) in chunk.iter().zip(vectors) {
                let truncated = truncation(&encodings[i], texts[i].as_ref(), self.max_tokens);
                out[i] = Some(Embedding { vector, truncated });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Runs one batch through the encoder, pooling and normalization.
    fn run<'a>(
        &self,
        batch: impl ExactSizeIterator<Item = &'a Encoding> + Clone,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let rows = batch.len();
        let width = batch.clone().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; rows * width];
        let mut types = vec![0u32; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, e) in batch.enumerate() {
            let at = r * width;
            ids[at..at + e.len()].copy_from_slice(e.get_ids());
            types[at..at + e.len()].copy_from_slice(e.get_type_ids());
            mask[at..at + e.len()].copy_from_slice(e.get_attention_mask());
        }
        let tensor = |v: Vec<u32>| Tensor::from_vec(v, (rows, width), &self.device);
        let ids = tensor(ids).map_err(inference)?;
        let types = tensor(types).map_err(inference)?;
        let mask = tensor(mask).map_err(inference)?;
        let hidden = self
            .bert
            .forward(&ids, &types, Some(&mask))
            .map_err(inference)?;
        let pooled = pool(&hidden, &mask, &self.pooling).map_err(inference)?;
        let pooled = if self.normalize {
            let norm = pooled
                .sqr()
                .and_then(|s| s.sum_keepdim(1))
                .and_then(|s| s.sqrt())
                .and_then(|n| n.clamp(1e-12f32, f32::MAX))
                .map_err(inference)?;
            pooled.broadcast_div(&norm).map_err(inference)?
        } else {
            pooled
        };
        pooled.to_vec2::<f32>().map_err(inference)
    }
}

/// The pooling modes a `Pooling` module's config turns on, checked.
fn pooling_modes(
    pc: &PoolingConfig,
    name: &str,
    hidden: usize,
) -> Result<Vec<Pooling>, ModelError> {
    if pc.pooling_mode_weightedmean_tokens || pc.pooling_mode_lasttoken {
        return Err(invalid(format!(
            "{name} turns on {} pooling; letsdata pools by mean, CLS token, max or mean/sqrt(length)",
            if pc.pooling_mode_lasttoken {
                "last-token"
            } else {
                "weighted-mean"
            }
        )));
    }
    if pc.include_prompt == Some(false) {
        return Err(invalid(format!(
            "{name} sets include_prompt to false (pooling that leaves out a prompt); letsdata pools every token"
        )));
    }
    if let Some(d) = pc.word_embedding_dimension
        && d != hidden
    {
        return Err(invalid(format!(
            "{name} says word_embedding_dimension {d}, but config.json's hidden_size is {hidden}: the files are from different models"
        )));
    }
    let modes: Vec<Pooling> = [
        (pc.pooling_mode_cls_token, Pooling::Cls),
        (pc.pooling_mode_max_tokens, Pooling::Max),
        (pc.pooling_mode_mean_tokens, Pooling::Mean),
        (pc.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
    ]
    .into_iter()
    .filter_map(|(on, mode)| on.then_some(mode))
    .collect();
    if modes.is_empty() {
        return Err(invalid(format!(
            "{name} turns on no pooling mode; set pooling_mode_mean_tokens (or cls_token, max_tokens) to true"
        )));
    }
    Ok(modes)
}

/// The token vectors `hidden` (rows × tokens × hidden) pooled per row, over the tokens `mask`
/// marks, the modes' vectors side by side.
fn pool(hidden: &Tensor, mask: &Tensor, modes: &[Pooling]) -> candle::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mut parts = Vec::with_capacity(modes.len());
    for mode in modes {
        parts.push(match mode {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Max => {
                // Padding pushed far below any real value before the maximum.
                let shift = mask.affine(1e9, -1e9)?;
                hidden.broadcast_add(&shift)?.max(1)?
            }
            Pooling::Mean => hidden
                .broadcast_mul(&mask)?
                .sum(1)?
                .broadcast_div(&counts)?,
            Pooling::MeanSqrtLen => hidden
                .broadcast_mul(&mask)?
                .sum(1)?
                .broadcast_div(&counts.sqrt()?)?,
        });
    }
    if parts.len() == 1 {
        Ok(parts.remove(0))
    } else {
        Tensor::cat(&parts, 1)
    }
}

/// Where `encoding` (of `text`) was cut, if it was.
fn truncation(encoding: &Encoding, text: &str, max_tokens: usize) -> Option<Truncation> {
    let overflow = encoding.get_overflowing();
    if overflow.is_empty() {
        return None;
    }
    // Each overflowing piece carries the special tokens again; the text's own tokens are the
    // ones with a word offset.
    let own = |e: &Encoding| {
        e.get_special_tokens_mask()
            .iter()
            .filter(|&&s| s == 0)
            .count()
    };
    let specials = encoding.len() - own(encoding);
    let text_tokens = own(encoding) + overflow.iter().map(own).sum::<usize>() + specials;
    let encoded_bytes = encoding
        .get_offsets()
        .iter()
        .zip(encoding.get_special_tokens_mask())
        .filter(|(_, special)| **special == 0)
        .map(|((_, end), _)| *end)
        .max()
        .unwrap_or(0);
    Some(Truncation {
        max_tokens,
        text_tokens,
        encoded_bytes,
        text_bytes: text.len(),
    })
}
