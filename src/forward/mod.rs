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
mod body;
mod bounce;
pub mod client;
pub mod failure;
pub mod headers;
mod metadata;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};

use crate::model::{
    CaptureMode, ErrorKind, ExchangeError, Header, Outcome, RequestRecord, ResponseRecord, Rewrite,
    RewriteDirection,
};
use crate::rewrite::Route;
use crate::tap::{BodyEnd, Side, Tap, TapOptions};
use assembly::Assembly;
use authorize::Leg;
pub use body::ProxyBody;
use body::media_type;
pub use client::Error;
use failure::{ClientFault, UpstreamFailure};
use headers::{strip_hop_by_hop, version_label};
use metadata::MAX_JSON_BODY;
pub use service::{Forwarder, ForwarderConfig};

/// Longest wait for the upstream's response head (MCP tool calls can be slow). Bodies have no
/// timeout: streams may live as long as both ends want.
pub const RESPONSE_HEAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest form or registration body buffered for rewriting (R7, the callback bounce).
const MAX_FORM_BODY: u64 = 64 * 1024;

/// How long shutdown waits for open exchanges to reach the recorder.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ends a recording after the listener stopped: waits (at most `DRAIN_WAIT`) for the
/// exchanges still open to reach the recorder, then runs the engine's final pass and closes
/// the trace. Reverse and forward mode shut down through this one path.
pub async fn finish_recording(
    forwarder: Arc<Forwarder>,
    recorder: crate::session::Recorder,
) -> Result<crate::session::RecorderStats, crate::session::Error> {
    let tracker = forwarder.tracker().clone();
    if tokio::time::timeout(DRAIN_WAIT, tracker.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} exchanges still open at shutdown; they are not recorded",
            tracker.live()
        );
    }
    drop(forwarder);
    tokio::task::spawn_blocking(move || recorder.finish())
        .await
        .map_err(|_| crate::session::Error::Thread)?
}

impl Forwarder {
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

    /// Forwards one request. Never fails: errors become responses and error records.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
        let assembly = self.assembly(peer);
        let (parts, body) = req.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let client_url = self.client_url(&parts);
        match self.rewriter.route(target) {
            Route::Redirect {
                location,
                rewrites,
                callback,
            } => {
                assembly.add_rewrites(rewrites);
                self.authorize(assembly, parts, body, client_url, location, callback)
                    .await
            }
            Route::Forward { url, rewrites } => {
                assembly.add_rewrites(rewrites);
                self.forward(assembly, parts, body, client_url, url, Leg::Plain)
                    .await
            }
            Route::Bounce(back) => self.bounce(&assembly, &parts, &client_url, back),
            Route::Unknown { path } => self.unknown_path(&assembly, &parts, &client_url, &path),
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
        let scheme = if parts.extensions.get::<bounce::ViaBouncePort>().is_some() {
            "http"
        } else {
            self.proxy_base.scheme()
        };
        format!("{scheme}://{authority}{target}")
    }

