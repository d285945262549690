//! SSE-*: server-sent event streams on the MCP URL: framing, a POST stream
//! that ends without its response, responses on the GET stream, duplicate event ids, priming
//! events, buffering, and the legacy `endpoint` event.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::flow::revision::Revision;
use crate::model::Phase;
use crate::model::Who::*;
use crate::model::{Exchange, Outcome, SseEvent};
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &Framing,
    &NoResponse,
    &ResponseOnGet,
    &DupEventId,
    &NoPriming,
    &Buffered,
    &LegacyEndpoint,
];

const MCP: &[Phase] = &[Phase::McpTransport];

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on MCP.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, MCP, $($rest)*)
    };
}

fn events(ex: &Exchange) -> &[SseEvent] {
    ex.response
        .as_ref()
        .map(|r| r.sse_events.as_slice())
        .unwrap_or(&[])
}

fn is_sse(ex: &Exchange) -> bool {
    media(ex).as_deref() == Some("text/event-stream")
}

fn is_endpoint(e: &SseEvent) -> bool {
    e.event.as_deref() == Some("endpoint")
}

fn request_id(view: &ExchangeView<'_>) -> Option<Value> {
    let v = view.request_json()?;
    v.get("method")?;
    v.get("id").filter(|i| !i.is_null()).cloned()
}

fn complete(ex: &Exchange) -> bool {
    ex.outcome == Outcome::Complete
        && ex
            .response
            .as_ref()
            .and_then(|r| r.body.as_ref())
            .is_none_or(|b| !b.truncated)
}

/// SSE-FRAMING.
pub struct Framing;
impl Rule for Framing {
    const META: RuleMeta = meta!(
        "SSE-FRAMING",
        Error,
        &[Rs],
        "client parsers",
        "HTML Living Standard \"Server-sent events\"; MCP 2025-11-25 Transports",
        "Malformed SSE: data that is not JSON, a BOM mid-stream, or SSE framing without text/event-stream",
        "Send `Content-Type: text/event-stream` and one JSON-RPC message per `data:` event, each ending in a blank line."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !is_sse(ex) {
            let b = body(ex).unwrap_or("");
            if ok(ex) && (b.starts_with("event:") || b.starts_with("data:")) {
                out.push(
                    &Self::META,
                    format!(
                        "SSE framing served as {}",
                        media(ex).unwrap_or_else(|| "(no Content-Type)".into())
                    ),
                );
            }
            return;
        }
        for (e, json) in events(ex).iter().zip(cx.view.sse_json()) {
            if e.data.trim().is_empty() || is_endpoint(e) {
                continue;
            }
            if e.data.contains('\u{feff}') {
                out.push(&Self::META, "byte-order mark inside the stream");
                return;
            }
            if json.is_none() {
                out.push(
                    &Self::META,
                    format!(
                        "event data is not JSON: {:?}",
                        e.data.chars().take(60).collect::<String>()
                    ),
                );
                return;
            }
        }
    }
}

/// SSE-NO-RESPONSE.
pub struct NoResponse;
impl Rule for NoResponse {
    const META: RuleMeta = meta!(
        "SSE-NO-RESPONSE",
        Warning,
        &[Rs],
        "the request hangs or fails",
        "MCP 2025-06-18 (SHOULD include the response); 2025-11-25 (polling with retry)",
        "A POST SSE stream closed without the JSON-RPC response to its request",
        "End each POST stream with the response whose id matches the request (or send retry: and support resumption)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "POST" || !is_sse(ex) || !complete(ex) {
            return;
        }
        let Some(id) = request_id(cx.view) else {
            return;
        };
        let evs = events(ex);
        let answered = cx.view.sse_json().iter().any(|v| {
            v.as_ref().is_some_and(|v| {
                v.get("id") == Some(&id) && (v.get("result").is_some() || v.get("error").is_some())
            })
        });
        if !answered && !evs.iter().any(|e| e.retry.is_some()) {
            out.push(
                &Self::META,
                format!(
                    "stream for request id {id} closed after {} event(s) without its response",
                    evs.len()
                ),
            );
        }
    }
}

/// SSE-RESPONSE-ON-GET.
pub struct ResponseOnGet;
impl Rule for ResponseOnGet {
    const META: RuleMeta = meta!(
        "SSE-RESPONSE-ON-GET",
        Error,
        &[Rs],
        "misrouted responses",
        "MCP 2025-11-25 Transports \"Listening\" 4 (MUST NOT)",
        "The standalone GET stream carries a JSON-RPC response",
        "Send responses on the POST that carried the request; the GET stream is for server requests and notifications."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "GET" || !is_sse(ex) || qh(ex, "last-event-id").is_some() {
            return;
        }
        let resp = events(ex)
            .iter()
            .zip(cx.view.sse_json())
            .find(|(_, v)| {
                v.as_ref().is_some_and(|v| {
                    v.get("method").is_none()
                        && (v.get("result").is_some() || v.get("error").is_some())
                })
            })
            .map(|(e, _)| e);
        if let Some(e) = resp {
            out.push(
                &Self::META,
                format!(
                    "GET stream carried a JSON-RPC response: {}",
                    e.data.chars().take(60).collect::<String>()
                ),
            );
        }
    }
}

