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
use http::{HeaderName, HeaderValue, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::message::{HttpError, MAX_BODY, Partial, Reply, Req, Streaming};
use super::proxy::{ProxyConnector, Route};
use super::record::exchange_record;
use crate::error_chain;
use crate::model::Exchange;
use crate::parse::sse::SseParser;

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

/// The transport.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    timeout: Duration,
    user_agent: String,
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
        let exchange =
            exchange_record(&self.user_agent, req, started_at, started, &result, partial);
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
