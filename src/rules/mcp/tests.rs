//! Firing and near-miss tests of the mcp rules.

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
