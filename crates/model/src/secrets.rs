//! Secrets in configurations: passwords given as environment variable references, and the
//! redaction of whatever the CLI or the API prints.
//!
//! A configuration string may name an environment variable instead of holding a secret:
//! `"saslPassword": "${env:KAFKA_PASSWORD}"`, or inside a URL,
//! `"redisUrl": "redis://:${env:REDIS_PASSWORD}@cache:6379"`. The reference is stored as
//! written; the variable is read (on the worker that uses it) only when a connection is made,
//! so the secret is in no dataset record. [`resolve`] expands the references of a string.
//!
//! Secrets written literally are stored, but never printed: [`redact`] masks the value of
//! every field whose name says it is a secret (`…password…`, `…secret…`) and the password of
//! every URL (`scheme://user:password@host`), unless it is a reference. Connectors name
//! resources with [`redact_url`] in their messages.

use serde_json::Value;

/// What a redacted secret is printed as.
pub const REDACTED: &str = "****";

/// Whether a field of this name holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret")
}

/// Whether `text` is exactly one environment variable reference (`${env:NAME}`).
pub fn is_reference(text: &str) -> bool {
    text.strip_prefix("${env:")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| !name.is_empty() && !name.contains('}'))
}

/// Expands every `${env:NAME}` in `text` with the variable's value. Fails, naming the
/// variable, when one is not set.
pub fn resolve(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            return Err(format!(
                "an environment variable reference is not closed (write ${{env:NAME}}): {}",
                redact_url(text)
            ));
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            format!(
                "the environment variable {name} is not set; the configuration refers to it with ${{env:{name}}}"
            )
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `text` with the password of a URL in it masked (`redis://user:****@host`), unless the
/// password is an environment variable reference.
pub fn redact_url(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = text.find("://") else {
        return text.into();
    };
    let authority_start = scheme_end + 3;
    let authority_end = text[authority_start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| authority_start + i);
    let authority = &text[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.into();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return text.into();
    };
    let password = &userinfo[colon + 1..];
    if password.is_empty() || is_reference(password) {
        return text.into();
    }
    let password_start = authority_start + colon + 1;
    format!(
        "{}{REDACTED}{}",
        &text[..password_start],
        &text[password_start + password.len()..]
    )
    .into()
}

/// Whether the JSON text `json` may hold something [`redact`] masks in its value: `false` only
/// when redacting would change nothing, so that a printer can write a record straight to bytes
/// and redact only the rare text that needs it. A secret field's name and a URL's `://` and
/// `@` appear literally in JSON text (a serializer escapes only quotes, backslashes and control
/// characters), so the text holds a secret only if it holds a name containing `password` or
/// `secret` (any case), or a `://` with an `@` after it.
pub fn may_hold_secret(json: &[u8]) -> bool {
    let word_at = |first: (u8, u8), word: &[u8]| {
        memchr::memchr2_iter(first.0, first.1, json).any(|i| {
            json[i..]
                .get(..word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        })
    };
    let url_with_user = || {
        memchr::memmem::find(json, b"://")
            .is_some_and(|at| memchr::memchr(b'@', &json[at..]).is_some())
    };
    word_at((b'p', b'P'), b"password") || word_at((b's', b'S'), b"secret") || url_with_user()
}

/// Masks the secrets in `value` (see the module docs), in place.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if is_secret_field(key) && !is_reference(s) => {
                        *s = REDACTED.to_string();
                    }
                    other => redact(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) => {
            if let std::borrow::Cow::Owned(masked) = redact_url(s) {
                *s = masked;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_and_references_kept() {
        let mut v = json!({
            "writeConnector": {
                "redisUrl": "redis://app:hunter2@cache:6379/0",
                "redisPassword": "hunter2",
                "other": "redis://cache:6379",
            },
            "readConnector": {
                "saslPassword": "${env:KAFKA_PASSWORD}",
                "clientSecret": "s3cr3t",
                "bootstrapServers": "a:9092,b:9092",
            },
            "list": ["https://u:p@h/x", "plain"],
        });
        redact(&mut v);
        assert_eq!(
            v["writeConnector"]["redisUrl"],
            "redis://app:****@cache:6379/0"
        );
        assert_eq!(v["writeConnector"]["redisPassword"], "****");
        assert_eq!(v["writeConnector"]["other"], "redis://cache:6379");
        assert_eq!(v["readConnector"]["saslPassword"], "${env:KAFKA_PASSWORD}");
        assert_eq!(v["readConnector"]["clientSecret"], "****");
        assert_eq!(v["readConnector"]["bootstrapServers"], "a:9092,b:9092");
        assert_eq!(v["list"][0], "https://u:****@h/x");
        assert!(!v.to_string().contains("hunter2"));
        assert_eq!(
            redact_url("redis://:${env:P}@h:1"),
            "redis://:${env:P}@h:1",
            "references stay"
        );
    }

    #[test]
    fn text_without_a_trigger_needs_no_redaction() {
        let plain = json!({"tasks": [{"taskId": "t1", "files": "s3://bucket/key.jsonl"}],
                           "Passport": "x", "secretary": 1});
        // "secretary" says secret: conservative.
        assert!(may_hold_secret(plain.to_string().as_bytes()));
        let plain = json!({"tasks": [{"taskId": "t1", "link": "s3://bucket/key.jsonl"}]});
        assert!(!may_hold_secret(plain.to_string().as_bytes()));
        for held in [
            json!({"redisPASSWORD": "x"}),
            json!({"clientSecret": "x"}),
            json!({"u": "redis://a:b@h"}),
            json!(["https://h/x", "me@example.com"]),
        ] {
            assert!(may_hold_secret(held.to_string().as_bytes()), "{held}");
        }
    }

    proptest::proptest! {
        /// Whenever the text says "nothing to mask", redaction indeed changes nothing.
        #[test]
        fn no_trigger_means_redaction_is_a_no_op(
            keys in proptest::collection::vec("[a-zA-Z]{1,10}", 1..6),
            values in proptest::collection::vec("[a-z:/@.]{0,20}", 1..6),
        ) {
            let mut value = Value::Object(
                keys.iter().cloned().zip(values.iter().cloned().map(Value::String)).collect(),
            );
            let text = value.to_string();
            let before = value.clone();
            redact(&mut value);
            if !may_hold_secret(text.as_bytes()) {
                proptest::prop_assert_eq!(before, value);
            }
        }
    }

    #[test]
    fn references_resolve_from_the_environment() {
        let name = "LETSDATA_TEST_SECRET_REFERENCE";
        assert!(resolve(&format!("x${{env:{name}}}y")).is_err());
        // Set and read within this test only.
        unsafe_set(name, "42");
        assert_eq!(resolve(&format!("x${{env:{name}}}y")).expect("set"), "x42y");
        assert_eq!(resolve("plain").expect("plain"), "plain");
        assert!(resolve("${env:UNCLOSED").is_err());
        assert!(is_reference("${env:A}"));
        assert!(!is_reference("a${env:A}"));
    }

    #[allow(unsafe_code)]
    fn unsafe_set(name: &str, value: &str) {
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var(name, value) };
    }
}
