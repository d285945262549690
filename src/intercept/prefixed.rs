//! A stream whose first bytes were already read: they are handed out again before the rest.
//!
//! Inside a `CONNECT` tunnel the first byte says what the client speaks: `0x16` opens a TLS
//! handshake, anything else is plain HTTP (Node's proxy agent tunnels `http://` URLs this way).
//! [`sniff`] reads that byte and returns a [`Prefixed`] stream that still starts with it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The TLS record type of a handshake message (RFC 8446 §5.1).
const TLS_HANDSHAKE: u8 = 0x16;

/// A stream with bytes to replay first.
#[derive(Debug)]
pub struct Prefixed<T> {
    prefix: Bytes,
    inner: T,
}

/// What the client opened the tunnel with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelProtocol {
    /// A TLS `ClientHello`.
    Tls,
    /// Anything else: plain HTTP.
    Plain,
}

/// Reads the first byte of `inner`; `None` when the client closed without sending one.
pub async fn sniff<T: AsyncRead + Unpin>(
    mut inner: T,
) -> std::io::Result<Option<(TunnelProtocol, Prefixed<T>)>> {
    let mut first = [0u8; 1];
    if inner.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let protocol = if first[0] == TLS_HANDSHAKE {
        TunnelProtocol::Tls
    } else {
        TunnelProtocol::Plain
    };
    Ok(Some((
        protocol,
        Prefixed {
            prefix: Bytes::copy_from_slice(&first),
            inner,
        },
    )))
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn plain_http_is_replayed_whole() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        drop(client);
        let (protocol, mut stream) = sniff(server).await.unwrap().unwrap();
        assert_eq!(protocol, TunnelProtocol::Plain);
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn tls_and_silence() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let (protocol, _) = sniff(server).await.unwrap().unwrap();
        assert_eq!(protocol, TunnelProtocol::Tls);
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        assert!(sniff(server).await.unwrap().is_none());
    }
}
