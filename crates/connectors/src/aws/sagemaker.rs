//! SageMaker Runtime's `InvokeEndpoint`, for the vectors engine's Customer endpoints
//! (`computeEngine.endpoint.sagemakerEndpointResourceLocation: Customer`): texts go to the
//! endpoint as the HuggingFace Inference Toolkit takes them, `{"inputs": [text, ...]}`
//! (`application/json`), and the answer is read as one vector per text: `[[f32, ...], ...]`;
//! token embeddings `[[[f32, ...] per token], ...]` (what the `feature-extraction` task answers)
//! are mean-pooled; an object's `embeddings`, `vectors` or `predictions` field holding either is
//! read the same way.

use super::{RetryPolicy, retry, sdk_error};
use crate::ConnectorError;
use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::primitives::Blob;
use serde_json::Value;

/// SageMaker Runtime calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct SagemakerRuntime {
    client: Client,
    retry: RetryPolicy,
}

impl SagemakerRuntime {
    pub(crate) fn new(client: Client, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// The vectors of `texts` from endpoint `endpoint`, one per text, in their order.
    pub async fn embed(
        &self,
        endpoint: &str,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ConnectorError> {
        let what = format!("InvokeEndpoint of SageMaker endpoint {endpoint:?}");
        let body =
            serde_json::to_vec(&serde_json::json!({ "inputs": texts })).expect("texts serialize");
        let out = retry(&self.retry, &what, || {
            self.client
                .invoke_endpoint()
                .endpoint_name(endpoint)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body.clone()))
                .send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        let answer = out.body.map(Blob::into_inner).unwrap_or_default();
        vectors_of(&answer, texts.len()).map_err(|message| ConnectorError::Aws {
            what,
            code: None,
            message,
            kind: crate::FailureKind::User,
        })
    }
}

/// One vector per text from an endpoint's answer (see the module docs for the shapes read).
pub fn vectors_of(answer: &[u8], texts: usize) -> Result<Vec<Vec<f32>>, String> {
    let shown = || {
        let text = String::from_utf8_lossy(answer);
        match text.char_indices().nth(200) {
            Some((i, _)) => format!("{}...", &text[..i]),
            None => text.into_owned(),
        }
    };
    let value: Value = serde_json::from_slice(answer)
        .map_err(|e| format!("the endpoint answered {}, which is not JSON: {e}", shown()))?;
    let list = match &value {
        Value::Array(items) => items,
        Value::Object(o) => ["embeddings", "vectors", "predictions"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
            .ok_or_else(|| {
                format!(
                    "the endpoint answered {}: an object without an embeddings, vectors or predictions list",
                    shown()
                )
            })?,
        _ => return Err(format!("the endpoint answered {}, not a list of vectors", shown())),
    };
    if list.len() != texts {
        return Err(format!(
            "the endpoint answered {} vectors for {texts} texts",
            list.len()
        ));
    }
    let mut vectors = Vec::with_capacity(texts);
    let mut dimension = None;
    for (i, item) in list.iter().enumerate() {
        let vector = vector_of(item).ok_or_else(|| {
            format!(
                "the endpoint's answer for text {i} is neither a vector of numbers nor token vectors: {}",
                shown()
            )
        })?;
        match dimension {
            None => dimension = Some(vector.len()),
            Some(d) if d != vector.len() => {
                return Err(format!(
                    "the endpoint answered vectors of {d} and of {} numbers",
                    vector.len()
                ));
            }
            Some(_) => {}
        }
        vectors.push(vector);
    }
    Ok(vectors)
}

/// A vector, or the mean of token vectors (an extra level of nesting, such as a batch of one,
/// is read through).
fn vector_of(item: &Value) -> Option<Vec<f32>> {
    let items = item.as_array().filter(|a| !a.is_empty())?;
    if items.iter().all(Value::is_number) {
        return items.iter().map(|x| x.as_f64().map(|f| f as f32)).collect();
    }
    if let [only] = items.as_slice()
        && only
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_array))
    {
        return vector_of(only);
    }
    let tokens: Vec<Vec<f32>> = items.iter().map(vector_of).collect::<Option<_>>()?;
    let dim = tokens[0].len();
    if tokens.iter().any(|t| t.len() != dim) {
        return None;
    }
    let mut mean = vec![0f32; dim];
    for t in &tokens {
        for (m, x) in mean.iter_mut().zip(t) {
            *m += x;
        }
    }
    let n = tokens.len() as f32;
    Some(mean.into_iter().map(|m| m / n).collect())
}

#[cfg(test)]
mod tests {
    use super::vectors_of;

    #[test]
    fn pooled_vectors_token_vectors_and_wrapped_answers_are_read() {
        assert_eq!(
            vectors_of(b"[[1, 2], [3.5, -1]]", 2),
            Ok(vec![vec![1.0, 2.0], vec![3.5, -1.0]])
        );
        // Token embeddings are mean-pooled (per text, a batch of one read through).
        assert_eq!(
            vectors_of(b"[[[1, 2], [3, 4]], [[[0, 2]]]]", 2),
            Ok(vec![vec![2.0, 3.0], vec![0.0, 2.0]])
        );
        assert_eq!(
            vectors_of(br#"{"embeddings": [[0.5]]}"#, 1),
            Ok(vec![vec![0.5]])
        );
        assert_eq!(
            vectors_of(br#"{"vectors": [[1], [2]]}"#, 2),
            Ok(vec![vec![1.0], vec![2.0]])
        );
    }

    #[test]
    fn answers_that_are_not_one_vector_per_text_say_why() {
        let err = |body: &[u8], n| vectors_of(body, n).expect_err("refused");
        assert!(err(b"nope", 1).contains("which is not JSON"));
        assert_eq!(
            err(b"[[1], [2]]", 3),
            "the endpoint answered 2 vectors for 3 texts"
        );
        assert_eq!(
            err(b"[[1, 2], [3]]", 2),
            "the endpoint answered vectors of 2 and of 1 numbers"
        );
        assert!(err(br#"{"generated_text": "x"}"#, 1).contains("without an embeddings"));
        assert!(err(br#"[["a"]]"#, 1).contains("neither a vector of numbers"));
        assert!(err(b"[[]]", 1).contains("neither a vector"));
    }
}
