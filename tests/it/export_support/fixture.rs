//! A hand-made MCP OAuth trace (claude.ai-style connector against a DCR server) seeded with
//! canary secrets in every place redaction must cover. Shared by the exporters' unit tests
//! (through `#[path]`) and the `tests/it/export_*.rs` integration tests, so it builds records as
//! JSON lines and depends on no crate path.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

/// Canary values that must never appear in a redacted export.
pub const CANARIES: &[&str] = &[
    "CANARYclientSECRET77",
    "CANARYregACCESS55",
    "CANARYrcuTOKEN44",
    "CANARYstate0001",
    "CANARYchallenge0002",
    "CANARYcookie0003",
    "CANARYsetcookie0004",
    "CANARYpassword0005",
    "CANARYcsrf0006",
    "CANARYcode0007",
    "CANARYverifier0008",
    "CANARYbasicPW0009",
    "Y2xpZW50LWlkOkNBTkFSWWJhc2ljUFcwMDA5",
    "CANARYsigAT0123456789",
    "CANARYrefresh0010",
    "CANARYsigIDT0123456789",
    "CANARYsigSSE0123456789",
    "CANARYsigHTML0123456789",
    "CANARYsession0011",
    "CANARYapikey0012",
    "CANARYurlpass0013",
    "CANARYquerykey0014",
    "CANARYproxyauth0015",
    "CANARYnested0016",
    "CANARYbearerTEXT0017",
];

/// The JWT header used by the fixture (`{"alg":"RS256","typ":"JWT"}`).
pub const JWT_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
/// A JWT payload (`{"iss":"https://as.example.test","aud":"https://mcp.example.test/mcp","scope":"mcp"}`).
pub const JWT_PAYLOAD: &str = "eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUudGVzdCIsImF1ZCI6Imh0dHBzOi8vbWNwLmV4YW1wbGUudGVzdC9tY3AiLCJzY29wZSI6Im1jcCJ9";

/// The access token: a JWT whose signature is a canary.
pub fn access_token() -> String {
    format!("{JWT_HEADER}.{JWT_PAYLOAD}.CANARYsigAT0123456789")
}

/// A text that must come out of Markdown and HTML inert.
pub const INJECTION: &str = "<script>window.__pwned=1;document.title='PWNED'</script><img src=x onerror=\"window.__pwned=2\"></script>";

