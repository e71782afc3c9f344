//! SQS queues: receive, delete and visibility batches, the batch sender, queue admin.
//!
//! **Reading.** [`SqsClient::receive`] long-polls up to 10 messages; a message stays invisible
//! to other readers for the visibility timeout, and the reader deletes it
//! ([`SqsClient::delete_batch`]) only after its document is durably written, so a crash
//! redelivers it (at least once). [`SqsClient::change_visibility_batch`] extends or ends the
//! invisibility of messages still being worked on.
//!
//! **Writing.** [`SqsSender::send_batch`] sends `SendMessageBatch` calls of at most 10
//! messages and 256 KiB in total. A document over 256 KiB (body plus message attributes) is
//! not sent but returned as [`super::Rejected`] with the reason; so is one with characters SQS
//! does not allow, and an entry SQS refuses as the sender's fault. With a `messageIdAttributeName` each message
//! carries the document id in that message attribute (and, on FIFO queues, as the
//! deduplication id unless the caller gives one). Entries failing for SQS's own reasons are
//! sent again with back-off; once the attempts run out the call fails (transient).
//!
//! Batch entry ids are the entries' positions in the caller's slice.

use crate::aws::{BatchReport, RetryPolicy, aws_error, has_code, retry, sdk_error};
use crate::{ConnectorError, FailureKind};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use base64::Engine;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Largest message, and largest `SendMessageBatch` request: body plus message attributes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most entries in one batch call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// SQS calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqsClient {
    client: Client,
    retry: RetryPolicy,
}

/// How to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// Most messages returned (1..=10).
    pub max_messages: i32,
    /// Long-poll time when the queue is empty (at most 20 s).
    pub wait_time: Duration,
    /// Invisibility of the received messages; `None` keeps the queue's default.
    pub visibility_timeout: Option<Duration>,
}

impl Default for ReceiveOptions {
    /// 10 messages, 20 s long poll, the queue's visibility timeout.
    fn default() -> Self {
        Self {
            max_messages: 10,
            wait_time: Duration::from_secs(20),
            visibility_timeout: None,
        }
    }
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessage {
    /// SQS's id of the message.
    pub message_id: String,
    /// What deletes the message or changes its visibility (valid for this receipt only).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// System attributes by name (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes: string and number values as they are, binary values base64.
    pub message_attributes: BTreeMap<String, String>,
    /// FIFO queues: the message group.
    pub message_group_id: Option<String>,
    /// FIFO queues: the deduplication id.
    pub deduplication_id: Option<String>,
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqsOutgoingMessage {
    /// The serialized document.
    pub body: String,
    /// The document id, sent in the sender's message id attribute.
    pub document_id: Option<String>,
    /// FIFO queues: the message group (defaults to the document id).
    pub message_group_id: Option<String>,
    /// FIFO queues: the deduplication id (defaults to the document id).
    pub deduplication_id: Option<String>,
}

/// A visibility change for [`SqsClient::change_visibility_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    /// The message's receipt handle.
    pub receipt_handle: String,
    /// New invisibility from now (0 makes it visible again; at most 12 hours).
    pub timeout: Duration,
}

/// Approximate message counts of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqsQueueCounts {
    /// Messages available for receiving.
    pub visible: u64,
    /// Messages received and not yet deleted or visible again.
    pub in_flight: u64,
    /// Messages not yet delivered because of a delay.
    pub delayed: u64,
}

