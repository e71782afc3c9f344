//! Test component (not an example): implements the Kinesis, Kafka, SQS, DynamoDB Streams and
//! DynamoDB table reader interfaces; each echoes what it received as a JSON document, skips
//! REMOVE events and rejects a body (or Kafka value) of `"bad"`; a queue message `"panic"` traps.

use letsdata_sdk::{
    DynamoDbStreamsRecordReader, DynamoDbTableItemReader, ErrorDoc, KafkaRecordReader,
    KinesisRecordReader, ParseDocumentResult, QueueMessageReader, SingleDoc, SkipDoc, StreamRecord,
};
use serde_json::json;

#[derive(Default)]
pub struct Echo;

impl KinesisRecordReader for Echo {
    fn parse_message(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        partition_key: &str,
        sequence_number: &str,
        approximate_arrival_timestamp: i64,
        data: &[u8],
    ) -> ParseDocumentResult {
        let doc = json!({
            "stream": stream_arn, "shard": shard_id, "key": partition_key,
            "seq": sequence_number, "at": approximate_arrival_timestamp,
            "data": String::from_utf8_lossy(data),
        });
        ParseDocumentResult::success(
            SingleDoc::new(doc.to_string()).with_partition_key(partition_key),
        )
    }
}

impl KafkaRecordReader for Echo {
    fn parse_message(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        timestamp: i64,
        headers: &[(String, Vec<u8>)],
        value: &[u8],
    ) -> ParseDocumentResult {
        let at = format!("{partition}:{offset}");
        if value == b"bad" {
            return ParseDocumentResult::error(ErrorDoc::new(
                vec![("KAFKA".into(), at.clone())],
                vec![("KAFKA".into(), at)],
                "the value is bad",
            ));
        }
        let key = key.map(|k| String::from_utf8_lossy(k).into_owned());
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let doc = json!({
            "topic": topic, "partition": partition, "offset": offset, "key": key,
            "at": timestamp, "headers": headers, "value": String::from_utf8_lossy(value),
        });
        let id = key.unwrap_or(at);
        ParseDocumentResult::success(SingleDoc::new(doc.to_string()).with_document_id(&id))
    }
}

impl QueueMessageReader for Echo {
    fn parse_message(
        &mut self,
        message_id: &str,
        message_group_id: Option<&str>,
        message_deduplication_id: Option<&str>,
        message_attributes: &[(String, String)],
        message_body: &str,
    ) -> ParseDocumentResult {
        if message_body == "panic" {
            // A trap: the reader error policy decides (an error record by default).
            panic!("asked to panic on message {message_id}");
        }
        if message_body == "bad" {
            return ParseDocumentResult::error(ErrorDoc::new(
                vec![("SQS".into(), message_id.into())],
                vec![("SQS".into(), message_id.into())],
                "the body is bad",
            ));
        }
        let doc = json!({
            "id": message_id, "group": message_group_id, "dedup": message_deduplication_id,
            "attributes": message_attributes, "body": message_body,
        });
        ParseDocumentResult::success(SingleDoc::new(doc.to_string()).with_document_id(message_id))
    }
}

impl DynamoDbStreamsRecordReader for Echo {
    fn parse_record(&mut self, r: &StreamRecord<'_>) -> ParseDocumentResult {
        if r.event_name == "REMOVE" {
            return ParseDocumentResult::skip(SkipDoc::new(Vec::new(), Vec::new(), "removed"));
        }
        let doc = json!({
            "event": r.event_name, "seq": r.sequence_number, "keys": r.keys,
            "new": r.new_image, "old": r.old_image, "view": r.stream_view_type,
        });
        ParseDocumentResult::success(SingleDoc::new(doc.to_string()))
    }
}

impl DynamoDbTableItemReader for Echo {
    fn parse_dynamodb_item(
        &mut self,
        table_name: &str,
        segment_number: u32,
        keys: &str,
        item: &str,
    ) -> ParseDocumentResult {
        let doc =
            json!({"table": table_name, "segment": segment_number, "keys": keys, "item": item});
        ParseDocumentResult::success(SingleDoc::new(doc.to_string()))
    }
}

letsdata_sdk::export!(kinesis_record_reader: Echo);
letsdata_sdk::export!(kafka_record_reader: Echo);
letsdata_sdk::export!(queue_message_reader: Echo);
letsdata_sdk::export!(dynamodb_streams_record_reader: Echo);
letsdata_sdk::export!(dynamodb_table_item_reader: Echo);
