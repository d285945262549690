//! One client connection to the forward proxy: `CONNECT` tunnels and absolute-form requests.
//!
//! The outer connection speaks HTTP/1.1 (the only version proxies are asked `CONNECT` in).
//! For `CONNECT host:port` the [`InterceptScope`] decides: an intercepted host gets `200`, then
//! a TLS handshake with a leaf for that host signed by the forward CA, then HTTP/1.1 or HTTP/2
//! (by ALPN) whose requests go to [`Forwarder::handle_absolute`] as `https://host:port/…` — the
//! same tap, trace records, phases and rules as reverse mode. A tunnel that opens with plain
//! HTTP instead of a TLS `ClientHello` (Node's proxy agent tunnels `http://` URLs) is served
//! as `http://host:port/…` the same way. Any other host is connected first
//! (a refused connection answers `502`) and then tunneled blind ([`super::tunnel`]). An
//! absolute-form `http://` request is forwarded the same way, recorded when its host is
//! intercepted and passed through counted otherwise. Every response from an intercepted host
//! goes through [`learn_from_response`] before the client gets it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use time::OffsetDateTime;

use super::learn::learn_from_response;
use super::leaves::LeafCache;
use super::prefixed::{TunnelProtocol, sniff};
use super::scope::{InterceptScope, normalize_host};
use super::tunnel;
use crate::forward::{Forwarder, ProxyBody};
use crate::model::{TlsFailureKind, TlsHandshakeFailure};
use crate::session::RecorderHandle;

/// Longest wait for the client's TLS handshake inside a tunnel.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for the client's request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a connection needs, shared by all of them.
#[derive(Debug)]
pub struct ForwardService {
    /// What is decrypted.
    pub scope: Arc<InterceptScope>,
    /// Sends and records intercepted requests.
    pub forwarder: Arc<Forwarder>,
    /// Leaves per host.
    pub leaves: LeafCache,
    /// Takes tunnel and handshake records.
    pub recorder: RecorderHandle,
    /// Passes non-intercepted plain-HTTP requests through.
    pub passthrough: tunnel::PlainClient,
    /// Where the forward CA certificate is, for the advice of a refused handshake.
    pub ca_hint: String,
}

impl ForwardService {
    /// Serves one accepted client connection until it closes.
    pub async fn serve(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let service = {
            let this = self.clone();
            service_fn(move |req| {
                let this = this.clone();
                async move { Ok::<_, std::convert::Infallible>(this.outer(req, peer).await) }
            })
        };
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        if let Err(err) = conn.await {
            tracing::debug!(%peer, "proxy connection ended: {}", crate::error_chain(&err));
        }
    }

    /// A request on the outer (proxy) connection.
    async fn outer(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        if req.method() == Method::CONNECT {
            return self.connect(req, peer).await;
        }
        let Some(url) = absolute_http_url(&req) else {
            return text(
                StatusCode::BAD_REQUEST,
                "authtap is a forward proxy here: set HTTPS_PROXY/HTTP_PROXY to this address \
                 (or use `authtap run -- CMD`), or use `authtap proxy --upstream URL` for a \
                 reverse proxy.\n",
            );
        };
        let host = url.host_str().map(normalize_host).unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        if self.scope.intercepts(&host, port) {
            self.intercepted(req, peer, url).await
        } else {
            self.passthrough
                .send(req, peer, &host, port, &self.recorder)
                .await
        }
    }

