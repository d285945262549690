//! Forwarding: sends each client request upstream and streams the response back.
//!
//! [`Forwarder::handle`] never fails (every failure becomes a response, axum's model): it
//! assigns the exchange id, routes the request through [`crate::rewrite`], strips hop-by-hop
//! headers, lets the pooled [`client`] set `Host` to the upstream, and wraps both bodies in a
//! [`crate::tap::Tap`] so they stream untouched while being copied. Only small form bodies
//! (R7) and small JSON discovery/registration responses (R1–R6, R12) are buffered, and only
//! when rewriting is on. Upstream failures become a 502/504 JSON body ([`failure`]). The
//! exchange record is assembled in [`assembly`] and handed to the recorder without waiting.

pub mod assembly;
mod authorize;
pub mod client;
pub mod failure;
pub mod headers;
mod metadata;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};

use crate::rewrite::{Rewriter, Route};
use crate::tap::{BoxError, Side, Tap, TapOptions};
use crate::trace::model::{
    ExchangeError, ExchangeId, Header, Outcome, RequestRecord, ResponseRecord, Rewrite,
};
use crate::trace::writer::RecorderHandle;
use assembly::{Assembly, Tracker};
use authorize::Leg;
use failure::UpstreamFailure;
use headers::{strip_hop_by_hop, version_label};

/// The body type both directions use.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// Longest wait for the upstream's response head (MCP tool calls can be slow). Bodies have no
/// timeout: streams may live as long as both ends want.
pub const RESPONSE_HEAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest form body buffered to map `resource` back (R7).
const MAX_FORM_BODY: u64 = 64 * 1024;
/// Largest JSON metadata body buffered for rewriting.
const MAX_JSON_BODY: u64 = 256 * 1024;

/// Why the upstream client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `--upstream-ca` could not be used.
    #[error("cannot use upstream CA file {path}: {message}")]
    UpstreamCa {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// What the forwarder needs to know.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// `--upstream`.
    pub upstream: url::Url,
    /// The URL clients use.
    pub proxy_base: url::Url,
    /// Reverse-mode rewriting on.
    pub rewrite: bool,
    /// Capture cap per body.
    pub max_capture: usize,
    /// Upstream TLS options.
    pub client: client::ClientOptions,
}

/// The forwarding service shared by all connections.
#[derive(Debug)]
pub struct Forwarder {
    client: client::UpstreamClient,
    upstream_label: String,
    proxy_base: url::Url,
    rewriter: Rewriter,
    recorder: RecorderHandle,
    max_capture: usize,
    next_id: AtomicU64,
    tracker: Arc<Tracker>,
    /// Forward mode: every request carries its own origin (no rewriting, no `__authtap` paths).
    forward_mode: bool,
}

impl Forwarder {
    /// Builds the forwarder and its pooled upstream client.
    pub fn new(config: ForwarderConfig, recorder: RecorderHandle) -> Result<Self, Error> {
        let client = client::build(&config.client)?;
        Ok(Self {
            client,
            upstream_label: config.upstream.to_string(),
            rewriter: Rewriter::new(&config.upstream, &config.proxy_base, config.rewrite),
            proxy_base: config.proxy_base,
            recorder,
            max_capture: config.max_capture,
            next_id: AtomicU64::new(0),
            tracker: Arc::new(Tracker::default()),
            forward_mode: false,
        })
    }

