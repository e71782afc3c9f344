//! gzip in memory: Kinesis records, and compressed part objects read back.

use crate::{ConnectorError, FailureKind};
use bytes::Bytes;
use std::io::{Read, Write};

/// Compresses `data` (one gzip member, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// Decompresses every gzip member of `data`.
pub fn gunzip(data: &[u8]) -> Result<Bytes, ConnectorError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| ConnectorError::Io {
            what: "cannot gunzip".to_string(),
            message: e.to_string(),
            kind: FailureKind::User,
        })?;
    Ok(Bytes::from(out))
}

/// Whether `data` starts like a gzip member.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips() {
        let data = b"{\"id\":1}\n".repeat(100);
        let z = gzip(&data);
        assert!(z.len() < data.len());
        assert!(is_gzip(&z));
        assert_eq!(gunzip(&z).expect("gunzip").as_ref(), &data[..]);
        assert!(gunzip(b"not gzip").is_err());
    }
}
