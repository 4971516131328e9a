//! Lingering close, as nginx does it: when a server closes a connection
//! whose client is still sending (a 413 answered from the declared
//! length, a 401 answered before the body, a 408), closing at once with
//! unread bytes in the socket makes the kernel send RST — and a client
//! that writes its whole request before reading (Python's `urllib`) gets
//! a broken pipe or a reset instead of the answer.
//!
//! [`Lingering`] wraps a connection's stream; when the connection is
//! dropped it half-closes (FIN after the answer) and reads and discards
//! what the client still sends — until the client closes, it is idle for
//! [`LINGER_IDLE`], [`LINGER_TIME`] has passed or [`LINGER_BYTES`] were
//! thrown away — and only then closes. A socket set to linger 0 (the
//! mock provider's reset fault) is closed at once, with its RST.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Longest a closing connection is kept to drain the client's bytes.
pub const LINGER_TIME: Duration = Duration::from_secs(10);
/// A closing connection whose client sends nothing for this long is closed.
pub const LINGER_IDLE: Duration = Duration::from_secs(2);
/// Most bytes thrown away while lingering.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// A connection's stream that lingers when dropped (see the module docs).
pub(crate) struct Lingering {
    stream: Option<TcpStream>,
}

impl Lingering {
    pub(crate) fn new(stream: TcpStream) -> Lingering {
        Lingering {
            stream: Some(stream),
        }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.stream.as_mut().expect("taken only on drop"))
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_shutdown(cx)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        // Linger 0 asks for a reset: let the close send it.
        if socket2::SockRef::from(&stream).linger().ok().flatten() == Some(Duration::ZERO) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream));
        }
    }
}

/// Half-closes, then discards what the client still sends, within the
/// limits above.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut discarded = 0;
    let mut sink = [0u8; 8192];
    while discarded < LINGER_BYTES {
        let idle = tokio::time::Instant::now() + LINGER_IDLE;
        match tokio::time::timeout_at(deadline.min(idle), stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => break,
        }
    }
}
