//! Blind passage for hosts outside the interception set: bytes are copied, never read.
//!
//! A `CONNECT` to such a host becomes a TCP relay ([`relay`]): the client's TLS session runs end
//! to end with the origin, which presents its own certificate. A plain-HTTP request to such a
//! host is forwarded by [`PlainClient`] without a tap. Either way the trace gets one
//! [`TunnelRecord`] — host, port, bytes each way, duration — and no content.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::forward::ProxyBody;
use crate::forward::headers::strip_hop_by_hop;
use crate::model::TunnelRecord;
use crate::session::RecorderHandle;
use crate::tap::BoxError;

/// TCP connect timeout for blind tunnels.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and when a tunnel began.
#[derive(Debug)]
pub struct TunnelStart {
    /// Wall-clock start.
    pub at: OffsetDateTime,
    /// Monotonic start.
    pub start: Instant,
    /// The client.
    pub peer: SocketAddr,
    /// The host asked for.
    pub host: String,
    /// The port asked for.
    pub port: u16,
}

impl TunnelStart {
    fn record(self, bytes_up: u64, bytes_down: u64, error: Option<String>) -> TunnelRecord {
        TunnelRecord {
            at: self.at,
            client_addr: self.peer.to_string(),
            host: self.host,
            port: self.port,
            bytes_up,
            bytes_down,
            duration_ms: self.start.elapsed().as_secs_f64() * 1000.0,
            error,
        }
    }
}

/// Opens the TCP connection to the origin of a blind tunnel.
pub async fn connect_origin(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The record of a tunnel whose origin could not be reached.
pub fn failed(start: TunnelStart, error: String) -> TunnelRecord {
    start.record(0, 0, Some(error))
}

/// Copies bytes both ways until both sides close; returns the record. The counts survive a
/// reset: they are taken from the client side's reads and writes as they happen.
pub async fn relay<C>(client: C, mut origin: TcpStream, start: TunnelStart) -> TunnelRecord
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let up = Arc::new(AtomicU64::new(0));
    let down = Arc::new(AtomicU64::new(0));
    let mut client = CountingIo {
        inner: client,
        read: up.clone(),
        written: down.clone(),
    };
    let error = tokio::io::copy_bidirectional(&mut client, &mut origin)
        .await
        .err()
        .map(|err| format!("tunnel ended with an error: {err}"));
    start.record(
        up.load(Ordering::Relaxed),
        down.load(Ordering::Relaxed),
        error,
    )
}

/// A stream that counts the bytes read from and written to it.
struct CountingIo<T> {
    inner: T,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Forwards plain-HTTP requests for hosts outside the interception set, counted, not captured.
#[derive(Debug, Clone)]
pub struct PlainClient {
    client: Client<HttpConnector, ProxyBody>,
}

impl Default for PlainClient {
    fn default() -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .build(http);
        Self { client }
    }
}

impl PlainClient {
    /// Sends the request on and returns the response; the tunnel record is written when both
    /// bodies are done.
    pub async fn send(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        host: &str,
        port: u16,
        recorder: &RecorderHandle,
    ) -> Response<ProxyBody> {
        let tally = Arc::new(Tally {
            start: std::sync::Mutex::new(Some(TunnelStart {
                at: OffsetDateTime::now_utc(),
                start: Instant::now(),
                peer,
                host: host.to_string(),
                port,
            })),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            error: std::sync::Mutex::new(None),
            recorder: recorder.clone(),
        });
        let (mut parts, body) = req.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = Counted {
            inner: body.map_err(BoxError::from).boxed(),
            tally: tally.clone(),
            up: true,
        };
        let req = Request::from_parts(parts, body.boxed());
        match self.client.request(req).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = Counted {
                    inner: body.map_err(BoxError::from).boxed(),
                    tally,
                    up: false,
                };
                Response::from_parts(parts, body.boxed())
            }
            Err(err) => {
                let message = format!(
                    "cannot forward to {host}:{port}: {}",
                    crate::error_chain(&err)
                );
                tally.fail(message.clone());
                let mut response = Response::new(
                    Full::new(Bytes::from(format!("authtap: {message}\n")))
                        .map_err(|e| match e {})
                        .boxed(),
                );
                *response.status_mut() = StatusCode::BAD_GATEWAY;
                response
            }
        }
    }
}

/// Byte counts of one passed-through request; writes the record when the last body drops it.
#[derive(Debug)]
struct Tally {
    start: std::sync::Mutex<Option<TunnelStart>>,
    up: AtomicU64,
    down: AtomicU64,
    error: std::sync::Mutex<Option<String>>,
    recorder: RecorderHandle,
}

impl Tally {
    fn fail(&self, message: String) {
        *self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let start = self
            .start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let error = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(start) = start {
            let record = start.record(
                self.up.load(Ordering::Relaxed),
                self.down.load(Ordering::Relaxed),
                error,
            );
            self.recorder.tunnel(record);
        }
    }
}

/// A body that counts the bytes passing through it.
struct Counted {
    inner: ProxyBody,
    tally: Arc<Tally>,
    up: bool,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let counter = if self.up {
                &self.tally.up
            } else {
                &self.tally.down
            };
            counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn relay_counts_bytes_each_way_and_reads_nothing() {
        let origin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = origin_listener.local_addr().unwrap().port();
        let origin_task = tokio::spawn(async move {
            let (mut s, _) = origin_listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(b"pong!!!").await.unwrap();
        });
        let origin = connect_origin("127.0.0.1", port).await.unwrap();
        let (mut client, proxy_side) = tokio::io::duplex(1024);
        let start = TunnelStart {
            at: OffsetDateTime::now_utc(),
            start: Instant::now(),
            peer: "127.0.0.1:1".parse().unwrap(),
            host: "127.0.0.1".into(),
            port,
        };
        let relay = tokio::spawn(relay(proxy_side, origin, start));
        client.write_all(b"ping!").await.unwrap();
        let mut got = [0u8; 7];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong!!!");
        drop(client);
        origin_task.await.unwrap();
        let record = relay.await.unwrap();
        assert_eq!((record.bytes_up, record.bytes_down), (5, 7));
        assert_eq!(record.port, port);
        assert!(record.error.is_none());
    }

    #[tokio::test]
    async fn unreachable_origin_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(connect_origin("127.0.0.1", port).await.is_err());
    }
}
