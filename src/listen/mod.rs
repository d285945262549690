//! The accept loop: TLS (or plain HTTP) on the listen address, HTTP/1.1 and HTTP/2.
//!
//! [`Listener::spawn`] runs an accept loop that never stops on a per-connection error. Each
//! connection gets its own task: an optional TLS handshake (tokio-rustls, ALPN `h2` and
//! `http/1.1`, with a timeout; see [`tls`] for the leaf chosen by SNI and the record a failed
//! handshake leaves), then hyper-util's `auto` server, which serves both protocols.
//! hyper answers malformed requests with 400 and oversize heads with 431 itself; those are
//! logged and reported to the [`Handler`] so they can be recorded. [`Listener::shutdown`]
//! stops accepting, lets connections finish for a grace period, then cuts the rest.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::forward::{Forwarder, ProxyBody};
use crate::model::{ErrorKind, TlsHandshakeFailure};
use crate::session::RecorderHandle;

mod error;
pub mod tls;

pub use error::Error;
pub use tls::{CertificateOrigin, TlsServing, tls_from_leaves};

/// Longest TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a client to finish sending a request head (slowloris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest HTTP/2 header list accepted.
const MAX_H2_HEADER_LIST: u32 = 64 * 1024;

/// Serves requests for the accept loop.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. Must not fail.
    fn handle(
        &self,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = hyper::Response<ProxyBody>> + Send;

    /// hyper refused a request before it reached [`Self::handle`] (`kind` is
    /// [`ErrorKind::BadRequest`], [`ErrorKind::HeadersTooLarge`], [`ErrorKind::HeaderTimeout`] or
    /// [`ErrorKind::H2Protocol`]).
    fn rejected(&self, peer: SocketAddr, kind: ErrorKind, message: String);

    /// A TLS handshake failed before any request (the client rejected the certificate…).
    fn tls_handshake_failed(&self, failure: TlsHandshakeFailure);
}

/// The proxy's handler: the forwarder serves and records requests; handshake failures, which
/// have no request, go to the recorder directly.
#[derive(Debug)]
pub struct ProxyHandler {
    /// Serves every request.
    pub forwarder: Arc<Forwarder>,
    /// Takes the handshake failures.
    pub recorder: RecorderHandle,
}

impl Handler for ProxyHandler {
    fn handle(
        &self,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = hyper::Response<ProxyBody>> + Send {
        self.forwarder.handle(req, peer)
    }

    fn rejected(&self, peer: SocketAddr, kind: ErrorKind, message: String) {
        self.forwarder.record_rejected(peer, kind, message);
    }

    fn tls_handshake_failed(&self, failure: TlsHandshakeFailure) {
        self.recorder.tls_handshake_failed(failure);
    }
}

/// The handler of authtap's plain-HTTP loopback bounce port: the forwarder serves bounce URIs
/// only; the port has no TLS, so no handshake can fail.
#[derive(Debug)]
pub struct BounceHandler(pub Arc<Forwarder>);

impl Handler for BounceHandler {
    fn handle(
        &self,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = hyper::Response<ProxyBody>> + Send {
        self.0.handle_bounce_port(req, peer)
    }

    fn rejected(&self, peer: SocketAddr, kind: ErrorKind, message: String) {
        self.0.record_rejected(peer, kind, message);
    }

    fn tls_handshake_failed(&self, _failure: TlsHandshakeFailure) {}
}

/// A TLS server config from the user's own PEM certificate chain and key (one chain for every
/// client, whatever its SNI).
pub fn tls_from_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    let pem_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::pki_types::pem::Error| Error::Pem {
            path,
            message: e.to_string(),
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(pem_err(cert))?
        .collect::<Result<_, _>>()
        .map_err(pem_err(cert))?;
    if chain.is_empty() {
        return Err(Error::Pem {
            path: cert.to_path_buf(),
            message: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_err(key))?;
    server_config(chain, key)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    crate::install_crypto_provider();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    Ok(tls::with_alpn(config))
}

/// Binds the listen address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// A running accept loop.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Starts accepting on `listener`, with TLS when `tls` is given.
    pub fn spawn<H: Handler>(
        listener: TcpListener,
        tls: Option<TlsServing>,
        handler: Arc<H>,
        grace: Duration,
    ) -> Result<Self, Error> {
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, tls, handler, stopped, grace));
        Ok(Self {
            local_addr,
            stop,
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, waits up to the grace period for connections to finish, then cuts
    /// the remaining ones.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    tls: Option<TlsServing>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let tls = tls.map(Arc::new);
    let builder = Arc::new(connection_builder());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: log, breathe, go on.
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            peer,
            tls: tls.clone(),
            handler: handler.clone(),
            builder: builder.clone(),
            watcher: graceful.watcher(),
        };
        connections.spawn(connection.serve(stream));
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            "grace period over; cutting {} open connections",
            connections.len()
        );
    }
    connections.shutdown().await;
}

/// The HTTP/1.1 + HTTP/2 connection builder, with the header timeouts and limits.
fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_H2_HEADER_LIST);
    builder
}

