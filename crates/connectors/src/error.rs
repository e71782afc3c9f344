use thiserror::Error;

/// Whose fault a failure is, which decides what the executor does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Configuration or data the user controls (missing bucket or file, no permission):
    /// retrying does not help; the task fails with a message saying what to fix.
    User,
    /// A service that may recover (timeouts, throttling, 5xx): retry with back-off.
    Transient,
    /// Anything else.
    Internal,
}

#[derive(Debug, Error)]
pub enum ConnectorError {
    #[error("bucket {bucket:?} does not exist{hint}")]
    BucketNotFound { bucket: String, hint: String },
    #[error("s3://{bucket}/{key} does not exist")]
    ObjectNotFound { bucket: String, key: String },
    #[error("invalid object location: {0}")]
    InvalidLocation(String),
    #[error("access denied to s3://{bucket}/{key}: {message}")]
    AccessDenied {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("object store error on s3://{bucket}/{key}: {message}")]
    Store {
        bucket: String,
        key: String,
        message: String,
        kind: FailureKind,
    },
    #[error("{what}: {message}")]
    Io {
        what: String,
        message: String,
        kind: FailureKind,
    },
    #[error("invalid S3 settings: {0}")]
    Settings(String),
    /// A configuration or input the connector cannot work with; says what to fix.
    #[error("{0}")]
    User(String),
    /// State letsdata wrote that it cannot read back (a bug, or another version's data).
    #[error("{0}")]
    Corrupt(String),
    /// A call to an AWS service (Kinesis, SQS, DynamoDB, DynamoDB Streams) failed; `code` is
    /// the service's error code when it sent one (`ResourceNotFoundException`, ...).
    #[error("{what}: {message}")]
    Aws {
        what: String,
        code: Option<String>,
        message: String,
        kind: FailureKind,
    },
    /// A call to an AWS service found no credentials to sign it with; `reason` says what is
    /// missing and what to set.
    #[error("{what}: {reason}")]
    NoAwsCredentials { what: String, reason: String },
}

impl ConnectorError {
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::BucketNotFound { .. }
            | Self::ObjectNotFound { .. }
            | Self::InvalidLocation(_)
            | Self::AccessDenied { .. }
            | Self::Settings(_)
            | Self::User(_)
            | Self::NoAwsCredentials { .. } => FailureKind::User,
            Self::Corrupt(_) => FailureKind::Internal,
            Self::Store { kind, .. } | Self::Io { kind, .. } | Self::Aws { kind, .. } => *kind,
        }
    }

    pub(crate) fn from_store(bucket: &str, key: &str, e: object_store::Error) -> Self {
        use object_store::Error as E;
        match e {
            E::NotFound { .. } => Self::ObjectNotFound {
                bucket: bucket.to_string(),
                key: key.to_string(),
            },
            E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => {
                Self::AccessDenied {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message: source.to_string(),
                }
            }
            E::InvalidPath { source } => Self::InvalidLocation(source.to_string()),
            other => {
                let message = other.to_string();
                let kind = if message.contains("NoSuchBucket") {
                    return Self::BucketNotFound {
                        bucket: bucket.to_string(),
                        hint: String::new(),
                    };
                } else if matches!(other, E::Generic { .. }) {
                    FailureKind::Transient
                } else {
                    FailureKind::Internal
                };
                Self::Store {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message,
                    kind,
                }
            }
        }
    }

    pub(crate) fn io(what: impl Into<String>, e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                FailureKind::User
            }
            std::io::ErrorKind::InvalidData => FailureKind::User,
            _ => FailureKind::Transient,
        };
        Self::Io {
            what: what.into(),
            message: e.to_string(),
            kind,
        }
    }
}
