//! The guest's stdout and stderr: kept in a bounded buffer the engine drains into the task
//! log. Output beyond the buffer is dropped and counted, never an error, so a chatty
//! implementation cannot fail because of its logging.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes kept between drains (a drain follows every call: a batch of up to 16,384 records).
const CAPACITY: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: u64,
}

/// A bounded in-memory pipe for the guest's output.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogPipe(Arc<Mutex<Buffer>>);

impl LogPipe {
    fn buffer(&self) -> MutexGuard<'_, Buffer> {
        // A poisoned lock only means a writer panicked mid-append; the bytes are still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append(&self, data: &[u8]) {
        let mut b = self.buffer();
        let room = CAPACITY.saturating_sub(b.bytes.len());
        let n = room.min(data.len());
        b.bytes.extend_from_slice(&data[..n]);
        b.dropped += (data.len() - n) as u64;
    }

    /// Takes what was written since the last drain, and how many bytes were dropped.
    pub(crate) fn drain(&self) -> (Vec<u8>, u64) {
        let mut b = self.buffer();
        let dropped = std::mem::take(&mut b.dropped);
        (std::mem::take(&mut b.bytes), dropped)
    }

    /// What the guest said before trapping, for the error message: a Rust panic's message
    /// (the line after "panicked at …") or else the last non-empty line written.
    pub(crate) fn panic_message(&self) -> Option<String> {
        let b = self.buffer();
        let text = String::from_utf8_lossy(&b.bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(i) = lines.iter().rposition(|l| l.contains("panicked at")) {
            let mut m = lines[i].to_string();
            if let Some(next) = lines.get(i + 1).filter(|l| !l.starts_with("note:")) {
                m.push(' ');
                m.push_str(next);
            }
            return Some(m);
        }
        lines.last().map(|l| l.to_string())
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
