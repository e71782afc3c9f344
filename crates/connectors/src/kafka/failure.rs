//! What a failed rskafka call means: whether to retry it, whose fault it is, and how to say it
//! without rskafka's `Debug` dumps.

use crate::FailureKind;
use rskafka::client::error::{Error, ProtocolError, RequestError};

/// What to do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A condition that passes (no connection, leader election, throttling): retry.
    Retry,
    /// Probably final, but brokers say it spuriously for a moment (an unknown topic right
    /// after it was created): retry a few times.
    RetryFew,
    /// Final.
    Fail,
}

/// Broker errors a retry can fix.
const RETRIABLE: &[ProtocolError] = &[
    ProtocolError::LeaderNotAvailable,
    ProtocolError::NotLeaderOrFollower,
    ProtocolError::RequestTimedOut,
    ProtocolError::BrokerNotAvailable,
    ProtocolError::ReplicaNotAvailable,
    ProtocolError::NetworkException,
    ProtocolError::CoordinatorLoadInProgress,
    ProtocolError::CoordinatorNotAvailable,
    ProtocolError::NotCoordinator,
    ProtocolError::NotEnoughReplicas,
    ProtocolError::NotEnoughReplicasAfterAppend,
    ProtocolError::NotController,
    ProtocolError::KafkaStorageError,
    ProtocolError::OffsetNotAvailable,
    ProtocolError::FencedLeaderEpoch,
    ProtocolError::UnknownLeaderEpoch,
    ProtocolError::PreferredLeaderNotAvailable,
    ProtocolError::EligibleLeadersNotAvailable,
    ProtocolError::ThrottlingQuotaExceeded,
    ProtocolError::ReassignmentInProgress,
];

/// Broker errors that are the configuration's or the data's fault.
const USER: &[ProtocolError] = &[
    ProtocolError::OffsetOutOfRange,
    ProtocolError::UnknownTopicOrPartition,
    ProtocolError::MessageTooLarge,
    ProtocolError::RecordListTooLarge,
    ProtocolError::InvalidRecord,
    ProtocolError::CorruptMessage,
    ProtocolError::InvalidTopicException,
    ProtocolError::InvalidPartitions,
    ProtocolError::InvalidReplicationFactor,
    ProtocolError::InvalidReplicaAssignment,
    ProtocolError::InvalidConfig,
    ProtocolError::PolicyViolation,
    ProtocolError::TopicAuthorizationFailed,
    ProtocolError::ClusterAuthorizationFailed,
    ProtocolError::SaslAuthenticationFailed,
    ProtocolError::UnsupportedSaslMechanism,
    ProtocolError::IllegalSaslState,
    ProtocolError::UnsupportedCompressionType,
    ProtocolError::InvalidTimestamp,
    ProtocolError::TopicDeletionDisabled,
    ProtocolError::TopicAlreadyExists,
];

/// The broker's error code behind `e`, looking through rskafka's own exhausted retries.
pub(crate) fn protocol_error(e: &Error) -> Option<ProtocolError> {
    match e {
        Error::ServerError { protocol_error, .. } => Some(*protocol_error),
        Error::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
            source.downcast_ref::<Error>().and_then(protocol_error)
        }
        _ => None,
    }
}

/// Whether a request or connection error is a broken or refused connection.
fn is_io(e: &RequestError) -> bool {
    match e {
        RequestError::IO(_) => true,
        RequestError::Poisoned(inner) => is_io(inner),
        _ => false,
    }
}

