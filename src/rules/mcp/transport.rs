//! MCP-* rules on the Streamable HTTP transport itself: Accept and body shapes, statuses, sessions, the protocol version header, where credentials go.

use serde_json::Value;

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::view::ExchangeView;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};
use crate::rules::util::*;

pub(super) const MCP: &[Phase] = &[Phase::McpTransport];
pub(super) const KNOWN_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// The request body parsed as JSON, when captured completely.
pub(super) fn rpc_body<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Value> {
    view.exchange()
        .request
        .body
        .as_ref()
        .filter(|b| !b.truncated)?;
    view.request_json()
}

pub(super) fn is_request(v: &Value) -> bool {
    v.get("method").is_some() && v.get("id").is_some_and(|i| !i.is_null())
}

pub(super) fn version<'a>(cx: &Cx<'a>, ex: &'a Exchange) -> Option<&'a str> {
    cx.protocol_version(ex)
}

pub(super) fn at_least(v: Option<&str>, min: &str) -> bool {
    v.is_some_and(|v| v >= min)
}

/// MCP-ACCEPT.
pub struct Accept;
impl Rule for Accept {
    const META: RuleMeta = meta!(
        "MCP-ACCEPT",
        Error,
        &[Client, Rs],
        "servers 406 (\"Client must accept both…\")",
        "MCP 2025-03-26 and later Transports \"Sending Messages\" 2; punkpeye/mcp-remote PR 243",
        "A POST without both JSON and SSE in Accept, or a 406 to a compliant Accept",
        "Clients: send `Accept: application/json, text/event-stream`. Servers: don't 406 a compliant Accept."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "POST" {
            return;
        }
        let a = qh(ex, "accept").unwrap_or("").to_ascii_lowercase();
        let both = a.contains("application/json") && a.contains("text/event-stream");
        if !both {
            out.push(
                &Self::META,
                format!("POST Accept: {}", qh(ex, "accept").unwrap_or("(none)")),
            )
            .who = vec![Client];
        } else if status(ex) == Some(406) {
            out.push(
                &Self::META,
                "406 to a POST that accepts both application/json and text/event-stream",
            )
            .who = vec![Rs];
        }
    }
}

/// MCP-GET-ACCEPT.
pub struct GetAccept;
impl Rule for GetAccept {
    const META: RuleMeta = meta!(
        "MCP-GET-ACCEPT",
        Error,
        &[Client],
        "—",
        "MCP 2025-11-25 Transports \"Listening\" 2",
        "A GET to the MCP URL without text/event-stream in Accept",
        "Send `Accept: text/event-stream` on the GET stream."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) == "GET" && !qh(ex, "accept").unwrap_or("").contains("text/event-stream") {
            out.push(
                &Self::META,
                format!("GET Accept: {}", qh(ex, "accept").unwrap_or("(none)")),
            );
        }
    }
}

/// MCP-BODY.
pub struct Body;
impl Rule for Body {
    const META: RuleMeta = meta!(
        "MCP-BODY",
        Error,
        &[Client],
        "—",
        "MCP 2025-11-25 Transports; JSON-RPC 2.0",
        "A POST that is not application/json JSON-RPC 2.0",
        "POST one JSON-RPC 2.0 message with Content-Type: application/json."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "POST"
            || ex
                .request
                .body
                .as_ref()
                .is_none_or(|b| b.truncated || b.text.is_none())
        {
            return;
        }
        let ct = qh(ex, "content-type").map(str::to_ascii_lowercase);
        let mut why = Vec::new();
        if !ct
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"))
        {
            why.push(format!(
                "Content-Type {}",
                ct.as_deref().unwrap_or("(none)")
            ));
        }
        match rpc_body(cx.view) {
            None => why.push("body is not JSON".into()),
            Some(Value::Array(_)) => {}
            Some(v) if v.get("jsonrpc").and_then(Value::as_str) != Some("2.0") => {
                why.push("no jsonrpc: \"2.0\"".into())
            }
            Some(_) => {}
        }
        if !why.is_empty() {
            out.push(&Self::META, why.join("; "));
        }
    }
}

