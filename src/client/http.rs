//! The scripted client's HTTP transport: hyper-util's pooled client over hyper-rustls (HTTP/1.1
//! and HTTP/2 by ALPN), trusting the webpki roots plus an optional extra CA (the proxy's).
//! Plain `http://` works too, and either goes through the environment's proxy when asked
//! ([`Route`]). Every call has a timeout; bodies are read with a cap.
//!
//! With an [`ExchangeHook`] every request sent produces a [`trace::model::Exchange`]: the
//! request as sent, the response as received (all headers, before any browser filtering), its
//! body and SSE events, timings, or the transport error (`tls`, `dns`, `connect`, `timeout`).
//! `authtap check` feeds these into the rule engine.
//!
//! [`trace::model::Exchange`]: crate::model::Exchange

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::proxy::{ProxyConnector, Route};
use super::record::Partial;
use crate::error_chain;
use crate::model::{ErrorKind, Exchange};
use crate::parse::sse::{ParsedEvent as SseEvent, SseParser};

/// Longest SSE line the client keeps (a stream without line ends cannot grow memory).
const MAX_SSE_LINE: usize = 4 * 1024 * 1024;

/// Receives every exchange the transport makes, with the name of the client step that made
/// it (`probe`, `prm`, `dcr (preflight)`…). Exchange ids are left at 0 for the receiver to
/// number.
#[derive(Clone)]
pub struct ExchangeHook(pub Arc<HookFn>);

/// The function behind an [`ExchangeHook`]: client step name, recorded exchange.
pub type HookFn = dyn Fn(&str, Exchange) + Send + Sync;

impl ExchangeHook {
    /// Wraps a closure.
    pub fn new(f: impl Fn(&str, Exchange) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for ExchangeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExchangeHook")
    }
}

/// Largest response body the client reads (4 MiB).
pub const MAX_BODY: usize = 4 << 20;

/// A transport failure (no HTTP response to judge).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The extra CA could not be loaded.
    #[error("cannot load CA certificate {path}: {reason}")]
    Ca {
        /// The PEM path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The request could not be built (bad URL or header).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Connecting, TLS or the exchange failed.
    #[error("request failed: {0}")]
    Transport(String),
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The body could not be read completely.
    #[error("response body failed: {0}")]
    Body(String),
}

impl HttpError {
    /// The trace's `error.kind` for this failure: tls, dns, connect, timeout, upstream cut or
    /// internal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HttpError::Ca { .. } | HttpError::Invalid(_) => ErrorKind::Internal,
            HttpError::Timeout(_) => ErrorKind::Timeout,
            HttpError::Body(_) => ErrorKind::UpstreamCut,
            HttpError::Transport(text) => transport_kind(text),
        }
    }
}

/// Classifies a transport error chain (hyper-util, rustls and io messages).
fn transport_kind(text: &str) -> ErrorKind {
    let t = text.to_ascii_lowercase();
    if t.contains("dns error") || t.contains("failed to lookup") || t.contains("name or service") {
        ErrorKind::Dns
    } else if t.contains("certificate")
        || t.contains("tls")
        || t.contains("handshake")
        || t.contains("alert")
        || t.contains("corrupt message")
        || t.contains("invalidcontenttype")
    {
        ErrorKind::Tls
    } else if t.contains("timed out") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connect
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body with its content type.
    pub body: Option<(&'static str, Bytes)>,
    /// For an SSE answer: stop reading once a JSON-RPC response with this id arrived.
    pub until_rpc_id: Option<u64>,
    /// Name of the client step this request belongs to (for the [`ExchangeHook`]).
    pub step: String,
}

impl Req {
    /// A request without body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            until_rpc_id: None,
            step: String::new(),
        }
    }

    /// Names the client step (for the [`ExchangeHook`]).
    pub fn step(mut self, name: &str) -> Self {
        self.step = name.to_string();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some((
            "application/json",
            Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        ));
        self
    }

    /// Sets a form body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        self.body = Some((
            "application/x-www-form-urlencoded",
            Bytes::from(ser.finish()),
        ));
        self
    }

    /// Whether a header (case-insensitive) is set.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body (capped at [`MAX_BODY`]).
    pub body: Bytes,
    /// Time to the complete body.
    pub elapsed: Duration,
    /// Server-sent events with their arrival time (ms since the request), for SSE answers.
    pub events: Vec<(u64, SseEvent)>,
    /// HTTP version of the response (`HTTP/1.1`, `HTTP/2.0`).
    pub version: String,
    /// Body bytes received (may exceed `body.len()` when capped).
    pub wire_size: u64,
    /// Time to the response head.
    pub first_byte: Option<Duration>,
}

