//! The trace record format: one JSON object per line, versioned apart from the crate.
//!
//! Every later stage (flow state, rules, exporters, `authtap lint`) consumes these types and
//! nothing else, so a trace written by one version of authtap can be re-linted by another.
//!
//! A trace file is a sequence of [`Record`]s, one per line, tagged by `"type"`:
//!
//! ```text
//! {"type":"session","schema":1,"authtap_version":"0.1.0","started_at":"2026-11-22T11:30:00.123Z",...}
//! {"type":"exchange","id":1,"started_at":"...","request":{...},"response":{...},"findings":[...]}
//! {"type":"mark","at":"...","text":"ofid_a41b6f81","ofids":["ofid_a41b6f81"]}
//! {"type":"tls_handshake","at":"...","client_addr":"127.0.0.1:50412","sni":"localhost","kind":"alert_received","alert":"unknown_ca",...}
//! {"type":"flow_findings","at":"...","flow":1,"findings":[...]}
//! {"type":"stats","at":"...","exchanges":12,"dropped":0,"write_errors":0}
//! ```
//!
//! Values in an [`Exchange`] are what crossed the wire **on the upstream side**: the request as
//! the upstream received it (after any reverse-mode rewrite back to upstream values) and the
//! response as the upstream sent it (before any rewrite towards the client). What the client
//! saw instead is listed in [`Exchange::rewrites`]. Rules therefore always judge what the
//! upstream actually sent.
//!
//! The raw trace holds live credentials; only exports are redacted.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub mod finding;
pub mod kinds;
pub mod rule_id;

pub use finding::{Finding, Phase, Severity, Who};
pub use kinds::{ErrorKind, RewriteDirection};
pub use rule_id::RuleId;

/// Version of the record schema. Bump it when a field changes meaning or is removed; adding
/// an optional field does not need a bump.
pub const SCHEMA_VERSION: u32 = 1;

/// One line of a trace file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// First line of every trace.
    Session(SessionRecord),
    /// One request and its response or error, written when it completes.
    Exchange(Box<Exchange>),
    /// Cross-request findings that belong to a flow rather than one exchange.
    FlowFindings(FlowFindings),
    /// A timestamped note: an `ofid_…` typed by the user, or any other line.
    Mark(Mark),
    /// Recorder counters, written at shutdown (and whenever loss occurs).
    Stats(Stats),
    /// A TLS handshake that failed before any request: the client never got through.
    TlsHandshake(TlsHandshakeFailure),
    /// A forward-mode tunnel passed through blind (not decrypted): who, where, how much.
    Tunnel(TunnelRecord),
}

/// Which kind of proxy (or authtap's own client) captured a trace or an exchange.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// `authtap proxy --upstream`: clients connect to authtap as if it were the server.
    #[default]
    Reverse,
    /// `authtap proxy --forward` and `authtap run`: clients use authtap as their HTTP proxy;
    /// nothing is rewritten.
    Forward,
    /// `authtap check`: authtap's own client made the requests; no proxy in between.
    Client,
}

impl CaptureMode {
    /// Whether this is reverse mode (the default, omitted from the session line).
    pub fn is_reverse(&self) -> bool {
        matches!(self, CaptureMode::Reverse)
    }

    /// The serialized name: `reverse`, `forward`, `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::Reverse => "reverse",
            CaptureMode::Forward => "forward",
            CaptureMode::Client => "client",
        }
    }

    /// How the exports describe it.
    pub fn describe(self) -> &'static str {
        match self {
            CaptureMode::Reverse => "reverse proxy",
            CaptureMode::Forward => "forward proxy, nothing rewritten",
            CaptureMode::Client => "authtap's own client, no proxy",
        }
    }
}

/// A `CONNECT` tunnel (or plain-HTTP request) that forward mode passed through without reading
/// it: the host was outside the interception set. No content is recorded, only its shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TunnelRecord {
    /// When the tunnel was requested.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Client socket address.
    pub client_addr: String,
    /// The host the client asked for.
    pub host: String,
    /// The port the client asked for.
    pub port: u16,
    /// Bytes the client sent through the tunnel.
    pub bytes_up: u64,
    /// Bytes the server sent back through the tunnel.
    pub bytes_down: u64,
    /// How long the tunnel was open, in milliseconds.
    pub duration_ms: f64,
    /// Why the tunnel failed or ended abnormally (connect refused, reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The session header: who recorded this trace, where, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    /// `CARGO_PKG_VERSION` of the writer.
    pub authtap_version: String,
    /// When recording started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The upstream base URL (`--upstream`), or a description for non-proxy sources.
    pub upstream: String,
    /// The URL clients are told to use (`https://localhost:8443` or `--public-url`).
    pub listen_url: String,
    /// What produced the trace: `proxy`, `demo`, `check`, `har-import`.
    #[serde(default)]
    pub source: String,
    /// Whether reverse-mode rewriting was on.
    #[serde(default)]
    pub rewrite: bool,
    /// Which kind of proxy captured the trace's exchanges (absent in older traces: reverse).
    #[serde(default, skip_serializing_if = "CaptureMode::is_reverse")]
    pub mode: CaptureMode,
    /// Free-form extra facts (client profile, faults, command line).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Sequential id of an exchange within one trace (1-based).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct ExchangeId(pub u64);

