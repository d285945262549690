//! The exchange record: one HTTP request and its response as the upstream side saw them, with
//! its timings, body captures, outcome, rewrites, phase and findings.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::finding::{Finding, Phase};
use super::ids::{ExchangeId, FlowId};
use super::kinds::{CaptureMode, ErrorKind, RewriteDirection};

/// One HTTP request and its response (or the error that replaced it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    /// Sequential id.
    pub id: ExchangeId,
    /// When the request head arrived from the client.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Millisecond offsets from `started_at`.
    pub timings: Timings,
    /// Client socket address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// The request as the upstream received it.
    pub request: RequestRecord,
    /// The response as the upstream sent it; absent when no response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    /// How the exchange ended.
    pub outcome: Outcome,
    /// What went wrong, when `outcome` is not `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ExchangeError>,
    /// Reverse-mode rewrites applied between client and upstream, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<Rewrite>,
    /// Flow phase assigned by the classifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Flow this exchange was correlated into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowId>,
    /// Single-exchange findings (and cross-request findings anchored here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// `ofid_…` references seen in this exchange's URL, headers or bodies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ofids: Vec<String>,
    /// Which kind of proxy (or authtap's own client) captured it (absent in older traces:
    /// reverse, the only mode they had).
    #[serde(default)]
    pub mode: CaptureMode,
}

/// Timing of one exchange, in milliseconds since [`Exchange::started_at`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// The request body finished arriving from the client (and was sent upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_end_ms: Option<f64>,
    /// A connection to the upstream was ready (new or pooled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_connect_ms: Option<f64>,
    /// The response head arrived from the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<f64>,
    /// The response body ended (or the exchange failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<f64>,
}

/// One header line. Order and duplicates are kept as received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// Lower-case header name.
    pub name: String,
    /// Value; non-UTF-8 bytes are replaced (lossy).
    pub value: String,
}

/// The request half of an exchange.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Absolute URL as the upstream received it.
    pub url: String,
    /// Absolute URL the client used (the proxy's own URL), when it differs from `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    /// Client-side HTTP version, e.g. `HTTP/1.1`, `HTTP/2.0`.
    pub http_version: String,
    /// Header lines.
    pub headers: Vec<Header>,
    /// Captured body, absent when the request had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyCapture>,
}

/// The response half of an exchange.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponseRecord {
    /// Status code.
    pub status: u16,
    /// Upstream-side HTTP version.
    pub http_version: String,
    /// Header lines.
    pub headers: Vec<Header>,
    /// Captured body, absent when the response had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyCapture>,
    /// Parsed server-sent events, for `text/event-stream` responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sse_events: Vec<SseEvent>,
}

/// A copy of a body taken while it streamed through.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BodyCapture {
    /// Bytes on the wire (encoded), counting what passed beyond the capture cap.
    pub wire_size: u64,
    /// The capture stopped at the cap; `text`/`base64` hold only the beginning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// `Content-Encoding` that was decoded for the capture (`gzip`, `br`, `deflate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<String>,
    /// Decoded body, when it is valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Decoded body as standard base64, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Why decoding the captured bytes failed, if it did (raw bytes are then in `base64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    /// Set by redaction: `text` was decoded leniently from bytes that are not valid UTF-8
    /// (other bytes read as Latin-1) so it could be scanned; it is not byte-exact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lenient: bool,
    /// Set by redaction: a binary body was replaced by the placeholder in `text`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omitted: bool,
}

impl BodyCapture {
    /// The body as text, if it was captured as UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The body parsed as JSON, if it is complete UTF-8 JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        if self.truncated {
            return None;
        }
        serde_json::from_str(self.text.as_deref()?).ok()
    }
}

/// One server-sent event as it arrived.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SseEvent {
    /// Milliseconds since the exchange started.
    pub at_ms: f64,
    /// `event:` field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `id:` field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `retry:` field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Request and response passed through in full.
    Complete,
    /// The client went away before the response ended.
    ClientCut,
    /// The upstream connection broke mid-response.
    UpstreamCut,
    /// No response came from the upstream; the proxy answered with an error (502/504).
    UpstreamError,
    /// The proxy refused the request itself (400/431…).
    Rejected,
    /// Still streaming when the trace was closed.
    Incomplete,
}

/// What went wrong in an exchange, in plain words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExchangeError {
    /// Machine-readable kind (`connect`, `tls`, `upstream_cut`, …).
    pub kind: ErrorKind,
    /// One sentence for a human.
    pub message: String,
}

/// One reverse-mode rewrite: where, and the value before and after.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rewrite {
    /// Which message was rewritten.
    pub direction: RewriteDirection,
    /// What was rewritten, e.g. `header:location`, `body:$.resource`, `query:resource`.
    pub location: String,
    /// Value before the rewrite.
    pub from: String,
    /// Value after the rewrite.
    pub to: String,
}

impl Rewrite {
    /// The [`Rewrite::location`] of an entry recording that an authorization response will not
    /// come back through authtap (the reason is the entry's `to`).
    pub const CALLBACK_NOT_BOUNCED: &'static str = "authtap:callback-not-bounced";
}

impl Header {
    /// Record lines for a header map, in order, duplicates kept, values lossily decoded.
    pub fn lines(headers: &http::HeaderMap) -> Vec<Header> {
        headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect()
    }

    /// Builds a header line.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into().to_ascii_lowercase(),
            value: value.into(),
        }
    }
}

/// Header lookups shared by requests and responses.
pub trait Headers {
    /// All header lines.
    fn header_lines(&self) -> &[Header];

    /// First value of a header (case-insensitive name).
    fn header(&self, name: &str) -> Option<&str> {
        self.header_lines()
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every value of a header, in order.
    fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.header_lines()
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    fn media_type(&self) -> Option<String> {
        let ct = self.header("content-type")?;
        Some(
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        )
    }
}

impl Headers for RequestRecord {
    fn header_lines(&self) -> &[Header] {
        &self.headers
    }
}

impl Headers for ResponseRecord {
    fn header_lines(&self) -> &[Header] {
        &self.headers
    }
}

impl RequestRecord {
    /// The parsed URL, if it parses.
    pub fn parsed_url(&self) -> Option<url::Url> {
        url::Url::parse(&self.url).ok()
    }

    /// The body text, if captured as UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        self.body.as_ref()?.as_text()
    }
}

impl ResponseRecord {
    /// The body text, if captured as UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        self.body.as_ref()?.as_text()
    }
}