    /// The forwarder of forward mode (`authtap proxy --forward`, `authtap run`): requests come
    /// with absolute URLs ([`Forwarder::handle_absolute`]); rewriting and the `__authtap`
    /// paths are off, so every byte passes as the client and the origin sent it.
    pub fn for_forward_proxy(
        client: &client::ClientOptions,
        proxy_base: url::Url,
        max_capture: usize,
        recorder: RecorderHandle,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: client::build(client)?,
            upstream_label: "the origin server".into(),
            rewriter: Rewriter::new(&proxy_base, &proxy_base, false),
            proxy_base,
            recorder,
            max_capture,
            next_id: AtomicU64::new(0),
            tracker: Arc::new(Tracker::default()),
            forward_mode: true,
        })
    }

    /// Forward mode: sends one request to the absolute `url` the client asked for, untouched
    /// but for hop-by-hop headers. Never fails: errors become responses and error records.
    pub async fn handle_absolute(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        url: &url::Url,
    ) -> Response<ProxyBody> {
        let assembly = self.assembly(peer);
        let (parts, body) = req.into_parts();
        let url = url.to_string();
        self.forward(assembly, parts, body, url.clone(), url, Leg::Plain)
            .await
    }

    /// In-flight exchange tracking (for shutdown).
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    fn assembly(&self, peer: SocketAddr) -> Arc<Assembly> {
        let id = ExchangeId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        Arc::new(Assembly::new(
            id,
            peer,
            self.max_capture,
            self.recorder.clone(),
            self.tracker.clone(),
        ))
    }

    /// Records a request hyper refused before it reached the service (400/431).
    pub fn record_rejected(&self, peer: SocketAddr, kind: &str, message: String) {
        let assembly = self.assembly(peer);
        assembly.set_request(RequestRecord {
            method: String::new(),
            url: self.proxy_base.to_string(),
            client_url: None,
            http_version: String::new(),
            headers: vec![],
            body: None,
        });
        assembly.fail(
            Outcome::Rejected,
            ExchangeError {
                kind: kind.into(),
                message,
            },
        );
    }

    /// Forwards one request. Never fails: errors become responses and error records.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
        let assembly = self.assembly(peer);
        let (parts, body) = req.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let client_url = self.client_url(&parts);
        match self.rewriter.route(target) {
            Route::Redirect { location, rewrites } => {
                self.authorize(assembly, parts, body, client_url, location, rewrites)
                    .await
            }
            Route::Forward { url, rewrites } => {
                assembly.add_rewrites(rewrites);
                self.forward(assembly, parts, body, client_url, url, Leg::Plain)
                    .await
            }
        }
    }

    /// The URL the client used, from the URI authority (HTTP/2) or `Host` (HTTP/1.1).
    fn client_url(&self, parts: &http::request::Parts) -> String {
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| self.proxy_base.authority().to_string());
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        format!("{}://{authority}{target}", self.proxy_base.scheme())
    }

    async fn forward(
        &self,
        assembly: Arc<Assembly>,
        parts: http::request::Parts,
        body: Incoming,
        client_url: String,
        url: String,
        leg: Leg,
    ) -> Response<ProxyBody> {
        let Ok(uri) = url.parse::<Uri>() else {
            let failure = UpstreamFailure {
                status: StatusCode::BAD_GATEWAY,
                kind: "internal",
                message: format!("authtap built an invalid upstream URL: {url}"),
            };
            return self.fail(&assembly, &failure);
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        let start = assembly.start();
        let tap_options = |sse| TapOptions {
            max_capture: self.max_capture,
            sse,
            start,
        };

        // Request body: streamed through a tap, or (R7) a small form body rewritten.
        let request_body: ProxyBody = match self.buffer_form(&parts.method, &headers, body).await {
            Ok(Buffered::Stream(body)) => {
                Tap::new(body, Side::Request, tap_options(false), assembly.clone()).boxed()
            }
            Ok(Buffered::Bytes(bytes)) => {
                let bytes = match std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| self.rewriter.request_form(s))
                {
                    Some((new, rewrites)) => {
                        assembly.add_rewrites(rewrites);
                        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(new.len()));
                        Bytes::from(new)
                    }
                    None => bytes,
                };
                Tap::new(
                    Full::new(bytes),
                    Side::Request,
                    tap_options(false),
                    assembly.clone(),
                )
                .boxed()
            }
            Err(message) => {
                assembly.fail(
                    Outcome::ClientCut,
                    ExchangeError {
                        kind: "client_cut".into(),
                        message,
                    },
                );
                return plain_response(
                    StatusCode::BAD_REQUEST,
                    "authtap: the request body could not be read\n",
                );
            }
        };

        let mut recorded_headers = Vec::with_capacity(headers.len() + 1);
        if let Some(authority) = uri.authority() {
            recorded_headers.push(Header::new("host", authority.as_str()));
        }
        recorded_headers.extend(Header::lines(&headers));
        assembly.set_request(RequestRecord {
            method: parts.method.to_string(),
            url: url.clone(),
            client_url: (client_url != url).then_some(client_url),
            http_version: version_label(parts.version).into(),
            headers: recorded_headers,
            body: None,
        });

        let mut req = Request::new(request_body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let upstream_path = req.uri().path().to_string();

        let response = match (self.send(&assembly, req).await, &leg) {
            (Ok(response), _) => response,
            (Err(failure), Leg::Authorize { .. }) => {
                return self.authorize_unreachable(&assembly, &failure, parts.version, &url);
            }
            (Err(failure), Leg::Plain) => return self.fail(&assembly, &failure),
        };
        let (mut resp_parts, resp_body) = response.into_parts();
        assembly.set_response(ResponseRecord {
            status: resp_parts.status.as_u16(),
            http_version: version_label(resp_parts.version).into(),
            headers: Header::lines(&resp_parts.headers),
            body: None,
            sse_events: vec![],
        });
        strip_hop_by_hop(&mut resp_parts.headers);
        if let Leg::Authorize { redirect_uri } = &leg {
            let tapped = Tap::new(
                resp_body,
                Side::Response,
                tap_options(false),
                assembly.clone(),
            );
            return self.authorize_response(
                &assembly,
                resp_parts,
                tapped,
                &url,
                redirect_uri.as_deref(),
                parts.version,
            );
        }
        self.rewrite_response_headers(&assembly, &mut resp_parts.headers);

        let media_type = media_type(&resp_parts.headers);
        let encoded = resp_parts.headers.contains_key(header::CONTENT_ENCODING);
        let sse = media_type.as_deref() == Some("text/event-stream") && !encoded;
        let tapped = Tap::new(
            resp_body,
            Side::Response,
            tap_options(sse),
            assembly.clone(),
        );
        let wants_json = self.rewriter.wants_json_body(
            &upstream_path,
            parts.method.as_str(),
            media_type.as_deref(),
        );
        let body = if wants_json && tapped.size_hint().lower() <= MAX_JSON_BODY {
            self.rewrite_json_body(&assembly, &mut resp_parts.headers, tapped)
                .await
        } else {
            tapped.boxed()
        };
        if sse {
            // Ask any buffering reverse proxy in front of us not to hold events back.
            resp_parts
                .headers
                .entry("x-accel-buffering")
                .or_insert(HeaderValue::from_static("no"));
        }
        Response::from_parts(resp_parts, body)
    }

    /// Sends the request, noting when a connection became ready, under the head timeout.
    async fn send(
        &self,
        assembly: &Assembly,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamFailure> {
        let label = if self.forward_mode {
            req.uri().authority().map_or_else(
                || self.upstream_label.clone(),
                |authority| authority.to_string(),
            )
        } else {
            self.upstream_label.clone()
        };
        let mut captured = hyper_util::client::legacy::connect::capture_connection(&mut req);
        let request = self.client.request(req);
        tokio::pin!(request);
        let deadline = tokio::time::sleep(RESPONSE_HEAD_TIMEOUT);
        tokio::pin!(deadline);
        let mut connected = false;
        loop {
            tokio::select! {
                result = &mut request => {
                    return result.map_err(|err| UpstreamFailure::classify(&err, &label));
                }
                () = &mut deadline => {
                    return Err(UpstreamFailure::timeout(&label, RESPONSE_HEAD_TIMEOUT.as_secs()));
                }
                ready = captured.wait_for_connection_metadata(), if !connected => {
                    connected = true;
                    if ready.is_some() {
                        assembly.upstream_connected();
                    }
                }
            }
        }
    }

    fn fail(&self, assembly: &Assembly, failure: &UpstreamFailure) -> Response<ProxyBody> {
        tracing::debug!(exchange = %assembly.id(), "upstream failure: {}", failure.message);
        assembly.fail(Outcome::UpstreamError, failure.record());
        failure
            .response(assembly.id(), &self.upstream_label)
            .map(|b| Full::new(b).map_err(|e| match e {}).boxed())
    }

    /// Buffers a small form body when rewriting may need to map `resource` (R7).
    async fn buffer_form(
        &self,
        method: &http::Method,
        headers: &HeaderMap,
        body: Incoming,
    ) -> Result<Buffered, String> {
        let is_form = media_type(headers).as_deref() == Some("application/x-www-form-urlencoded");
        let small = body.size_hint().upper().is_some_and(|n| n <= MAX_FORM_BODY);
        if !(self.rewriter.enabled() && method == http::Method::POST && is_form && small)
            || headers.contains_key(header::CONTENT_ENCODING)
        {
            return Ok(Buffered::Stream(body));
        }
        let limit = usize::try_from(MAX_FORM_BODY).unwrap_or(usize::MAX);
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(Buffered::Bytes(collected.to_bytes())),
            Err(err) => Err(format!("the client's form body could not be read: {err}")),
        }
    }

    fn rewrite_response_headers(&self, assembly: &Assembly, headers: &mut HeaderMap) {
        if !self.rewriter.enabled() {
            return;
        }
        let mut rewrites = Vec::new();
        for name in [
            header::WWW_AUTHENTICATE,
            header::LOCATION,
            header::CONTENT_LOCATION,
        ] {
            let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
            if values.is_empty() {
                continue;
            }
            let mut changed = false;
            let new_values: Vec<HeaderValue> = values
                .iter()
                .map(|v| {
                    let Ok(text) = v.to_str() else {
                        return v.clone();
                    };
                    match self
                        .rewriter
                        .response_header(name.as_str(), text)
                        .and_then(|n| HeaderValue::from_str(&n).ok().map(|hv| (n, hv)))
                    {
                        Some((new, hv)) => {
                            changed = true;
                            rewrites.push(Rewrite {
                                direction: "response".into(),
                                location: format!("header:{name}"),
                                from: text.to_string(),
                                to: new,
                            });
                            hv
                        }
                        None => v.clone(),
                    }
                })
                .collect();
            if changed {
                headers.remove(&name);
                for v in new_values {
                    headers.append(&name, v);
                }
            }
        }
        assembly.add_rewrites(rewrites);
    }
}

enum Buffered {
    Stream(Incoming),
    Bytes(Bytes),
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn empty() -> ProxyBody {
    http_body_util::Empty::new().map_err(|e| match e {}).boxed()
}

/// A short plain-text response from authtap itself.
pub fn plain_response(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