/// Id of a correlated OAuth/MCP flow within one trace (1-based).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct FlowId(pub u64);

impl std::fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl std::fmt::Display for FlowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "flow {}", self.0)
    }
}

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
    pub phase: Option<crate::model::Phase>,
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

/// Cross-request findings for a flow, emitted when the flow advances or times out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowFindings {
    /// When the findings were produced.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The flow they concern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowId>,
    /// The findings.
    pub findings: Vec<Finding>,
    /// A short narrative of the flow, when emitted at flow end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
}

/// A user mark: a line typed while recording, usually an `ofid_…` from an error card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    /// When it was typed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The line as typed.
    pub text: String,
    /// `ofid_…` references found in `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ofids: Vec<String>,
}

/// A TLS handshake that ended before the first request (no exchange exists for it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TlsHandshakeFailure {
    /// When the connection was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Client socket address.
    pub client_addr: String,
    /// The server name the client asked for (TLS SNI); absent when it connected to an IP
    /// literal (clients send no SNI then, RFC 6066 §3) or never sent a `ClientHello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// How the handshake ended.
    pub kind: TlsFailureKind,
    /// The TLS alert, by its RFC 8446 §6 name (`unknown_ca`, `bad_certificate`…), when one
    /// was received (or sent, for [`TlsFailureKind::Refused`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// One sentence for a human: what happened.
    pub message: String,
    /// What to do about it, for this client.
    pub advice: String,
}

/// How a failed TLS handshake ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsFailureKind {
    /// The client sent a fatal alert: it rejected authtap's certificate (or its parameters).
    AlertReceived,
    /// The client closed the connection mid-handshake without an alert (some clients do this
    /// instead of sending `unknown_ca`).
    ClientClosed,
    /// The handshake completed for a server name the certificate does not cover, and the client
    /// closed without a request: clients that check the name after the handshake (Node, curl)
    /// reject the certificate this way.
    ClosedAfterHandshake,
    /// authtap refused the `ClientHello` (no common protocol version, cipher or ALPN).
    Refused,
    /// The client sent plain HTTP to the TLS port.
    PlainHttp,
    /// The handshake did not finish in time.
    Timeout,
}

/// Recorder counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// When the counters were read.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Exchange records written.
    pub exchanges: u64,
    /// Records dropped because the writer fell behind.
    pub dropped: u64,
    /// Records lost to write errors.
    pub write_errors: u64,
    /// Exchange records among those lost to write errors.
    #[serde(default)]
    pub lost_exchanges: u64,
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

/// Finds every `ofid_…` reference in a text (letters, digits, `_`, `-` after the prefix).
pub fn find_ofids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("ofid_") {
        let tail = &rest[pos + 5..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        if len >= 4 {
            let id = format!("ofid_{}", &tail[..len]);
            if !out.contains(&id) {
                out.push(id);
            }
        }
        rest = &tail[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exchange_line() {
        let ex = Exchange {
            id: ExchangeId(1),
            started_at: OffsetDateTime::UNIX_EPOCH,
            timings: Timings {
                end_ms: Some(1.5),
                ..Default::default()
            },
            client_addr: None,
            request: RequestRecord {
                method: "POST".into(),
                url: "https://up.example/mcp".into(),
                client_url: None,
                http_version: "HTTP/1.1".into(),
                headers: vec![Header::new("Content-Type", "application/json")],
                body: Some(BodyCapture {
                    wire_size: 2,
                    text: Some("{}".into()),
                    ..Default::default()
                }),
            },
            response: None,
            outcome: Outcome::UpstreamError,
            error: Some(ExchangeError {
                kind: ErrorKind::Connect,
                message: "refused".into(),
            }),
            rewrites: vec![],
            phase: None,
            flow: None,
            findings: vec![],
            ofids: vec![],
            mode: CaptureMode::Forward,
        };
        let line = serde_json::to_string(&Record::Exchange(Box::new(ex.clone()))).unwrap();
        assert!(line.starts_with("{\"type\":\"exchange\""));
        assert!(line.contains("\"mode\":\"forward\""), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Record::Exchange(Box::new(ex.clone())));
        // A line from before exchanges carried their mode loads as reverse, the only mode then.
        let old = line.replace(",\"mode\":\"forward\"", "");
        assert!(!old.contains("\"mode\""), "{old}");
        let Record::Exchange(back) = serde_json::from_str::<Record>(&old).unwrap() else {
            panic!("not an exchange: {old}");
        };
        assert_eq!(back.mode, CaptureMode::Reverse);
    }

    #[test]
    fn finds_ofids_in_text() {
        assert_eq!(
            find_ofids("error ofid_a41b6f81, see also ofid_9f2c-x."),
            vec!["ofid_a41b6f81".to_string(), "ofid_9f2c-x".to_string()]
        );
        assert!(find_ofids("ofid_ short").is_empty());
    }
}