/// SSE-DUP-EVENT-ID.
pub struct DupEventId;
impl Rule for DupEventId {
    const META: RuleMeta = meta!(
        "SSE-DUP-EVENT-ID",
        Error,
        &[Rs],
        "resumption replays the wrong data",
        "MCP 2025-11-25 Transports \"Resumability\" 1 (MUST be unique)",
        "An SSE event id repeats within a stream",
        "Make event ids unique per session (e.g. stream id + counter)."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let mut seen = BTreeSet::new();
        if let Some(d) = events(ex)
            .iter()
            .filter_map(|e| e.id.as_deref())
            .filter(|i| !i.is_empty())
            .find(|i| !seen.insert(*i))
        {
            out.push(&Self::META, format!("event id {d:?} repeats"));
        }
    }
}

/// SSE-NO-PRIMING.
pub struct NoPriming;
impl Rule for NoPriming {
    const META: RuleMeta = meta!(
        "SSE-NO-PRIMING",
        Info,
        &[Rs],
        "clients can't resume",
        "MCP 2025-11-25 \"Sending Messages\" 6; conformance server-sse-priming-event, server-sse-retry-field",
        "A POST SSE stream starts without an id + empty-data priming event",
        "Start POST streams with an event carrying an id and empty data (and send retry: before closing early)."
    );
    /// Priming events arrived in 2025-11-25; 2026-07-28 dropped resumability.
    const REVISIONS: Revisions =
        Revisions::since(Revision::R2025_11_25).not_in(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "POST"
            || !is_sse(ex)
            || cx.protocol_version(ex).is_none_or(|v| v < "2025-11-25")
        {
            return;
        }
        let first = events(ex).first();
        if first.is_some_and(|e| !(e.id.is_some() && e.data.trim().is_empty())) {
            out.push(
                &Self::META,
                "the first event is not an id + empty-data priming event",
            );
        }
    }
}

/// SSE-BUFFERED.
pub struct Buffered;
impl Rule for Buffered {
    const META: RuleMeta = meta!(
        "SSE-BUFFERED",
        Warning,
        &[Infra],
        "streaming stalls; tool timeouts",
        "MCP 2026-07-28 streamable HTTP (X-Accel-Buffering: no)",
        "An SSE response is compressed, has a Content-Length, or its events all arrive at the end",
        "Disable buffering and compression for text/event-stream (X-Accel-Buffering: no, no gzip on SSE)."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !is_sse(ex) {
            return;
        }
        if let Some(enc) =
            rh(ex, "content-encoding").filter(|e| !e.eq_ignore_ascii_case("identity"))
        {
            out.push(
                &Self::META,
                format!("SSE response with Content-Encoding {enc}"),
            );
            return;
        }
        let evs = events(ex);
        // A Content-Length means the whole stream was known before it was sent. For a POST
        // answered with a single event (the response) nothing was held back: the stream had
        // ended. It matters when several events (progress, notifications) or a GET stream
        // were delivered in one piece.
        if rh(ex, "content-length").is_some() && (evs.len() > 1 || method(ex) == "GET") {
            out.push(
                &Self::META,
                format!(
                    "SSE response of {} event(s) sent with Content-Length (buffered)",
                    evs.len()
                ),
            );
            return;
        }
        let (Some(first), Some(last), Some(end)) = (evs.first(), evs.last(), ex.timings.end_ms)
        else {
            return;
        };
        let first_byte = ex.timings.first_byte_ms.unwrap_or(0.0);
        if evs.len() >= 3
            && end - first_byte > 1000.0
            && last.at_ms - first.at_ms < 50.0
            && first.at_ms > end - 100.0
        {
            out.push(
                &Self::META,
                format!(
                    "{} events all arrived within the last 100 ms of a {:.1} s stream",
                    evs.len(),
                    (end - first_byte) / 1000.0
                ),
            );
        }
    }
}