    async fn connect(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        let Some((host, port)) = connect_target(&req) else {
            return text(
                StatusCode::BAD_REQUEST,
                "CONNECT needs an authority target: host:port\n",
            );
        };
        if self.scope.intercepts(&host, port) {
            let upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                match upgrade.await {
                    Ok(upgraded) => self.intercept_tunnel(upgraded, peer, host, port).await,
                    Err(err) => tracing::debug!(%peer, "CONNECT upgrade failed: {err}"),
                }
            });
            return empty(StatusCode::OK);
        }
        let at = OffsetDateTime::now_utc();
        let start = std::time::Instant::now();
        match tunnel::connect_origin(&host, port).await {
            Ok(origin) => {
                let upgrade = hyper::upgrade::on(req);
                let recorder = self.recorder.clone();
                tokio::spawn(async move {
                    match upgrade.await {
                        Ok(upgraded) => {
                            let record = tunnel::relay(
                                TokioIo::new(upgraded),
                                origin,
                                tunnel::TunnelStart {
                                    at,
                                    start,
                                    peer,
                                    host,
                                    port,
                                },
                            )
                            .await;
                            recorder.tunnel(record);
                        }
                        Err(err) => tracing::debug!(%peer, "CONNECT upgrade failed: {err}"),
                    }
                });
                empty(StatusCode::OK)
            }
            Err(err) => {
                let message = format!("cannot connect to {host}:{port}: {err}");
                self.recorder.tunnel(tunnel::failed(
                    tunnel::TunnelStart {
                        at,
                        start,
                        peer,
                        host,
                        port,
                    },
                    message.clone(),
                ));
                text(StatusCode::BAD_GATEWAY, &format!("authtap: {message}\n"))
            }
        }
    }

    /// Serves an intercepted tunnel: TLS terminated with a leaf for `host` (HTTP/1.1 or HTTP/2
    /// by ALPN inside), or plain HTTP when the client tunnels `http://` through `CONNECT`.
    async fn intercept_tunnel(
        self: Arc<Self>,
        upgraded: hyper::upgrade::Upgraded,
        peer: SocketAddr,
        host: String,
        port: u16,
    ) {
        let at = OffsetDateTime::now_utc();
        let sniffed = tokio::time::timeout(HANDSHAKE_TIMEOUT, sniff(TokioIo::new(upgraded))).await;
        let (protocol, stream) = match sniffed {
            Ok(Ok(Some(sniffed))) => sniffed,
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                tracing::debug!(%peer, "tunnel to {host}:{port} closed before its first byte");
                return;
            }
        };
        if protocol == TunnelProtocol::Plain {
            let origin = origin_of("http", &host, port, 80);
            self.serve_inner(stream, peer, origin, &host, port).await;
            return;
        }
        let config = match self.leaves.config_for(&host) {
            Ok(config) => config,
            Err(err) => {
                tracing::warn!("{}", crate::error_chain(&err));
                return;
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let origin = origin_of("https", &host, port, 443);
                self.serve_inner(tls, peer, origin, &host, port).await;
            }
            Ok(Err(err)) => {
                let (kind, alert, message) = crate::listen::tls::classify(&err);
                self.handshake_failed(at, peer, &host, kind, alert, message);
            }
            Err(_) => self.handshake_failed(
                at,
                peer,
                &host,
                TlsFailureKind::Timeout,
                None,
                format!(
                    "the handshake did not finish within {}s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            ),
        }
    }

    /// Serves HTTP/1.1 or HTTP/2 inside a tunnel; every request goes to `origin`.
    async fn serve_inner<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        origin: String,
        host: &str,
        port: u16,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = {
            let this = self.clone();
            service_fn(move |req: Request<Incoming>| {
                let this = this.clone();
                let origin = origin.clone();
                async move {
                    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let response = match url::Url::parse(&format!("{origin}{target}")) {
                        Ok(url) => this.intercepted(req, peer, url).await,
                        Err(_) => text(StatusCode::BAD_REQUEST, "authtap: bad request target\n"),
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            })
        };
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        if let Err(err) = builder
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!(%peer, "tunnel to {host}:{port} ended: {}", crate::error_chain(err.as_ref()));
        }
    }

    /// Forwards and records one request to an intercepted origin, learning hosts on the way.
    async fn intercepted(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        url: url::Url,
    ) -> Response<ProxyBody> {
        let method = req.method().clone();
        let response = self.forwarder.handle_absolute(req, peer, &url).await;
        let (response, learned) = learn_from_response(&self.scope, &method, response).await;
        for pattern in learned {
            tracing::info!("intercepting {pattern} too (named by {url})");
        }
        response
    }

    fn handshake_failed(
        &self,
        at: OffsetDateTime,
        peer: SocketAddr,
        host: &str,
        kind: TlsFailureKind,
        alert: Option<String>,
        message: String,
    ) {
        let advice = format!(
            "The client does not trust authtap's forward CA for {host}. `authtap run` sets \
             NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE for the \
             command it starts; otherwise make the client trust {}, or leave {host} out of the \
             interception set so it is tunneled blind.",
            self.ca_hint
        );
        self.recorder.tls_handshake_failed(TlsHandshakeFailure {
            at,
            client_addr: peer.to_string(),
            sni: Some(host.to_string()),
            alpn: Vec::new(),
            kind,
            alert,
            message,
            advice,
        });
    }
}

/// `scheme://host[:port]`, the port left out when it is the scheme's default.
fn origin_of(scheme: &str, host: &str, port: u16, default_port: u16) -> String {
    if port == default_port {
        format!("{scheme}://{}", bracketed(host))
    } else {
        format!("{scheme}://{}:{port}", bracketed(host))
    }
}

/// `host` with brackets when it is an IPv6 literal.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The `host:port` of a `CONNECT` request (port 443 when absent).
fn connect_target<B>(req: &Request<B>) -> Option<(String, u16)> {
    let authority = req.uri().authority()?;
    let host = normalize_host(authority.host());
    if host.is_empty() {
        return None;
    }
    Some((host, authority.port_u16().unwrap_or(443)))
}

/// The URL of an absolute-form `http://` request.
fn absolute_http_url<B>(req: &Request<B>) -> Option<url::Url> {
    let uri = req.uri();
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return None;
    }
    url::Url::parse(&uri.to_string()).ok()
}

fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|e| match e {}).boxed());
    *response.status_mut() = status;
    response
}

fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets() {
        let req = Request::connect("mcp.example.com:8443").body(()).unwrap();
        assert_eq!(connect_target(&req), Some(("mcp.example.com".into(), 8443)));
        let req = Request::connect("[::1]:9000").body(()).unwrap();
        assert_eq!(connect_target(&req), Some(("::1".into(), 9000)));
        assert_eq!(bracketed("::1"), "[::1]");
        assert_eq!(
            origin_of("https", "a.example", 443, 443),
            "https://a.example"
        );
        assert_eq!(origin_of("http", "::1", 8080, 80), "http://[::1]:8080");
    }

    #[test]
    fn only_absolute_http_urls_are_forwarded() {
        let req = Request::get("http://127.0.0.1:3000/mcp?x=1")
            .body(())
            .unwrap();
        assert_eq!(
            absolute_http_url(&req).unwrap().as_str(),
            "http://127.0.0.1:3000/mcp?x=1"
        );
        let origin_form = Request::get("/mcp").body(()).unwrap();
        assert!(absolute_http_url(&origin_form).is_none());
    }
}
