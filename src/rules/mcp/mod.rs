//! MCP-*: Streamable HTTP transport rules: Accept and body shape, response
//! content types, notifications, the GET stream, sessions, the protocol version header, tokens
//! in URLs, the Authorization scheme, Origin validation, legacy SSE fallback and 2026-07-28
//! mirror headers / statelessness. The challenge rules live in `www_auth`.

use serde_json::Value;

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &Accept,
    &GetAccept,
    &Body,
    &Batch,
    &RespContentType,
    &NotifyNot202,
    &GetNotSseOr405,
    &SessionIdChars,
    &SessionChanged,
    &SessionExpiredNot404,
    &InitNeedsSession,
    &DeleteStatus,
    &VersionHeaderMissing,
    &VersionNot400,
    &TokenInQuery,
    &AuthScheme,
    &OriginUnchecked,
    &SseFallbackStatus,
    &MirrorHeaders,
    &StatelessViolation,
];

const MCP: &[Phase] = &[Phase::McpTransport];
const KNOWN_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on MCP.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, MCP, $($rest)*)
    };
}

mod headers;
use headers::*;

/// The request body parsed as JSON, when captured completely.
fn rpc_body<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Value> {
    view.exchange()
        .request
        .body
        .as_ref()
        .filter(|b| !b.truncated)?;
    view.request_json()
}

fn is_request(v: &Value) -> bool {
    v.get("method").is_some() && v.get("id").is_some_and(|i| !i.is_null())
}

fn version<'a>(cx: &Cx<'a>, ex: &'a Exchange) -> Option<&'a str> {
    cx.protocol_version(ex)
}