/// SSE-LEGACY-ENDPOINT.
pub struct LegacyEndpoint;
impl Rule for LegacyEndpoint {
    const META: RuleMeta = meta!(
        "SSE-LEGACY-ENDPOINT",
        Error,
        &[Rs],
        "all legacy clients",
        "MCP 2024-11-05 transports (HTTP with SSE)",
        "A legacy GET /sse stream whose first event is not a usable `endpoint` event",
        "Send `event: endpoint` with the message URL (relative, or absolute on the public host) as the first event."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "GET" || !is_sse(ex) {
            return;
        }
        let legacy_path = cx.view.path().ends_with("/sse");
        let Some(first) = events(ex).first() else {
            return;
        };
        if is_endpoint(first) {
            let d = first.data.trim();
            let internal = d.contains("://")
                && urls::host(d).is_some_and(|h| urls::private_host_kind(&h).is_some())
                && urls::host(&ex.request.url)
                    .is_some_and(|h| urls::private_host_kind(&h).is_none());
            if d.is_empty()
                || !(d.starts_with('/') || d.contains("://") || d.starts_with('?'))
                || internal
            {
                out.push(
                    &Self::META,
                    format!("endpoint event data {d:?} is not a usable URI"),
                );
            }
        } else if legacy_path && events(ex).iter().all(|e| !is_endpoint(e)) {
            out.push(
                &Self::META,
                format!(
                    "legacy SSE stream's first event is {:?}, not `endpoint`",
                    first.event
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    fn list_sse(events: &[(&str, Option<&str>)]) -> Vec<B> {
        let mut c = Clean::new();
        c.list = c.list.sse(events);
        c.steps()
    }
    const RESP: &str = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#;

    #[test]
    fn fires_on_framing() {
        assert_fires("SSE-FRAMING", list_sse(&[("not json", Some("e1"))]));
    }
    #[test]
    fn quiet_on_framing() {
        assert_quiet("SSE-FRAMING", Clean::new().steps());
    }
    #[test]
    fn fires_on_no_response() {
        assert_fires(
            "SSE-NO-RESPONSE",
            list_sse(&[(
                r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
                Some("e1"),
            )]),
        );
    }
    #[test]
    fn quiet_on_no_response() {
        assert_quiet("SSE-NO-RESPONSE", Clean::new().steps());
    }
    #[test]
    fn fires_on_response_on_get() {
        let mut s = Clean::new().steps();
        s.push(
            get(MCP)
                .req_header("accept", "text/event-stream")
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .sse(&[(RESP, Some("g1"))]),
        );
        assert_fires("SSE-RESPONSE-ON-GET", s);
    }
    #[test]
    fn quiet_on_response_on_get() {
        assert_quiet("SSE-RESPONSE-ON-GET", Clean::new().steps());
    }
    #[test]
    fn fires_on_dup_event_id() {
        assert_fires(
            "SSE-DUP-EVENT-ID",
            list_sse(&[("", Some("e1")), (RESP, Some("e1"))]),
        );
    }
    #[test]
    fn quiet_on_dup_event_id() {
        assert_quiet(
            "SSE-DUP-EVENT-ID",
            list_sse(&[("", Some("e1")), (RESP, Some("e2"))]),
        );
    }
    #[test]
    fn fires_on_no_priming() {
        assert_fires("SSE-NO-PRIMING", Clean::new().steps());
    }
    #[test]
    fn quiet_on_no_priming() {
        assert_quiet(
            "SSE-NO-PRIMING",
            list_sse(&[("", Some("e0")), (RESP, Some("e1"))]),
        );
    }
    #[test]
    fn fires_on_buffered() {
        let mut c = Clean::new();
        c.list = c.list.resp_header("content-encoding", "gzip");
        assert_fires("SSE-BUFFERED", c.steps());
    }
    #[test]
    fn fires_on_buffered_events_with_content_length() {
        let mut c = Clean::new();
        c.list = c
            .list
            .sse(&[
                (
                    r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
                    None,
                ),
                (r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#, None),
            ])
            .resp_header("content-length", "180");
        let f = assert_fires("SSE-BUFFERED", c.steps());
        assert!(f.message.contains("2 event(s)"), "{}", f.message);
    }
    #[test]
    fn quiet_on_buffered() {
        assert_quiet("SSE-BUFFERED", Clean::new().steps());
        // The TS SDK's Node adapter sends a complete one-event answer with Content-Length.
        let mut c = Clean::new();
        c.list = c.list.resp_header("content-length", "64");
        assert_quiet("SSE-BUFFERED", c.steps());
    }
    #[test]
    fn fires_on_legacy_endpoint() {
        let s = vec![
            get("https://mcp.example.com/sse")
                .req_header("accept", "text/event-stream")
                .sse(&[(r#"{"jsonrpc":"2.0","method":"x"}"#, None)]),
        ];
        assert_fires("SSE-LEGACY-ENDPOINT", s);
    }
    #[test]
    fn quiet_on_legacy_endpoint() {
        let mut b = get("https://mcp.example.com/sse")
            .req_header("accept", "text/event-stream")
            .sse(&[("/messages?sessionId=1", None)]);
        if let Some(r) = b.0.response.as_mut() {
            r.sse_events[0].event = Some("endpoint".into());
        }
        assert_quiet("SSE-LEGACY-ENDPOINT", vec![b]);
    }
}
