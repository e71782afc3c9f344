//! Streaming decompression of object bodies.
//!
//! The compression is chosen from the file name (as LetsData does), and the body is
//! wrapped in an `async-compression` decoder. Both decoders are switched to
//! multi-member mode: a gzip file may be several concatenated members (`cat a.gz b.gz`)
//! and a zstd file several concatenated frames; the decompressed stream is the
//! concatenation of all of them. Memory is bounded by the decoders' windows.

use std::pin::Pin;

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use tokio::io::{AsyncBufRead, AsyncRead};

/// How a file's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileCompression {
    None,
    Gzip,
    Zstd,
}

impl FileCompression {
    /// `.gz`/`.gzip` → Gzip, `.zst`/`.zstd` → Zstd (case-insensitive), anything else → None.
    pub fn from_file_name(name: &str) -> Self {
        let name = name.as_bytes();
        if ends_with_ignore_case(name, b".gz") || ends_with_ignore_case(name, b".gzip") {
            Self::Gzip
        } else if ends_with_ignore_case(name, b".zst") || ends_with_ignore_case(name, b".zstd") {
            Self::Zstd
        } else {
            Self::None
        }
    }
}

fn ends_with_ignore_case(name: &[u8], suffix: &[u8]) -> bool {
    name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Wraps a compressed byte stream in a decompressing reader.
///
/// Gzip handles multi-member files and zstd handles concatenated frames. `None` passes the
/// input through unchanged.
pub fn decompress<R>(compression: FileCompression, input: R) -> Pin<Box<dyn AsyncRead + Send>>
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    match compression {
        FileCompression::None => Box::pin(input),
        FileCompression::Gzip => {
            let mut decoder = GzipDecoder::new(input);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
        FileCompression::Zstd => {
            let mut decoder = ZstdDecoder::new(input);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    #[test]
    fn compression_from_file_name() {
        assert_eq!(
            FileCompression::from_file_name("a.gz"),
            FileCompression::Gzip
        );
        assert_eq!(
            FileCompression::from_file_name("dir/A.GZIP"),
            FileCompression::Gzip
        );
        assert_eq!(
            FileCompression::from_file_name("a.jsonl.Zst"),
            FileCompression::Zstd
        );
        assert_eq!(
            FileCompression::from_file_name("a.zstd"),
            FileCompression::Zstd
        );
        assert_eq!(
            FileCompression::from_file_name("a.jsonl"),
            FileCompression::None
        );
        assert_eq!(FileCompression::from_file_name("gz"), FileCompression::None);
        assert_eq!(FileCompression::from_file_name(""), FileCompression::None);
        assert_eq!(
            FileCompression::from_file_name("é.gz"),
            FileCompression::Gzip
        );
        assert_eq!(FileCompression::from_file_name("aé"), FileCompression::None);
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("write");
        enc.finish().expect("finish")
    }

    async fn read_all(c: FileCompression, data: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(c, std::io::Cursor::new(data))
            .read_to_end(&mut out)
            .await
            .expect("decompress");
        out
    }

    #[tokio::test]
    async fn gzip_multi_member() {
        let mut data = gzip(b"first\n");
        data.extend(gzip(b"second\n"));
        assert_eq!(
            read_all(FileCompression::Gzip, data).await,
            b"first\nsecond\n"
        );
    }

    #[tokio::test]
    async fn zstd_concatenated_frames() {
        let mut data = zstd::encode_all(&b"one\n"[..], 1).expect("zstd");
        data.extend(zstd::encode_all(&b"two\n"[..], 1).expect("zstd"));
        assert_eq!(read_all(FileCompression::Zstd, data).await, b"one\ntwo\n");
    }

    #[tokio::test]
    async fn none_passes_through() {
        assert_eq!(
            read_all(FileCompression::None, b"raw".to_vec()).await,
            b"raw"
        );
    }

    #[tokio::test]
    async fn corrupt_gzip_is_an_error() {
        let mut out = Vec::new();
        let res = decompress(
            FileCompression::Gzip,
            std::io::Cursor::new(b"not gzip".to_vec()),
        )
        .read_to_end(&mut out)
        .await;
        assert!(res.is_err());
    }
}