    /// Forwards one request upstream along `leg` and streams the response back: the request
    /// body, the request record, the send, then the response half.
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
                kind: ErrorKind::Internal,
                message: format!("authtap built an invalid upstream URL: {url}"),
            };
            return self.fail(&assembly, &failure);
        };
        let http::request::Parts {
            method,
            version,
            mut headers,
            ..
        } = parts;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        let (request_body, bounce_added) = match self
            .request_body(&assembly, &method, &mut headers, &url, body)
            .await
        {
            Ok(done) => done,
            Err(fault) => return client_fault(&assembly, fault),
        };
        assembly.set_request(request_record(
            &method, version, &uri, &headers, &url, client_url,
        ));

        let mut req = Request::new(request_body);
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;

        let sent = self.send(&assembly, req).await;
        if sent.is_err()
            && let Some(fault) = assembly.client_fault()
        {
            // The client broke its own request body; the upstream only saw the consequence.
            tracing::debug!(exchange = %assembly.id(), "client fault: {}", fault.error.message);
            return client_fault(&assembly, fault);
        }
        let response = match (sent, &leg) {
            (Ok(response), _) => response,
            (Err(failure), Leg::Authorize(_)) => {
                return self.authorize_unreachable(&assembly, &failure, version, &url);
            }
            (Err(failure), Leg::Plain) => return self.fail(&assembly, &failure),
        };
        let request = Answering {
            url: &url,
            method: &method,
            version,
            leg: &leg,
            bounce_added,
        };
        self.respond(&assembly, response, request).await
    }

    /// The request body to send: streamed through a tap, or a small form (R7, bounce) or
    /// registration (bounce) body buffered and rewritten. Also says whether authtap added its
    /// bounce URIs to a registration. A body the client broke is a [`ClientFault`].
    async fn request_body(
        &self,
        assembly: &Arc<Assembly>,
        method: &http::Method,
        headers: &mut HeaderMap,
        url: &str,
        body: Incoming,
    ) -> Result<(ProxyBody, bool), ClientFault> {
        let mut bounce_added = false;
        let body = match self.buffer_small(method, headers, url, body).await {
            Ok(Buffered::Stream(body)) => Tap::new(
                body,
                Side::Request,
                self.tap_options(assembly, false),
                assembly.clone(),
            )
            .boxed(),
            Ok(Buffered::Bytes(bytes)) => {
                let bytes = match self.rewrite_small_body(headers, &bytes) {
                    Some((new, rewrites)) => {
                        bounce_added = rewrites.iter().any(|r| {
                            r.direction == RewriteDirection::Request && r.location == bounce::ADDED
                        });
                        assembly.add_rewrites(rewrites);
                        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(new.len()));
                        Bytes::from(new)
                    }
                    None => bytes,
                };
                Tap::new(
                    Full::new(bytes),
                    Side::Request,
                    self.tap_options(assembly, false),
                    assembly.clone(),
                )
                .boxed()
            }
            Err(end) => {
                return Err(ClientFault::from_request_end(&end).unwrap_or(ClientFault {
                    outcome: Outcome::ClientCut,
                    error: ExchangeError {
                        kind: ErrorKind::ClientCut,
                        message: "the client's form body could not be read".into(),
                    },
                }));
            }
        };
        Ok((body, bounce_added))
    }

    /// The response half: records the head, then hands an authorize leg's response to
    /// [`Self::authorize_response`], or rewrites the headers, flags SSE and rewrites a small
    /// JSON body.
    async fn respond(
        &self,
        assembly: &Arc<Assembly>,
        response: Response<Incoming>,
        request: Answering<'_>,
    ) -> Response<ProxyBody> {
        let (mut resp_parts, resp_body) = response.into_parts();
        assembly.set_response(ResponseRecord {
            status: resp_parts.status.as_u16(),
            http_version: version_label(resp_parts.version).into(),
            headers: Header::lines(&resp_parts.headers),
            body: None,
            sse_events: vec![],
        });
        if request.bounce_added && resp_parts.status.is_client_error() {
            bounce::registration_refused(assembly, resp_parts.status.as_u16());
        }
        strip_hop_by_hop(&mut resp_parts.headers);
        if let Leg::Authorize(callback) = request.leg {
            let tapped = Tap::new(
                resp_body,
                Side::Response,
                self.tap_options(assembly, false),
                assembly.clone(),
            );
            return self.authorize_response(
                assembly,
                resp_parts,
                tapped,
                request.url,
                callback,
                request.version,
            );
        }
        self.rewrite_response_headers(assembly, &mut resp_parts.headers);

        let media_type = media_type(&resp_parts.headers);
        let encoded = resp_parts.headers.contains_key(header::CONTENT_ENCODING);
        let sse = media_type.as_deref() == Some("text/event-stream") && !encoded;
        let tapped = Tap::new(
            resp_body,
            Side::Response,
            self.tap_options(assembly, sse),
            assembly.clone(),
        );
        let wants_json = self.rewriter.wants_json_body(
            request.url,
            request.method.as_str(),
            media_type.as_deref(),
        );
        let body = if wants_json && tapped.size_hint().lower() <= MAX_JSON_BODY {
            self.rewrite_json_body(assembly, &mut resp_parts.headers, tapped)
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

    /// How a tap of this exchange captures (`sse`: parse `text/event-stream` events).
    fn tap_options(&self, assembly: &Assembly, sse: bool) -> TapOptions {
        TapOptions {
            max_capture: self.max_capture,
            sse,
            start: assembly.start(),
        }
    }

    /// Sends the request, noting when a connection became ready, under the head timeout.
    async fn send(
        &self,
        assembly: &Assembly,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamFailure> {
        let label = if self.mode == CaptureMode::Forward {
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

    /// Buffers a small form body (R7 `resource`, bounce `redirect_uri`) or a small JSON
    /// registration request (bounce `redirect_uris`) when rewriting is on.
    async fn buffer_small(
        &self,
        method: &http::Method,
        headers: &HeaderMap,
        url: &str,
        body: Incoming,
    ) -> Result<Buffered, BodyEnd> {
        let media = media_type(headers);
        let is_form = media.as_deref() == Some("application/x-www-form-urlencoded");
        let is_registration = self.rewriter.wants_registration_body(url, media.as_deref());
        let small = body.size_hint().upper().is_some_and(|n| n <= MAX_FORM_BODY);
        if !(self.rewriter.enabled()
            && (method == http::Method::POST || method == http::Method::PUT && is_registration)
            && (is_form || is_registration)
            && small)
            || headers.contains_key(header::CONTENT_ENCODING)
        {
            return Ok(Buffered::Stream(body));
        }
        let limit = usize::try_from(MAX_FORM_BODY).unwrap_or(usize::MAX);
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(Buffered::Bytes(collected.to_bytes())),
            Err(err) => {
                let message = format!(
                    "the client's request body could not be read: {}",
                    crate::error_chain(err.as_ref())
                );
                Err(if crate::tap::is_protocol_error(err.as_ref()) {
                    BodyEnd::Malformed(message)
                } else {
                    BodyEnd::Failed(message)
                })
            }
        }
    }

    /// Rewrites a buffered small body: a form (R7 `resource`, bounce `redirect_uri`) or a JSON
    /// registration request (bounce `redirect_uris`). `None` when nothing changed.
    fn rewrite_small_body(
        &self,
        headers: &HeaderMap,
        bytes: &[u8],
    ) -> Option<(Vec<u8>, Vec<Rewrite>)> {
        if media_type(headers).as_deref() == Some("application/x-www-form-urlencoded") {
            let (new, rewrites) = self
                .rewriter
                .request_form(std::str::from_utf8(bytes).ok()?)?;
            return Some((new.into_bytes(), rewrites));
        }
        self.rewriter.request_registration(bytes)
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
                                direction: RewriteDirection::Response,
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

/// What the response half needs to know about the request it answers.
struct Answering<'a> {
    url: &'a str,
    method: &'a http::Method,
    version: http::Version,
    leg: &'a Leg,
    /// authtap added its bounce URIs to this registration request.
    bounce_added: bool,
}

/// Fails the exchange with a fault of the client's own and answers it.
fn client_fault(assembly: &Assembly, fault: ClientFault) -> Response<ProxyBody> {
    assembly.fail(fault.outcome, fault.error.clone());
    fault
        .response(assembly.id())
        .map(|b| Full::new(b).map_err(|e| match e {}).boxed())
}

/// The request record of a forwarded request: what goes upstream, the `Host` it gets from the
/// client, and the URL the client used when it differs.
fn request_record(
    method: &http::Method,
    version: http::Version,
    uri: &Uri,
    headers: &HeaderMap,
    url: &str,
    client_url: String,
) -> RequestRecord {
    let mut recorded_headers = Vec::with_capacity(headers.len() + 1);
    if let Some(authority) = uri.authority() {
        recorded_headers.push(Header::new("host", authority.as_str()));
    }
    recorded_headers.extend(Header::lines(headers));
    RequestRecord {
        method: method.to_string(),
        url: url.to_string(),
        client_url: (client_url != url).then_some(client_url),
        http_version: version_label(version).into(),
        headers: recorded_headers,
        body: None,
    }
}