/// MCP-BATCH.
pub struct Batch;
impl Rule for Batch {
    const META: RuleMeta = meta!(
        "MCP-BATCH",
        Error,
        &[Client],
        "servers reject (batching removed)",
        "MCP 2025-06-18 transports",
        "The POST body is a JSON-RPC batch (array)",
        "Send one JSON-RPC message per POST."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if rpc_body(cx.view).is_some_and(|v| v.is_array()) && version(cx, ex) != Some("2025-03-26")
        {
            out.push(&Self::META, "JSON-RPC batch in one POST");
        }
    }
}

/// MCP-RESP-CONTENT-TYPE.
pub struct RespContentType;
impl Rule for RespContentType {
    const META: RuleMeta = meta!(
        "MCP-RESP-CONTENT-TYPE",
        Error,
        &[Rs, Infra],
        "TS \"Unexpected content type\"; CAI",
        "MCP 2025-11-25 Transports \"Sending Messages\" 5",
        "A 2xx to a JSON-RPC request is neither application/json nor text/event-stream",
        "Answer requests with application/json or text/event-stream."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !rpc_body(cx.view).is_some_and(is_request) || !ok(ex) {
            return;
        }
        let m = media(ex).unwrap_or_default();
        if m != "application/json" && m != "text/event-stream" {
            out.push(
                &Self::META,
                format!(
                    "{} answered with Content-Type {}",
                    status(ex).unwrap_or(0),
                    if m.is_empty() { "(none)" } else { &m }
                ),
            );
        }
    }
}

/// MCP-NOTIFY-NOT-202.
pub struct NotifyNot202;
impl Rule for NotifyNot202 {
    const META: RuleMeta = meta!(
        "MCP-NOTIFY-NOT-202",
        Error,
        &[Rs],
        "some clients (TS tolerates a 200 without body)",
        "MCP 2025-11-25 Transports \"Sending Messages\" 4",
        "A notification/response POST answered with a non-202 2xx or a body",
        "Answer notifications and responses with 202 Accepted and no body."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(v) = rpc_body(cx.view).filter(|v| v.is_object() && !is_request(v)) else {
            return;
        };
        let _ = v;
        let st = status(ex).unwrap_or(0);
        let has_body = body(ex).is_some_and(|b| !b.trim().is_empty());
        if ok(ex) && (st != 202 || has_body) {
            out.push(
                &Self::META,
                format!(
                    "notification answered {st}{}",
                    if has_body { " with a body" } else { "" }
                ),
            );
        }
    }
}

/// MCP-GET-NOT-SSE-OR-405.
pub struct GetNotSseOr405;
impl Rule for GetNotSseOr405 {
    const META: RuleMeta = meta!(
        "MCP-GET-NOT-SSE-OR-405",
        Error,
        &[Rs],
        "TS raises errors after notifications/initialized",
        "MCP 2025-11-25 Transports \"Listening\" 3",
        "An authorized GET gets neither text/event-stream nor 405",
        "Answer GET with an SSE stream, or 405 Method Not Allowed."
    );
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "GET"
            || qh(ex, "authorization").is_none()
            || at_least(version(cx, ex), "2026-07-28")
        {
            return;
        }
        let Some(st) = status(ex) else { return };
        if matches!(st, 401 | 403 | 405)
            || (ok(ex) && media(ex).as_deref() == Some("text/event-stream"))
        {
            return;
        }
        out.push(
            &Self::META,
            format!("GET answered {st} {}", media(ex).unwrap_or_default()),
        );
    }
}

