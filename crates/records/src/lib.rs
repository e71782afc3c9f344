//! letsdata-records: the hot path that turns a file's bytes into documents.
//!
//! A file flows through three stages, each in its own module:
//!
//! 1. [`decode`]: the (possibly gzip or zstd compressed) object body is wrapped in a
//!    streaming decompressor. Offsets everywhere else refer to the *decompressed* stream.
//! 2. [`reader`]: a [`RecordReader`] keeps one bounded, reused buffer and cuts it into
//!    records according to a [`Framing`] (lines, byte patterns or CSV rows). Searching uses
//!    SIMD (`memchr`, `memchr::memmem`), records are handed out as borrowed slices, and the
//!    per-record path is synchronous with no heap allocation. Records larger than the
//!    configured maximum are reported once, truncated, without the buffer growing further.
//! 3. [`parsers`]: a [`RecordParser`] turns one record into one JSON document appended to
//!    a caller-owned output buffer (the built-in jsonl, csv and text parsers).
//!
//! The framing rules themselves live in the private `cut` module, one state machine per
//! framing, working on absolute stream offsets so that the reader may discard and compact
//! its buffer at any point between calls.

mod cut;
pub mod decode;
pub mod error;
pub mod framing;
pub mod parsers;
pub mod reader;

#[cfg(test)]
mod test_support;

pub use decode::{FileCompression, decompress};
pub use error::RecordsError;
pub use framing::Framing;
pub use parsers::{ParseOutcome, RecordParser, builtin_parser, framing_for};
pub use reader::{
    DEFAULT_BUFFER_CAPACITY, DEFAULT_MAX_RECORD_BYTES, OVERSIZE_HEAD_BYTES, Record, RecordReader,
};