fn at(ms: i64) -> String {
    let base = time::macros::datetime!(2026-11-22 11:30:00 UTC);
    let t = base + time::Duration::milliseconds(ms);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn h(name: &str, value: &str) -> Value {
    json!({"name": name.to_ascii_lowercase(), "value": value})
}

fn body(text: &str) -> Value {
    json!({"wire_size": text.len(), "text": text})
}

#[allow(clippy::too_many_arguments)]
fn exchange(
    id: u64,
    start_ms: i64,
    phase: &str,
    method: &str,
    url: &str,
    req_headers: Vec<Value>,
    req_body: Option<&str>,
    response: Option<Value>,
) -> Value {
    let mut x = json!({
        "type": "exchange",
        "id": id,
        "started_at": at(start_ms),
        "timings": {"request_end_ms": 1.0, "upstream_connect_ms": 0.5, "first_byte_ms": 12.0, "end_ms": 15.5},
        "request": {"method": method, "url": url, "http_version": "HTTP/1.1", "headers": req_headers},
        "outcome": if response.is_some() { "complete" } else { "upstream_error" },
        "phase": phase,
        "flow": 1,
    });
    if let Some(b) = req_body {
        x["request"]["body"] = body(b);
    }
    if let Some(r) = response {
        x["response"] = r;
    }
    x
}

fn response(status: u16, headers: Vec<Value>, text: Option<&str>) -> Value {
    let mut r = json!({"status": status, "http_version": "HTTP/1.1", "headers": headers});
    if let Some(t) = text {
        r["body"] = body(t);
    }
    r
}

fn finding(
    rule: &str,
    severity: &str,
    phase: &str,
    who: &[&str],
    message: &str,
    exchange: u64,
) -> Value {
    json!({"rule": rule, "severity": severity, "phase": phase, "who": who, "message": message,
        "fix": "See the rule catalog.", "source": "RFC 7591 §3.2.1", "exchange": exchange, "flow": 1})
}

/// The trace as JSONL record values, in recording order.
pub fn canary_records() -> Vec<Value> {
    let mcp = "https://mcp.example.test/mcp";
    let redirect = "https://claude.ai/api/mcp/auth_callback";
    let at_jwt = access_token();
    let idt = format!("{JWT_HEADER}.{JWT_PAYLOAD}.CANARYsigIDT0123456789");
    let sse_jwt = format!("{JWT_HEADER}.{JWT_PAYLOAD}.CANARYsigSSE0123456789");
    let html_jwt = format!("{JWT_HEADER}.{JWT_PAYLOAD}.CANARYsigHTML0123456789");
    let authorize_url = format!(
        "https://as.example.test/authorize?response_type=code&client_id=client-id&redirect_uri={}&state=CANARYstate0001&code_challenge=CANARYchallenge0002&code_challenge_method=S256&resource={}",
        "https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback",
        "https%3A%2F%2Fmcp.example.test%2Fmcp"
    );
    let login_page = format!(
        "<html><body><h1>Sign in</h1>{INJECTION}<form method=post action=\"/login\"><input type=hidden name=state value=\"CANARYstate0001\"><input name=username></form><script>var t=\"{html_jwt}\";</script></body></html>"
    );
    let sse_text = format!(
        "event: message\nid: 1\ndata: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{\"protocolVersion\":\"2025-06-18\",\"debug\":\"{sse_jwt}\"}}}}\n\n"
    );
    let mut init = exchange(
        8,
        4000,
        "mcp-transport",
        "POST",
        mcp,
        vec![
            h("Authorization", &format!("Bearer {at_jwt}")),
            h("X-Api-Key", "CANARYapikey0012"),
            h("Content-Type", "application/json"),
            h("User-Agent", "Claude-User"),
        ],
        Some(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
        ),
        Some(response(
            200,
            vec![
                h("Content-Type", "text/event-stream"),
                h("Mcp-Session-Id", "CANARYsession0011"),
            ],
            Some(&sse_text),
        )),
    );
    init["response"]["sse_events"] = json!([{"at_ms": 13.0, "event": "message", "id": "1",
        "data": format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{\"protocolVersion\":\"2025-06-18\",\"debug\":\"{sse_jwt}\"}}}}")}]);
    let mut stream = exchange(
        9,
        4500,
        "mcp-transport",
        "GET",
        mcp,
        vec![
            h("Authorization", &format!("Bearer {at_jwt}")),
            h("Accept", "text/event-stream"),
            h("Mcp-Session-Id", "CANARYsession0011"),
        ],
        None,
        Some(response(
            200,
            vec![h("Content-Type", "text/event-stream")],
            Some(": ping\n\n"),
        )),
    );
    stream["outcome"] = json!("incomplete");
    stream["timings"] = json!({"request_end_ms": 0.2, "first_byte_ms": 3.0});
    let mut failed = exchange(
        10,
        5000,
        "other",
        "GET",
        "https://admin:CANARYurlpass0013@mcp.example.test/private?api_key=CANARYquerykey0014&page=2",
        vec![h("Proxy-Authorization", "Basic CANARYproxyauth0015")],
        None,
        None,
    );
    failed["error"] = json!({"kind": "connect", "message": "connection refused by 127.0.0.1:9"});
    failed["timings"] = json!({"request_end_ms": 0.1, "end_ms": 2.0});
    let mut first = exchange(
        1,
        0,
        "mcp-transport",
        "POST",
        mcp,
        vec![
            h("Content-Type", "application/json"),
            h("User-Agent", "python-httpx/0.27.0"),
        ],
        Some(r#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#),
        Some(response(
            401,
            vec![
                h(
                    "WWW-Authenticate",
                    "Bearer resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource\"",
                ),
                h("Content-Type", "application/json"),
            ],
            Some(r#"{"error":"unauthorized"}"#),
        )),
    );
    first["findings"] = json!([finding(
        "WWWAUTH-NO-SCOPE",
        "info",
        "mcp-transport",
        &["RS"],
        "401 challenge has no scope parameter",
        1
    )]);
    let mut registration = exchange(
        4,
        900,
        "registration",
        "POST",
        "https://as.example.test/register",
        vec![
            h("Content-Type", "application/json"),
            h("User-Agent", "python-httpx/0.27.0"),
        ],
        Some(&format!(
            r#"{{"client_name":"Claude","redirect_uris":["{redirect}"],"token_endpoint_auth_method":"client_secret_post"}}"#
        )),
        Some(response(
            201,
            vec![h("Content-Type", "application/json")],
            Some(
                r#"{"client_id":"client-id","client_secret":"CANARYclientSECRET77","client_secret_expires_at":1749600000.0,"registration_access_token":"CANARYregACCESS55","registration_client_uri":"https://as.example.test/register/client-id?token=CANARYrcuTOKEN44","extra":{"nested":{"password":"CANARYnested0016"}}}"#,
            ),
        )),
    );
    registration["findings"] = json!([finding(
        "DCR-FLOAT-EXPIRY",
        "error",
        "registration",
        &["AS"],
        "client_secret_expires_at is 1749600000.0, not an integer",
        4
    )]);
    let mut login = exchange(
        6,
        2500,
        "authorize",
        "POST",
        "https://as.example.test/login",
        vec![
            h("Content-Type", "application/x-www-form-urlencoded"),
            h("X-CSRF-Token", "CANARYcsrf0006"),
            h("Cookie", "as_session=CANARYcookie0003"),
        ],
        Some("username=alice&password=CANARYpassword0005&state=CANARYstate0001"),
        Some(response(
            302,
            vec![h(
                "Location",
                &format!("{redirect}?code=CANARYcode0007&state=CANARYstate0001"),
            )],
            None,
        )),
    );
    login["findings"] = json!([finding(
        "CB-ISS-MISSING",
        "warning",
        "callback",
        &["AS"],
        "callback for state CANARYstate0001 has no iss parameter",
        6
    )]);
    vec![
        json!({"type": "session", "schema": 1, "authtap_version": "0.1.0", "started_at": at(-500), "upstream": "https://mcp.example.test", "listen_url": "https://localhost:8443", "source": "proxy", "rewrite": true,
            "extra": {"command": "authtap proxy --upstream https://mcp.example.test", "client_secret": "CANARYclientSECRET77"}}),
        first,
        exchange(
            2,
            300,
            "discovery-prm",
            "GET",
            "https://mcp.example.test/.well-known/oauth-protected-resource",
            vec![h("MCP-Protocol-Version", "2025-06-18")],
            None,
            Some(response(
                200,
                vec![h("Content-Type", "application/json")],
                Some(
                    r#"{"resource":"https://mcp.example.test/mcp","authorization_servers":["https://as.example.test"]}"#,
                ),
            )),
        ),
        exchange(
            3,
            600,
            "discovery-as",
            "GET",
            "https://as.example.test/.well-known/oauth-authorization-server",
            vec![],
            None,
            Some(response(
                200,
                vec![h("Content-Type", "application/json")],
                Some(
                    r#"{"issuer":"https://as.example.test","authorization_endpoint":"https://as.example.test/authorize","token_endpoint":"https://as.example.test/token","registration_endpoint":"https://as.example.test/register","code_challenge_methods_supported":["S256"]}"#,
                ),
            )),
        ),
        registration,
        exchange(
            5,
            1500,
            "authorize",
            "GET",
            &authorize_url,
            vec![h("Cookie", "as_session=CANARYcookie0003; theme=dark")],
            None,
            Some(response(
                200,
                vec![
                    h("Content-Type", "text/html; charset=utf-8"),
                    h(
                        "Set-Cookie",
                        "as_session=CANARYsetcookie0004; Path=/; HttpOnly; Secure",
                    ),
                ],
                Some(&login_page),
            )),
        ),
        login,
        exchange(
            7,
            3000,
            "token",
            "POST",
            "https://as.example.test/token",
            vec![
                h("Content-Type", "application/x-www-form-urlencoded"),
                h(
                    "Authorization",
                    "Basic Y2xpZW50LWlkOkNBTkFSWWJhc2ljUFcwMDA5",
                ),
            ],
            Some(&format!(
                "grant_type=authorization_code&code=CANARYcode0007&code_verifier=CANARYverifier0008&redirect_uri={}&client_id=client-id&client_secret=CANARYclientSECRET77",
                "https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback"
            )),
            Some(response(
                200,
                vec![
                    h("Content-Type", "application/json"),
                    h("Cache-Control", "no-store"),
                ],
                Some(&format!(
                    r#"{{"access_token":"{at_jwt}","token_type":"Bearer","expires_in":3600,"refresh_token":"CANARYrefresh0010","id_token":"{idt}"}}"#
                )),
            )),
        ),
        init,
        json!({"type": "mark", "at": at(4200), "text": "ofid_a41b6f81 from the error card", "ofids": ["ofid_a41b6f81"]}),
        stream,
        failed,
        exchange(
            11,
            6000,
            "mcp-transport",
            "POST",
            mcp,
            vec![
                h("Authorization", &format!("Bearer {at_jwt}")),
                h("Content-Type", "application/json"),
                h("Mcp-Session-Id", "CANARYsession0011"),
            ],
            Some(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"debug"}}"#),
            Some(response(
                200,
                vec![h("Content-Type", "application/json")],
                Some(
                    r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"note\":\"copy Bearer CANARYbearerTEXT0017 here\",\"ref\":\"ofid_traffic9876\"}"}]}}"#,
                ),
            )),
        ),
        json!({"type": "flow_findings", "at": at(7000), "flow": 1,
            "findings": [finding("TOKEN-RESP-EXPIRES", "info", "token", &["AS"], "expires_in is 3600", 7)],
            "narrative": "PRM → ASM → DCR → authorize → callback → token → MCP initialize; the registration response had a float expiry."}),
        json!({"type": "stats", "at": at(7000), "exchanges": 11, "dropped": 0, "write_errors": 0}),
    ]
}

/// The trace as JSONL text.
pub fn canary_jsonl() -> String {
    canary_records().iter().map(|v| format!("{v}\n")).collect()
}