impl Reply {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a JSON value, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The media type, lower-cased.
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Whether the body is HTML (by type or by its first bytes).
    pub fn is_html(&self) -> bool {
        let start: String = String::from_utf8_lossy(self.body.get(..64).unwrap_or(&self.body))
            .trim_start()
            .to_ascii_lowercase();
        self.media_type() == "text/html"
            || start.starts_with("<!doctype")
            || start.starts_with("<html")
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A response whose body is still streaming.
#[derive(Debug)]
pub struct Streaming {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Incoming,
    /// When the request was sent.
    pub started: Instant,
    /// HTTP version of the response.
    pub version: String,
}

/// The transport.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    timeout: Duration,
    pub(super) user_agent: String,
    hook: Option<ExchangeHook>,
}

impl Http {
    /// Builds the transport; `ca_pem` adds one trusted CA (PEM, may hold several certs);
    /// `route` says whether requests go through the environment's proxy.
    pub fn new(
        ca_pem: Option<&Path>,
        timeout: Duration,
        user_agent: &str,
        route: Route,
    ) -> Result<Self, HttpError> {
        crate::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_pem {
            let ca_err = |reason: String| HttpError::Ca {
                path: path.display().to_string(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_err(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_err(e.to_string()))?;
            // A system bundle (SSL_CERT_FILE) may hold a root webpki cannot parse; skip it.
            let (added, _unparsable) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ca_err("no certificate in the file".into()));
            }
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(ProxyConnector::new(route));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(10))
            .build(connector);
        Ok(Self {
            client,
            timeout,
            user_agent: user_agent.to_string(),
            hook: None,
        })
    }

    /// Reports every exchange to `hook`.
    pub fn with_hook(mut self, hook: Option<ExchangeHook>) -> Self {
        self.hook = hook;
        self
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn build(&self, req: &Req) -> Result<Request<Full<Bytes>>, HttpError> {
        let uri: http::Uri = req
            .url
            .parse()
            .map_err(|_| HttpError::Invalid(format!("bad URL {}", req.url)))?;
        let mut builder = Request::builder().method(req.method.clone()).uri(uri);
        let headers = builder
            .headers_mut()
            .ok_or_else(|| HttpError::Invalid("request builder".into()))?;
        if let Ok(v) = HeaderValue::from_str(&self.user_agent) {
            headers.insert(header::USER_AGENT, v);
        }
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header {name}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| HttpError::Invalid(format!("header value for {name}")))?;
            headers.append(name, value);
        }
        let body = match &req.body {
            Some((ct, bytes)) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                Full::new(bytes.clone())
            }
            None => Full::new(Bytes::new()),
        };
        builder
            .body(body)
            .map_err(|e| HttpError::Invalid(e.to_string()))
    }

    /// Sends a request and returns once the response head arrived.
    pub async fn open(&self, req: &Req) -> Result<Streaming, HttpError> {
        let request = self.build(req)?;
        let started = Instant::now();
        let resp = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
            .map_err(|e| HttpError::Transport(error_chain(&e)))?;
        let (parts, body) = resp.into_parts();
        Ok(Streaming {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            started,
            version: format!("{:?}", parts.version),
        })
    }

    /// Sends a request and reads the whole body (capped); reports the exchange to the hook.
    pub async fn send(&self, req: &Req) -> Result<Reply, HttpError> {
        let Some(hook) = &self.hook else {
            return self.receive(req, None).await;
        };
        let started_at = time::OffsetDateTime::now_utc();
        let started = Instant::now();
        let mut partial = None;
        let result = self.receive(req, Some(&mut partial)).await;
        let exchange = self.exchange_record(req, started_at, started, &result, partial);
        (hook.0)(&req.step, exchange);
        result
    }

    /// Sends and reads; on a body failure leaves what arrived in `partial`.
    async fn receive(
        &self,
        req: &Req,
        mut partial: Option<&mut Option<Partial>>,
    ) -> Result<Reply, HttpError> {
        let streaming = self.open(req).await?;
        let first_byte = streaming.started.elapsed();
        if let Some(p) = partial.as_deref_mut() {
            *p = Some(Partial {
                status: streaming.status,
                version: streaming.version.clone(),
                headers: streaming.headers.clone(),
                first_byte,
                body: Vec::new(),
                events: Vec::new(),
            });
        }
        let mut body = streaming.body;
        let mut buf = Vec::new();
        let is_sse = streaming
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
        let mut parser = SseParser::new(MAX_SSE_LINE);
        let mut events = Vec::new();
        let mut wire = 0u64;
        loop {
            let Ok(frame) = tokio::time::timeout(self.timeout, body.frame()).await else {
                if let Some(Some(p)) = partial.as_deref_mut() {
                    p.body = std::mem::take(&mut buf);
                    p.events = std::mem::take(&mut events);
                }
                return Err(HttpError::Timeout(self.timeout));
            };
            match frame {
                None => break,
                Some(Err(e)) => {
                    if let Some(Some(p)) = partial.as_deref_mut() {
                        p.body = std::mem::take(&mut buf);
                        p.events = std::mem::take(&mut events);
                    }
                    return Err(HttpError::Body(error_chain(&e)));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let room = MAX_BODY.saturating_sub(buf.len());
                        wire += data.len() as u64;
                        buf.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                        if is_sse {
                            let at = streaming.started.elapsed().as_millis() as u64;
                            let mut done = false;
                            for ev in parser.feed(&data) {
                                done |= req
                                    .until_rpc_id
                                    .is_some_and(|id| rpc_id_of(&ev.data) == Some(id));
                                events.push((at, ev));
                            }
                            if done {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(Reply {
            status: streaming.status,
            headers: streaming.headers,
            body: Bytes::from(buf),
            elapsed: streaming.started.elapsed(),
            events,
            version: streaming.version,
            wire_size: wire,
            first_byte: Some(first_byte),
        })
    }
}

/// The numeric `id` of a JSON-RPC response carried in an event's data.
pub fn rpc_id_of(data: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    if value.get("result").is_none() && value.get("error").is_none() {
        return None;
    }
    value.get("id")?.as_u64()
}
