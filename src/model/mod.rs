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

pub mod exchange;
pub mod finding;
pub mod ids;
pub mod kinds;
pub mod rule_id;
#[cfg(test)]
pub mod testkit;

pub use exchange::{
    BodyCapture, Exchange, ExchangeError, Header, Headers, Outcome, RequestRecord, ResponseRecord,
    Rewrite, SseEvent, Timings,
};
pub use finding::{Finding, Phase, Severity, Who};
pub use ids::{ExchangeId, FlowId};
pub use kinds::{CaptureMode, ErrorKind, RewriteDirection};
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