/// One accepted connection and what serving it needs.
struct Connection<H> {
    peer: SocketAddr,
    tls: Option<Arc<TlsServing>>,
    handler: Arc<H>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
}

impl<H: Handler> Connection<H> {
    /// Serves the connection (after the TLS handshake, when TLS is on) until it ends, and
    /// reports handshake failures and connection-level errors to the handler.
    async fn serve(self, stream: tokio::net::TcpStream) {
        let Connection {
            peer,
            tls,
            handler,
            builder,
            watcher,
        } = self;
        let accepted_at = time::OffsetDateTime::now_utc();
        // Whether a request head ever arrived: a refused certificate leaves none, and a
        // header timeout on a connection that already served requests is an idle
        // keep-alive ending, not a stalled client.
        let served = Arc::new(AtomicBool::new(false));
        let service = {
            let handler = handler.clone();
            let served = served.clone();
            service_fn(move |req| {
                let handler = handler.clone();
                served.store(true, Ordering::Relaxed);
                async move { Ok::<_, std::convert::Infallible>(handler.handle(req, peer).await) }
            })
        };
        let result = match tls {
            Some(serving) => {
                let tls = match tls::accept(stream, peer, &serving, HANDSHAKE_TIMEOUT).await {
                    Ok(tls) => tls,
                    Err(Some(failure)) => {
                        handler.tls_handshake_failed(failure);
                        return;
                    }
                    Err(None) => {
                        tracing::debug!(%peer, "connection closed before a TLS ClientHello");
                        return;
                    }
                };
                let sni = tls.get_ref().1.server_name().map(str::to_string);
                let port = tls.get_ref().0.local_addr().map_or(0, |a| a.port());
                let conn = builder.serve_connection(TokioIo::new(tls), service);
                let result = watcher.watch(conn.into_owned()).await;
                if !served.load(Ordering::Relaxed)
                    && let Some(failure) =
                        tls::closed_without_request(&serving, peer, sni, accepted_at, port)
                {
                    handler.tls_handshake_failed(failure);
                }
                result
            }
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn.into_owned()).await
            }
        };
        if let Err(err) = result {
            let served = served.load(std::sync::atomic::Ordering::Relaxed);
            connection_error(handler.as_ref(), peer, err.as_ref(), served);
        }
    }
}

/// Logs a connection error and reports what the client did wrong at the connection level:
/// hyper's own 400/431 rejections, a request head not finished within the header timeout
/// (slowloris), and HTTP/2 protocol errors (the connection ends with a GOAWAY).
fn connection_error<H: Handler>(
    handler: &H,
    peer: SocketAddr,
    err: &(dyn std::error::Error + 'static),
    served: bool,
) {
    let hyper_err = std::iter::successors(Some(err), |e| e.source())
        .find_map(|e| e.downcast_ref::<hyper::Error>());
    match hyper_err {
        Some(e) if e.is_parse_too_large() => {
            tracing::warn!(%peer, "request head too large; answered 431");
            handler.rejected(
                peer,
                ErrorKind::HeadersTooLarge,
                format!("request head too large (answered 431): {e}"),
            );
        }
        Some(e) if e.is_parse() => {
            tracing::warn!(%peer, "malformed request; answered 400: {e}");
            handler.rejected(
                peer,
                ErrorKind::BadRequest,
                format!("malformed request (answered 400): {e}"),
            );
        }
        Some(e) if e.is_timeout() && !served => {
            tracing::warn!(%peer, "no request head arrived in time; connection closed");
            handler.rejected(
                peer,
                ErrorKind::HeaderTimeout,
                format!(
                    "the client opened a connection but sent no complete request head within \
                     {} s; connection closed",
                    HEADER_READ_TIMEOUT.as_secs()
                ),
            );
        }
        Some(_) if is_h2_protocol_error(err) => {
            let chain = crate::error_chain(err);
            tracing::warn!(%peer, "HTTP/2 protocol error from the client: {chain}");
            handler.rejected(
                peer,
                ErrorKind::H2Protocol,
                format!("the client broke the HTTP/2 protocol; connection closed: {chain}"),
            );
        }
        _ => {
            tracing::debug!(%peer, "connection ended with an error: {}", crate::error_chain(err))
        }
    }
}

/// An HTTP/2 connection error caused by the client's frames (not a client that went away).
fn is_h2_protocol_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let chain = crate::error_chain(err).to_ascii_lowercase();
    chain.contains("http2 error") && crate::tap::is_protocol_error(err)
}