fn at_least(v: Option<&str>, min: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    #[test]
    fn fires_on_accept() {
        let mut c = Clean::new();
        c.list = c
            .list
            .no_req_header("accept")
            .req_header("accept", "application/json");
        assert_fires("MCP-ACCEPT", c.steps());
    }
    #[test]
    fn quiet_on_accept() {
        assert_quiet("MCP-ACCEPT", Clean::new().steps());
    }
    #[test]
    fn fires_on_get_accept() {
        let mut s = Clean::new().steps();
        s.push(
            get(MCP)
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("mcp-session-id", "sess-1")
                .req_header("accept", "*/*")
                .at(9.0)
                .status(405),
        );
        assert_fires("MCP-GET-ACCEPT", s);
    }
    #[test]
    fn quiet_on_get_accept() {
        assert_quiet("MCP-GET-ACCEPT", Clean::new().steps());
    }
    #[test]
    fn fires_on_body() {
        let mut c = Clean::new();
        c.list = c.list.req_body(r#"{"id":2,"method":"tools/list"}"#);
        assert_fires("MCP-BODY", c.steps());
    }
    #[test]
    fn quiet_on_body() {
        assert_quiet("MCP-BODY", Clean::new().steps());
    }
    #[test]
    fn fires_on_batch() {
        let mut c = Clean::new();
        c.list = c
            .list
            .req_body(&format!("[{}]", rpc("tools/list", Some(2))));
        assert_fires("MCP-BATCH", c.steps());
    }
    #[test]
    fn quiet_on_batch() {
        assert_quiet("MCP-BATCH", Clean::new().steps());
    }
    #[test]
    fn fires_on_resp_content_type() {
        let mut c = Clean::new();
        c.list = c.list.resp_body("text/plain", "ok");
        assert_fires("MCP-RESP-CONTENT-TYPE", c.steps());
    }
    #[test]
    fn quiet_on_resp_content_type() {
        assert_quiet("MCP-RESP-CONTENT-TYPE", Clean::new().steps());
    }
    #[test]
    fn fires_on_notify_not_202() {
        let mut c = Clean::new();
        c.initialized = c.initialized.status(200).resp_json("{}");
        assert_fires("MCP-NOTIFY-NOT-202", c.steps());
    }
    #[test]
    fn quiet_on_notify_not_202() {
        assert_quiet("MCP-NOTIFY-NOT-202", Clean::new().steps());
    }
    #[test]
    fn fires_on_get_not_sse_or_405() {
        let mut s = Clean::new().steps();
        s.push(
            get(MCP)
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("accept", "text/event-stream")
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .status(404)
                .resp_json("{}"),
        );
        assert_fires("MCP-GET-NOT-SSE-OR-405", s);
    }
    #[test]
    fn quiet_on_get_not_sse_or_405() {
        let mut s = Clean::new().steps();
        s.push(
            get(MCP)
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("accept", "text/event-stream")
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .status(405),
        );
        assert_quiet("MCP-GET-NOT-SSE-OR-405", s);
    }
    #[test]
    fn fires_on_session_id_chars() {
        let mut c = Clean::new();
        c.init = c.init.set_resp_header("mcp-session-id", "sess 1");
        assert_fires("MCP-SESSION-ID-CHARS", c.steps());
    }
    #[test]
    fn quiet_on_session_id_chars() {
        assert_quiet("MCP-SESSION-ID-CHARS", Clean::new().steps());
    }
    #[test]
    fn fires_on_session_changed() {
        let mut c = Clean::new();
        c.list = c.list.resp_header("mcp-session-id", "sess-2");
        assert_fires("MCP-SESSION-CHANGED", c.steps());
    }
    #[test]
    fn quiet_on_session_changed() {
        assert_quiet("MCP-SESSION-CHANGED", Clean::new().steps());
    }
    #[test]
    fn fires_on_session_expired_not_404() {
        let mut s = Clean::new().steps();
        let c = Clean::new();
        s.push(
            req("DELETE", MCP)
                .req_header("mcp-session-id", "sess-1")
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .status(204),
        );
        s.push(
            c.list
                .at(10.0)
                .status(400)
                .resp_json(r#"{"error":"bad session"}"#),
        );
        assert_fires("MCP-SESSION-EXPIRED-NOT-404", s);
    }
    #[test]
    fn quiet_on_session_expired_not_404() {
        assert_quiet("MCP-SESSION-EXPIRED-NOT-404", Clean::new().steps());
    }
    #[test]
    fn fires_on_init_needs_session() {
        let mut c = Clean::new();
        c.init = c
            .init
            .status(400)
            .no_resp_header("mcp-session-id")
            .resp_json(r#"{"error":"No valid session ID provided"}"#);
        assert_fires("MCP-INIT-NEEDS-SESSION", c.steps());
    }
    #[test]
    fn quiet_on_init_needs_session() {
        assert_quiet("MCP-INIT-NEEDS-SESSION", Clean::new().steps());
    }
    #[test]
    fn fires_on_delete_status() {
        let mut s = Clean::new().steps();
        s.push(
            req("DELETE", MCP)
                .req_header("mcp-session-id", "sess-1")
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .status(500),
        );
        assert_fires("MCP-DELETE-STATUS", s);
    }
    #[test]
    fn quiet_on_delete_status() {
        assert_quiet("MCP-DELETE-STATUS", Clean::new().steps());
    }
    #[test]
    fn fires_on_version_header_missing() {
        let mut c = Clean::new();
        c.list = c.list.no_req_header("mcp-protocol-version");
        assert_fires("MCP-VERSION-HEADER-MISSING", c.steps());
    }
    #[test]
    fn quiet_on_version_header_missing() {
        assert_quiet("MCP-VERSION-HEADER-MISSING", Clean::new().steps());
    }
    #[test]
    fn fires_on_version_not_400() {
        let mut c = Clean::new();
        c.list = c
            .list
            .no_req_header("mcp-protocol-version")
            .req_header("mcp-protocol-version", "banana");
        assert_fires("MCP-VERSION-NOT-400", c.steps());
    }
    #[test]
    fn quiet_on_version_not_400() {
        assert_quiet("MCP-VERSION-NOT-400", Clean::new().steps());
    }
    #[test]
    fn fires_on_token_in_query() {
        let mut c = Clean::new();
        c.list = c.list.url(&format!("{MCP}?access_token=abc"));
        assert_fires("MCP-TOKEN-IN-QUERY", c.steps());
    }
    #[test]
    fn quiet_on_token_in_query() {
        assert_quiet("MCP-TOKEN-IN-QUERY", Clean::new().steps());
    }
    #[test]
    fn fires_on_auth_scheme() {
        let mut c = Clean::new();
        c.list = c
            .list
            .no_req_header("authorization")
            .req_header("authorization", &access_token());
        assert_fires("MCP-AUTH-SCHEME", c.steps());
    }
    #[test]
    fn quiet_on_auth_scheme() {
        assert_quiet("MCP-AUTH-SCHEME", Clean::new().steps());
    }
    #[test]
    fn fires_on_origin_unchecked() {
        let mut c = Clean::new();
        c.list = c
            .list
            .url("http://127.0.0.1:3000/mcp")
            .req_header("origin", "https://evil.example");
        assert_fires("MCP-ORIGIN-UNCHECKED", c.steps());
    }
    #[test]
    fn quiet_on_origin_unchecked() {
        assert_quiet("MCP-ORIGIN-UNCHECKED", Clean::new().steps());
    }
    #[test]
    fn fires_on_sse_fallback_status() {
        let legacy = get("https://mcp.example.com/sse")
            .req_header("accept", "text/event-stream")
            .sse(&[("/messages?sessionId=1", None)]);
        let init = post_json("https://mcp.example.com/sse", &rpc("initialize", Some(1)))
            .req_header("accept", "application/json, text/event-stream")
            .at(1.0)
            .status(500)
            .resp_json("{}");
        assert_fires("MCP-SSE-FALLBACK-STATUS", vec![legacy, init]);
    }
    #[test]
    fn quiet_on_sse_fallback_status() {
        assert_quiet("MCP-SSE-FALLBACK-STATUS", Clean::new().steps());
    }
    #[test]
    fn fires_on_mirror_headers() {
        let mut c = Clean::new();
        c.init = c
            .init
            .no_resp_header("mcp-session-id")
            .resp_json(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2026-07-28"}}"#);
        c.list = c
            .list
            .no_req_header("mcp-protocol-version")
            .req_header("mcp-protocol-version", "2026-07-28");
        assert_fires("MCP-MIRROR-HEADERS", c.steps());
    }
    #[test]
    fn quiet_on_mirror_headers() {
        assert_quiet("MCP-MIRROR-HEADERS", Clean::new().steps());
    }
    #[test]
    fn fires_on_stateless_violation() {
        let mut c = Clean::new();
        c.init = c
            .init
            .resp_json(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2026-07-28"}}"#);
        assert_fires("MCP-STATELESS-VIOLATION", c.steps());
    }
    #[test]
    fn quiet_on_stateless_violation() {
        assert_quiet("MCP-STATELESS-VIOLATION", Clean::new().steps());
    }
}
