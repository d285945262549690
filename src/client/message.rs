//! The messages of the scripted client's transport: a request to send, a complete or still
//! streaming response, what arrived before a body failure, and the transport error.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use hyper::body::Incoming;

use crate::model::ErrorKind;
use crate::parse::sse::ParsedEvent as SseEvent;

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
    /// Name of the client step this request belongs to (for the [`ExchangeHook`](super::http::ExchangeHook)).
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

    /// Names the client step (for the [`ExchangeHook`](super::http::ExchangeHook)).
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

/// What arrived before a body failure.
#[derive(Debug)]
pub(super) struct Partial {
    pub(super) status: u16,
    pub(super) version: String,
    pub(super) headers: HeaderMap,
    pub(super) first_byte: Duration,
    pub(super) body: Vec<u8>,
    pub(super) events: Vec<(u64, SseEvent)>,
}
