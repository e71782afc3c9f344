//! Object locations: `s3://bucket/key` links and bucket-relative keys.
//!
//! Keys are checked so that they cannot escape their bucket when buckets are local
//! directories: no absolute keys, no `..` or `.` segments, no empty segments, no NUL.

use std::fmt;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LocationError {
    #[error("{0:?} is not an s3 link; expected s3://<bucketName>/<key>")]
    NotS3Link(String),
    #[error(
        "bucket name {0:?} is invalid; expected 3-63 characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    )]
    InvalidBucket(String),
    #[error("key {key:?} is invalid: {reason}")]
    InvalidKey { key: String, reason: &'static str },
}

/// A bucket and a key inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
}

impl ObjectLocation {
    /// Parses `s3://bucket/key`.
    pub fn parse_s3_link(link: &str) -> Result<Self, LocationError> {
        let rest = link
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| LocationError::NotS3Link(shown(link)))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| LocationError::NotS3Link(shown(link)))?;
        validate_bucket_name(bucket)?;
        validate_key(key)?;
        Ok(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// S3's bucket naming rules (which also keep local bucket directories safe).
/// Most characters of a user's text echoed in a message: a 50 MB value, key or "bucket name"
/// is shown by its start and its size, never whole.
pub(crate) const ECHO_CHARS: usize = 64;

/// The start of `s` an error echoes, when `s` is longer than [`ECHO_CHARS`] characters.
pub(crate) fn echo_cut(s: &str) -> Option<&str> {
    s.char_indices().nth(ECHO_CHARS).map(|(cut, _)| &s[..cut])
}

/// A user's text as an error shows it: a long one by its start and size.
fn shown(s: &str) -> String {
    match echo_cut(s) {
        None => s.to_string(),
        Some(start) => format!("{start}... ({} bytes)", s.len()),
    }
}

pub fn validate_bucket_name(name: &str) -> Result<(), LocationError> {
    let bytes = name.as_bytes();
    let ok = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(LocationError::InvalidBucket(shown(name)))
    }
}

/// A key must stay inside its bucket.
pub fn validate_key(key: &str) -> Result<(), LocationError> {
    let err = |reason| {
        Err(LocationError::InvalidKey {
            key: shown(key),
            reason,
        })
    };
    if key.is_empty() {
        return err("it is empty");
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return err("absolute keys are not allowed; write it relative to the bucket");
    }
    if key.contains('\0') {
        return err("it contains a NUL byte");
    }
    if key.len() > 1024 {
        return err("it is longer than 1024 bytes");
    }
    for segment in key.split(['/', '\\']) {
        match segment {
            ".." => return err("'..' segments would escape the bucket"),
            "." => return err("'.' segments are not allowed"),
            "" => return err("empty path segments ('//') are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_links() {
        let loc = ObjectLocation::parse_s3_link("s3://my-bucket/dir/file.txt").expect("valid");
        assert_eq!(loc.bucket, "my-bucket");
        assert_eq!(loc.key, "dir/file.txt");
        assert_eq!(loc.to_string(), "s3://my-bucket/dir/file.txt");
    }

    /// Each bad link, key and bucket name is refused for its own reason.
    #[test]
    fn rejects_bad_links_and_escaping_keys() {
        let link = |l: &str| ObjectLocation::parse_s3_link(l).expect_err(l).to_string();
        assert!(link("http://b/k").contains("is not an s3 link"));
        assert!(link("s3://bucket").contains("is not an s3 link"));
        assert!(link("s3://Bucket/k").contains("bucket name \"Bucket\" is invalid"));
        assert!(
            link("s3://bucket/../etc/passwd").contains("'..' segments would escape the bucket")
        );
        assert!(link("s3://bucket//etc/passwd").contains("absolute keys are not allowed"));
        let key = |k: &str| validate_key(k).expect_err(k).to_string();
        assert!(key("/etc/passwd").contains("absolute keys are not allowed"));
        assert!(key("a/../../b").contains("'..' segments would escape the bucket"));
        assert!(key("a\\..\\b").contains("'..' segments would escape the bucket"));
        assert!(key("a/./b").contains("'.' segments are not allowed"));
        assert!(key("a\0b").contains("NUL byte"));
        assert_eq!(validate_key("data/2024/01/file.json.gz"), Ok(()));
        let bucket = |b: &str| validate_bucket_name(b).expect_err(b).to_string();
        assert!(bucket("ab").contains("bucket name \"ab\" is invalid; expected 3-63 characters"));
        assert!(bucket("a..b").contains("bucket name \"a..b\" is invalid"));
        assert_eq!(validate_bucket_name("my-bucket.1"), Ok(()));
        // A long one is shown by its start and size.
        let long = "b".repeat(100_000);
        assert_eq!(
            bucket(&long),
            format!(
                "bucket name \"{}... (100000 bytes)\" is invalid; expected 3-63 characters of \
                 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
                "b".repeat(64)
            )
        );
    }
}
