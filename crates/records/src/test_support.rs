//! Test helpers: an in-memory reader that returns at most `chunk` bytes per read, and a
//! function that runs a `RecordReader` to the end and collects owned records.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::framing::Framing;
use crate::reader::RecordReader;

/// Yields `data` in reads of at most `chunk` bytes.
pub(crate) struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Chunked {
    pub(crate) fn new(data: &[u8], chunk: usize) -> Self {
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

/// An owned record: (bytes, start_offset, end_offset, next_offset, truncated).
pub(crate) type Rec = (Vec<u8>, u64, u64, u64, bool);

/// Drains a reader with the engine's loop.
pub(crate) async fn drain<R: AsyncRead + Unpin>(reader: &mut RecordReader<R>) -> Vec<Rec> {
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

/// Cuts `data` with the given buffer capacity and read chunk size.
pub(crate) async fn collect(
    data: &[u8],
    framing: &Framing,
    capacity: usize,
    chunk: usize,
) -> Vec<Rec> {
    let mut reader = RecordReader::new(Chunked::new(data, chunk), framing.clone(), 0)
        .with_buffer_capacity(capacity);
    drain(&mut reader).await
}

/// Asserts that tiny buffers and reads give the same records as one big buffer.
pub(crate) async fn assert_boundary_independent(data: &[u8], framing: &Framing) -> Vec<Rec> {
    let expected = collect(data, framing, 1 << 20, 1 << 20).await;
    for capacity in [1, 2, 3, 7, 64] {
        for chunk in [1, 2, 3, 5, 1 << 20] {
            let got = collect(data, framing, capacity, chunk).await;
            assert_eq!(
                got, expected,
                "capacity {capacity}, chunk {chunk}, framing {framing:?}"
            );
        }
    }
    expected
}

/// Records as (text, start, end, next).
pub(crate) fn texts(recs: &[Rec]) -> Vec<(String, u64, u64, u64)> {
    recs.iter()
        .map(|(b, s, e, n, _)| (String::from_utf8_lossy(b).into_owned(), *s, *e, *n))
        .collect()
}