/// MCP-SESSION-ID-CHARS.
pub struct SessionIdChars;
impl Rule for SessionIdChars {
    const META: RuleMeta = meta!(
        "MCP-SESSION-ID-CHARS",
        Error,
        &[Rs],
        "header handling breaks",
        "MCP 2025-11-25 Transports \"Session Management\" 1; conformance server-session-id-visible-ascii",
        "Mcp-Session-Id has bytes outside 0x21–0x7E",
        "Use visible ASCII only (e.g. a UUID or base64url)."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(s) =
            rh(ex, "mcp-session-id").filter(|s| !s.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        {
            out.push(
                &Self::META,
                format!("Mcp-Session-Id {s:?} has characters outside 0x21–0x7E"),
            );
        }
    }
}

/// MCP-SESSION-CHANGED.
pub struct SessionChanged;
impl Rule for SessionChanged {
    const META: RuleMeta = meta!(
        "MCP-SESSION-CHANGED",
        Warning,
        &[Rs],
        "TS v1 silently adopts any id; v2 ignores it",
        "MCP 2025-11-25 Transports (issued at initialization time)",
        "A non-initialize response carries a different Mcp-Session-Id",
        "Only issue Mcp-Session-Id on the initialize response."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let init = rpc_body(cx.view)
            .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"));
        if let (false, Some(sent), Some(got)) =
            (init, qh(ex, "mcp-session-id"), rh(ex, "mcp-session-id"))
        {
            if sent != got {
                out.push(
                    &Self::META,
                    format!("request session {sent}, response session {got}"),
                );
            }
        }
    }
}

/// MCP-SESSION-EXPIRED-NOT-404.
pub struct SessionExpiredNot404;
impl Rule for SessionExpiredNot404 {
    const META: RuleMeta = meta!(
        "MCP-SESSION-EXPIRED-NOT-404",
        Error,
        &[Rs],
        "clients never re-initialize; the session \"dies\"",
        "MCP 2025-11-25 Transports \"Session Management\" 3; actionhero/keryx#503",
        "A terminated or unknown session id gets 400/200-with-error instead of 404",
        "Answer requests for unknown or terminated sessions with 404 so clients re-initialize."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(s), Some(f)) = (qh(ex, "mcp-session-id"), cx.flow) else {
            return;
        };
        let deleted = f
            .mcp
            .iter()
            .any(|m| m.method == "DELETE" && m.session_id.as_deref() == Some(s) && m.ok());
        let unknown = !f.sessions.is_empty() && !f.sessions.iter().any(|x| x == s);
        if !(deleted || unknown) || method(ex) == "DELETE" {
            return;
        }
        let st = status(ex).unwrap_or(0);
        let rpc_err = st == 200 && body(ex).is_some_and(|b| b.contains("\"error\""));
        if st == 400 || rpc_err {
            out.push(
                &Self::META,
                format!(
                    "{} session {s} answered {st}{} instead of 404",
                    if deleted { "terminated" } else { "unknown" },
                    if rpc_err {
                        " with a JSON-RPC error"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

/// MCP-INIT-NEEDS-SESSION.
pub struct InitNeedsSession;
impl Rule for InitNeedsSession {
    const META: RuleMeta = meta!(
        "MCP-INIT-NEEDS-SESSION",
        Error,
        &[Rs],
        "all",
        "MCP 2025-11-25 Transports (initialize creates the session)",
        "An initialize without a session id is refused with 400",
        "Accept initialize without Mcp-Session-Id and issue the session in its response."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let init = rpc_body(cx.view)
            .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"));
        if init
            && qh(ex, "mcp-session-id").is_none()
            && status(ex) == Some(400)
            && body(ex).is_some_and(|b| b.to_ascii_lowercase().contains("session"))
        {
            out.push(
                &Self::META,
                "initialize refused with 400 for lack of a session id",
            );
        }
    }
}

/// MCP-DELETE-STATUS.
pub struct DeleteStatus;
impl Rule for DeleteStatus {
    const META: RuleMeta = meta!(
        "MCP-DELETE-STATUS",
        Info,
        &[Rs],
        "—",
        "MCP 2025-11-25 Transports \"Session Management\" 5; conformance server-session-delete-accepted",
        "DELETE of a session gets something other than 2xx, 404 or 405",
        "Answer session DELETE with 204 (or 405 if clients may not end sessions)."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) == "DELETE" && qh(ex, "mcp-session-id").is_some() {
            if let Some(st) =
                status(ex).filter(|s| !(200..300).contains(s) && !matches!(s, 404 | 405))
            {
                out.push(&Self::META, format!("DELETE answered {st}"));
            }
        }
    }
}