/// Whose fault `e` is and whether a retry may help.
pub(crate) fn judge(e: &Error) -> (FailureKind, Verdict) {
    use rskafka::ConnectionError as C;
    if let Some(code) = protocol_error(e) {
        return if RETRIABLE.contains(&code) {
            (FailureKind::Transient, Verdict::Retry)
        } else if code == ProtocolError::UnknownTopicOrPartition {
            (FailureKind::User, Verdict::RetryFew)
        } else if USER.contains(&code) {
            (FailureKind::User, Verdict::Fail)
        } else {
            (FailureKind::Internal, Verdict::Fail)
        };
    }
    match e {
        Error::Connection(C::Transport { error, .. }) => {
            let text = error.to_string();
            if text.starts_with("Invalid") {
                // A server that is not host:port, or a host name TLS cannot verify.
                (FailureKind::User, Verdict::Fail)
            } else {
                (FailureKind::Transient, Verdict::Retry)
            }
        }
        Error::Connection(C::SaslFailed(sasl)) => {
            if matches!(sasl, rskafka::SaslError::RequestError(r) if is_io(r)) {
                (FailureKind::Transient, Verdict::Retry)
            } else {
                (FailureKind::User, Verdict::Fail)
            }
        }
        Error::Connection(C::Metadata(r)) | Error::Request(r) if !is_io(r) => {
            (FailureKind::Internal, Verdict::Fail)
        }
        Error::Connection(C::SyncVersions(_)) => (FailureKind::User, Verdict::Fail),
        Error::InvalidResponse(text) if text.contains("Could not find metadata for partition") => {
            (FailureKind::User, Verdict::Fail)
        }
        // Broken connections, every broker unreachable until rskafka's deadline, leader
        // changes seen as odd answers, timeouts.
        _ => (FailureKind::Transient, Verdict::Retry),
    }
}

/// `e` in a sentence, without `Debug` dumps of requests.
pub(crate) fn explain(e: &Error) -> String {
    use rskafka::ConnectionError as C;
    match e {
        Error::ServerError {
            protocol_error,
            error_message,
            ..
        } => match error_message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => format!("the broker answered {protocol_error} ({m})"),
            None => format!("the broker answered {protocol_error}"),
        },
        Error::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
            match source.downcast_ref::<Error>() {
                Some(inner) => explain(inner),
                None => source.to_string(),
            }
        }
        Error::Connection(C::RetryFailed(rskafka::BackoffError::DeadlineExceded {
            source,
            ..
        })) => format!("cannot connect: {source}"),
        Error::Connection(C::SaslFailed(sasl)) => format!(
            "SASL authentication failed ({sasl}); check saslMechanism, saslUsername and saslPassword"
        ),
        Error::Connection(C::SyncVersions(v)) => {
            format!("the broker speaks no protocol version this client knows ({v})")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rskafka::client::error::RequestContext;

    fn server(code: ProtocolError) -> Error {
        Error::ServerError {
            protocol_error: code,
            error_message: Some("why".into()),
            request: RequestContext::Topic("t".into()),
            response: None,
            is_virtual: false,
        }
    }

    #[test]
    fn broker_errors_are_judged_by_code() {
        assert_eq!(
            judge(&server(ProtocolError::LeaderNotAvailable)),
            (FailureKind::Transient, Verdict::Retry)
        );
        assert_eq!(
            judge(&server(ProtocolError::MessageTooLarge)),
            (FailureKind::User, Verdict::Fail)
        );
        assert_eq!(
            judge(&server(ProtocolError::UnknownTopicOrPartition)),
            (FailureKind::User, Verdict::RetryFew)
        );
        assert_eq!(judge(&Error::Timeout).0, FailureKind::Transient);
        assert_eq!(
            explain(&server(ProtocolError::MessageTooLarge)),
            "the broker answered MessageTooLarge (why)"
        );
    }

    #[test]
    fn exhausted_retries_are_judged_by_their_cause() {
        let e = Error::RetryFailed(rskafka::BackoffError::DeadlineExceded {
            deadline: std::time::Duration::from_secs(1),
            source: Box::new(server(ProtocolError::NotLeaderOrFollower)),
        });
        assert_eq!(protocol_error(&e), Some(ProtocolError::NotLeaderOrFollower));
        assert_eq!(judge(&e), (FailureKind::Transient, Verdict::Retry));
        assert_eq!(explain(&e), "the broker answered NotLeaderOrFollower (why)");
    }
}