impl SqsQueueCounts {
    /// All messages in the queue.
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

fn is_missing_queue<E: aws_sdk_sqs::error::ProvideErrorMetadata>(
    e: &aws_sdk_sqs::error::SdkError<E>,
) -> bool {
    has_code(e, "QueueDoesNotExist") || has_code(e, "AWS.SimpleQueueService.NonExistentQueue")
}

impl SqsClient {
    /// Wraps an SDK client.
    pub fn new(client: Client, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// Creates a queue (FIFO when the name ends in `.fifo`) and returns its URL. Idempotent
    /// for a queue of the same attributes.
    pub async fn create_queue(
        &self,
        name: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, ConnectorError> {
        let what = format!("cannot create SQS queue {name:?}");
        let out = retry(&self.retry, &what, || {
            let mut req = self.client.create_queue().queue_name(name);
            for (k, v) in tags {
                req = req.tags(*k, *v);
            }
            if name.ends_with(".fifo") {
                req.attributes(QueueAttributeName::FifoQueue, "true").send()
            } else {
                req.send()
            }
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        out.queue_url
            .ok_or_else(|| aws_error(what, "no queue URL returned", FailureKind::Internal))
    }

    /// The URL of the queue of that name; `None` when there is none.
    pub async fn find_queue_url(&self, name: &str) -> Result<Option<String>, ConnectorError> {
        let what = format!("cannot look up SQS queue {name:?}");
        match retry(&self.retry, &what, || {
            self.client.get_queue_url().queue_name(name).send()
        })
        .await
        {
            Ok(out) => Ok(out.queue_url),
            Err(e) if is_missing_queue(&e) => Ok(None),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// The URL of the queue of that name; fails (user error) when there is none.
    pub async fn queue_url(&self, name: &str) -> Result<String, ConnectorError> {
        self.find_queue_url(name)
            .await?
            .ok_or_else(|| ConnectorError::Aws {
                what: format!("SQS queue {name:?} does not exist"),
                code: Some("QueueDoesNotExist".to_string()),
                message: "create the queue or fix queueName".to_string(),
                kind: FailureKind::User,
            })
    }

    /// Whether a queue of that name exists.
    pub async fn exists(&self, name: &str) -> Result<bool, ConnectorError> {
        Ok(self.find_queue_url(name).await?.is_some())
    }

    async fn attributes(
        &self,
        queue_url: &str,
        names: &[QueueAttributeName],
    ) -> Result<std::collections::HashMap<QueueAttributeName, String>, ConnectorError> {
        let what = format!("cannot read the attributes of SQS queue {queue_url}");
        let out = retry(&self.retry, &what, || {
            let mut req = self.client.get_queue_attributes().queue_url(queue_url);
            for n in names {
                req = req.attribute_names(n.clone());
            }
            req.send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// The queue's ARN.
    pub async fn queue_arn(&self, queue_url: &str) -> Result<String, ConnectorError> {
        let mut attrs = self
            .attributes(queue_url, &[QueueAttributeName::QueueArn])
            .await?;
        attrs.remove(&QueueAttributeName::QueueArn).ok_or_else(|| {
            aws_error(
                format!("cannot read the ARN of SQS queue {queue_url}"),
                "no QueueArn attribute returned",
                FailureKind::Internal,
            )
        })
    }

    /// The queue's tags.
    pub async fn tags(&self, queue_url: &str) -> Result<Vec<(String, String)>, ConnectorError> {
        let what = format!("cannot list the tags of SQS queue {queue_url}");
        let out = retry(&self.retry, &what, || {
            self.client.list_queue_tags().queue_url(queue_url).send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        Ok(out.tags.unwrap_or_default().into_iter().collect())
    }

    /// Adds tags to the queue; tags it has already are kept or overwritten.
    pub async fn tag(&self, queue_url: &str, tags: &[(&str, &str)]) -> Result<(), ConnectorError> {
        let what = format!("cannot tag SQS queue {queue_url}");
        retry(&self.retry, &what, || {
            let mut req = self.client.tag_queue().queue_url(queue_url);
            for (k, v) in tags {
                req = req.tags(*k, *v);
            }
            req.send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        Ok(())
    }

    /// Approximate counts of visible, in-flight and delayed messages.
    pub async fn message_counts(&self, queue_url: &str) -> Result<SqsQueueCounts, ConnectorError> {
        use QueueAttributeName as A;
        let attrs = self
            .attributes(
                queue_url,
                &[
                    A::ApproximateNumberOfMessages,
                    A::ApproximateNumberOfMessagesNotVisible,
                    A::ApproximateNumberOfMessagesDelayed,
                ],
            )
            .await?;
        let count = |a: A| {
            attrs
                .get(&a)
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        };
        Ok(SqsQueueCounts {
            visible: count(A::ApproximateNumberOfMessages),
            in_flight: count(A::ApproximateNumberOfMessagesNotVisible),
            delayed: count(A::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// Deletes the queue and its messages. Idempotent.
    pub async fn delete_queue(&self, queue_url: &str) -> Result<(), ConnectorError> {
        let what = format!("cannot delete SQS queue {queue_url}");
        match retry(&self.retry, &what, || {
            self.client.delete_queue().queue_url(queue_url).send()
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_missing_queue(&e) => Ok(()),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// Receives up to `options.max_messages` messages, with every system and message attribute.
    pub async fn receive(
        &self,
        queue_url: &str,
        options: &ReceiveOptions,
    ) -> Result<Vec<SqsMessage>, ConnectorError> {
        let what = format!("cannot receive from SQS queue {queue_url}");
        let out = retry(&self.retry, &what, || {
            let mut req = self
                .client
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(options.max_messages.clamp(1, 10))
                .wait_time_seconds(seconds(options.wait_time).min(20))
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All);
            if let Some(v) = options.visibility_timeout {
                req = req.visibility_timeout(seconds(v));
            }
            req.send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attributes: BTreeMap<String, String> = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                let message_attributes = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| {
                        let value = match (v.string_value, v.binary_value) {
                            (Some(s), _) => s,
                            (None, Some(b)) => {
                                base64::engine::general_purpose::STANDARD.encode(b.as_ref())
                            }
                            (None, None) => String::new(),
                        };
                        (k, value)
                    })
                    .collect();
                SqsMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    message_group_id: attributes.get("MessageGroupId").cloned(),
                    deduplication_id: attributes.get("MessageDeduplicationId").cloned(),
                    attributes,
                    message_attributes,
                }
            })
            .collect())
    }

    /// Deletes messages by receipt handle, 10 per call. Handles SQS refuses (invalid or
    /// expired) are reported as rejected; other failures are retried.
    pub async fn delete_batch(
        &self,
        queue_url: &str,
        receipt_handles: &[String],
    ) -> Result<BatchReport, ConnectorError> {
        let what = format!("cannot delete messages from SQS queue {queue_url}");
        let mut entries = Vec::with_capacity(receipt_handles.len());
        for (i, handle) in receipt_handles.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .map_err(|e| aws_error(&what, e.to_string(), FailureKind::Internal))?;
            entries.push((i, entry));
        }
        let mut report = BatchReport::default();
        for chunk in entries.chunks(MAX_BATCH_ENTRIES) {
            self.run_batch(&what, chunk.to_vec(), &mut report, |batch| {
                let call = self
                    .client
                    .delete_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(batch));
                async move { call.send().await.map(|out| out.failed) }
            })
            .await?;
        }
        Ok(report.finish())
    }

    /// Changes the visibility timeout of messages, 10 per call; like
    /// [`SqsClient::delete_batch`] for failures.
    pub async fn change_visibility_batch(
        &self,
        queue_url: &str,
        changes: &[VisibilityChange],
    ) -> Result<BatchReport, ConnectorError> {
        let what = format!("cannot change message visibility in SQS queue {queue_url}");
        let mut entries = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&change.receipt_handle)
                .visibility_timeout(seconds(change.timeout))
                .build()
                .map_err(|e| aws_error(&what, e.to_string(), FailureKind::Internal))?;
            entries.push((i, entry));
        }
        let mut report = BatchReport::default();
        for chunk in entries.chunks(MAX_BATCH_ENTRIES) {
            self.run_batch(&what, chunk.to_vec(), &mut report, |batch| {
                let call = self
                    .client
                    .change_message_visibility_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(batch));
                async move { call.send().await.map(|out| out.failed) }
            })
            .await?;
        }
        Ok(report.finish())
    }

    /// A sender to the queue; `message_id_attribute_name` is the write connector's
    /// `messageIdAttributeName`.
    pub fn sender(&self, queue_url: &str, message_id_attribute_name: Option<&str>) -> SqsSender {
        SqsSender {
            sqs: self.clone(),
            queue_url: queue_url.to_string(),
            message_id_attribute_name: message_id_attribute_name.map(str::to_string),
            fifo: queue_url.ends_with(".fifo"),
        }
    }

    /// Runs one batch call for `pending` (entries tagged with their input index, which is also
    /// their batch id) and calls again for the entries that failed for SQS's reasons, with
    /// back-off; entries failed as the sender's fault are rejected.
    async fn run_batch<T, E, F, Fut>(
        &self,
        what: &str,
        mut pending: Vec<(usize, T)>,
        report: &mut BatchReport,
        mut call: F,
    ) -> Result<(), ConnectorError>
    where
        T: Clone,
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut(Vec<T>) -> Fut,
        Fut: Future<Output = Result<Vec<BatchResultErrorEntry>, aws_sdk_sqs::error::SdkError<E>>>,
    {
        let mut attempt = 1;
        loop {
            let entries: Vec<T> = pending.iter().map(|(_, e)| e.clone()).collect();
            let failed = retry(&self.retry, what, || call(entries.clone()))
                .await
                .map_err(|e| sdk_error(what, e))?;
            let sent = pending.len();
            let mut retryable = Vec::new();
            let mut first_error = String::new();
            for f in &failed {
                let Some(pos) = pending.iter().position(|(i, _)| i.to_string() == f.id) else {
                    continue;
                };
                let reason = format!("{}: {}", f.code, f.message.as_deref().unwrap_or_default());
                if f.sender_fault {
                    report.reject(pending[pos].0, reason);
                } else {
                    if first_error.is_empty() {
                        first_error = reason;
                    }
                    retryable.push(pending[pos].clone());
                }
            }
            report.succeeded += sent - failed.len().min(sent);
            if retryable.is_empty() {
                return Ok(());
            }
            if attempt >= self.retry.max_attempts {
                return Err(aws_error(
                    what,
                    format!(
                        "{} entries still failing after {attempt} attempts ({first_error})",
                        retryable.len()
                    ),
                    FailureKind::Transient,
                ));
            }
            tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
            attempt += 1;
            pending = retryable;
        }
    }
}

/// Sends documents to one queue; see the module docs.
#[derive(Debug, Clone)]
pub struct SqsSender {
    sqs: SqsClient,
    queue_url: String,
    message_id_attribute_name: Option<String>,
    fifo: bool,
}

impl SqsSender {
    /// The queue written.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends the messages in batches of at most 10 messages and 256 KiB. Returns how many were
    /// sent and which were rejected (too large, characters SQS does not allow, no document
    /// id while a message id attribute is configured, neither group nor document id on a FIFO
    /// queue, refused by SQS as the sender's fault).
    pub async fn send_batch(
        &self,
        messages: &[SqsOutgoingMessage],
    ) -> Result<BatchReport, ConnectorError> {
        let what = format!("cannot send messages to SQS queue {}", self.queue_url);
        let mut report = BatchReport::default();
        let mut batch: Vec<(usize, SendMessageBatchRequestEntry)> = Vec::new();
        let mut batch_bytes = 0;
        for (index, m) in messages.iter().enumerate() {
            let invalid = first_invalid_char(&m.body)
                .or_else(|| m.document_id.as_deref().and_then(first_invalid_char));
            if let Some((at, c)) = invalid {
                report.reject(
                    index,
                    format!("character {c:?} at byte {at} is not allowed in SQS messages"),
                );
                continue;
            }
            let mut size = m.body.len();
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&m.body);
            if let Some(attr) = &self.message_id_attribute_name {
                let Some(id) = &m.document_id else {
                    report.reject(
                        index,
                        format!("the document has no id for the message attribute {attr:?}"),
                    );
                    continue;
                };
                // SQS counts the name, the data type and the value of each attribute.
                size += attr.len() + "String".len() + id.len();
                let value = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(id)
                    .build()
                    .map_err(|e| aws_error(&what, e.to_string(), FailureKind::Internal))?;
                entry = entry.message_attributes(attr, value);
            }
            if self.fifo {
                let Some(group) = m.message_group_id.as_ref().or(m.document_id.as_ref()) else {
                    report.reject(index, "a FIFO queue needs a message group id");
                    continue;
                };
                entry = entry.message_group_id(group);
                if let Some(dedup) = m.deduplication_id.as_ref().or(m.document_id.as_ref()) {
                    entry = entry.message_deduplication_id(dedup);
                }
            } else if let Some(group) = &m.message_group_id {
                // Standard queues accept a group id for fair queueing.
                entry = entry.message_group_id(group);
            }
            if size > MAX_MESSAGE_BYTES {
                report.reject(
                    index,
                    format!(
                        "message of {size} bytes (body and attributes) exceeds the SQS limit of {MAX_MESSAGE_BYTES} bytes"
                    ),
                );
                continue;
            }
            if batch.len() == MAX_BATCH_ENTRIES || batch_bytes + size > MAX_MESSAGE_BYTES {
                self.send(&what, std::mem::take(&mut batch), &mut report)
                    .await?;
                batch_bytes = 0;
            }
            let entry = entry
                .build()
                .map_err(|e| aws_error(&what, e.to_string(), FailureKind::Internal))?;
            batch.push((index, entry));
            batch_bytes += size;
        }
        if !batch.is_empty() {
            self.send(&what, batch, &mut report).await?;
        }
        Ok(report.finish())
    }

    async fn send(
        &self,
        what: &str,
        batch: Vec<(usize, SendMessageBatchRequestEntry)>,
        report: &mut BatchReport,
    ) -> Result<(), ConnectorError> {
        self.sqs
            .run_batch(what, batch, report, |entries| {
                let call = self
                    .sqs
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries));
                async move { call.send().await.map(|out| out.failed) }
            })
            .await
    }
}

/// The first character SQS refuses in a message (it allows `#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF`), with its byte offset.
pub fn first_invalid_char(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| {
        !matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            && c < '\u{10000}'
    })
}

/// Whole seconds for SQS, saturating.
fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_sqs_refuses_are_found() {
        assert_eq!(
            first_invalid_char("{\"a\":\"b\tc\r\n\u{e9}\u{1F600}\"}"),
            None
        );
        assert_eq!(first_invalid_char("ab\u{0}c"), Some((2, '\u{0}')));
        assert_eq!(first_invalid_char("x\u{1F}"), Some((1, '\u{1F}')));
        assert_eq!(first_invalid_char("\u{FFFE}"), Some((0, '\u{FFFE}')));
        assert_eq!(first_invalid_char("\u{FFFD}\u{E000}"), None);
    }
}
