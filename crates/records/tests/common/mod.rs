//! Shared helpers for the integration tests: a chunked in-memory reader, a drain loop
//! written exactly like the engine's, and a tiny deterministic random generator.

#![allow(dead_code)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use letsdata_records::{Framing, RecordReader};
use tokio::io::{AsyncRead, ReadBuf};

/// Yields `data` in reads of at most `chunk` bytes.
pub struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Chunked {
    pub fn new(data: &[u8], chunk: usize) -> Self {
        Self {
            data: data.to_vec(),
            pos: 0,
            chunk: chunk.max(1),
        }
    }
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self
            .chunk
            .min(self.data.len() - self.pos)
            .min(buf.remaining());
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// (bytes, start_offset, end_offset, next_offset, truncated)
pub type Rec = (Vec<u8>, u64, u64, u64, bool);

pub async fn drain<R: AsyncRead + Unpin>(reader: &mut RecordReader<R>) -> Vec<Rec> {
    let mut out = Vec::new();
    loop {
        while let Some(r) = reader.try_next() {
            out.push((
                r.bytes.to_vec(),
                r.start_offset,
                r.end_offset,
                r.next_offset,
                r.truncated,
            ));
        }
        if !reader.fill().await.expect("fill") {
            break;
        }
    }
    out
}

pub async fn collect(
    data: &[u8],
    framing: &Framing,
    capacity: usize,
    chunk: usize,
    max: usize,
) -> Vec<Rec> {
    let mut reader = RecordReader::new(Chunked::new(data, chunk), framing.clone(), 0)
        .with_buffer_capacity(capacity)
        .with_max_record_bytes(max);
    drain(&mut reader).await
}

/// A small LCG: deterministic test data without extra dependencies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.next() % n
    }

    /// `count` tokens picked at random and concatenated.
    pub fn tokens(&mut self, tokens: &[&[u8]], count: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..count {
            out.extend_from_slice(tokens[self.below(tokens.len())]);
        }
        out
    }
}
