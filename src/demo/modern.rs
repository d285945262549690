//! The stateless 2026-07-28 revision of the MCP endpoint (MCP 2026-07-28 Streamable HTTP and
//! Versioning; SEP-2575, SEP-2243): every request carries its version in
//! `params._meta["io.modelcontextprotocol/protocolVersion"]` and the `MCP-Protocol-Version`,
//! `Mcp-Method` and `Mcp-Name` headers; a mismatch or a missing header is `400` with
//! `HeaderMismatch` (-32020), an unsupported version `400` with
//! `UnsupportedProtocolVersionError` (-32022) listing the supported ones, an unknown method
//! `404` with -32601. `server/discover`, `tools/list` and `tools/call` answer with
//! `resultType: "complete"` and the server's identity in `_meta`; no session is minted, no
//! SSE event carries an id, and `notifications/message` is sent only to a request that set
//! `io.modelcontextprotocol/logLevel`.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use super::http::{self as h, Body};
use super::revision::Revision;
use super::rpc::{
    ToolCall, echo_result, header_str, parse_tool_call, result, rpc_error, sse_response, tools,
};
use super::state::State;

/// `HeaderMismatch` (MCP 2026-07-28 Streamable HTTP "Server Validation").
pub const HEADER_MISMATCH: i64 = -32020;
/// `UnsupportedProtocolVersionError` (MCP 2026-07-28 Versioning).
pub const UNSUPPORTED_VERSION: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Methods whose `Mcp-Name` header is required, and the params member it mirrors.
const NAMED: [(&str, &str); 3] = [
    ("tools/call", "name"),
    ("resources/read", "uri"),
    ("prompts/get", "name"),
];

/// Whether a (non-`initialize`) POST belongs to the stateless revision: the server speaks it
/// and the request says so in its `MCP-Protocol-Version` header or its `_meta`.
pub fn is_modern_request(state: &State, headers: &HeaderMap, params: &Value) -> bool {
    let modern = |v: &str| Revision::from_version(v).is_some_and(Revision::is_modern);
    state.config.revisions.modern()
        && (header_str(headers, "mcp-protocol-version").is_some_and(modern)
            || params
                .get("_meta")
                .and_then(|m| m.get(META_VERSION))
                .is_some())
}

/// `400` with `UnsupportedProtocolVersionError` naming every version the server speaks.
pub fn unsupported_version(state: &State, id: Value, requested: &str) -> Response<Body> {
    h::json(
        StatusCode::BAD_REQUEST,
        &json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": UNSUPPORTED_VERSION,
            "message": format!("Unsupported protocol version: this server speaks {}", state.config.revisions),
            "data": {"supported": state.config.revisions.versions(), "requested": requested},
        }}),
    )
}

/// Decodes a header value that may use the `=?base64?…?=` sentinel.
fn decode_sentinel(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

/// Server validation of the mirrored headers; the reason when it fails.
fn validate(headers: &HeaderMap, method: &str, params: &Value) -> Result<String, String> {
    let header_version =
        header_str(headers, "mcp-protocol-version").ok_or("MCP-Protocol-Version is missing")?;
    let meta_version = params
        .get("_meta")
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str)
        .ok_or("params._meta lacks io.modelcontextprotocol/protocolVersion")?;
    if header_version != meta_version {
        return Err(format!(
            "MCP-Protocol-Version header value '{header_version}' does not match body value '{meta_version}'"
        ));
    }
    match header_str(headers, "mcp-method") {
        None => return Err("Mcp-Method is missing".into()),
        Some(m) if m != method => {
            return Err(format!(
                "Mcp-Method header value '{m}' does not match body value '{method}'"
            ));
        }
        Some(_) => {}
    }
    if let Some((_, member)) = NAMED.iter().find(|(m, _)| *m == method) {
        let body = params.get(*member).and_then(Value::as_str).unwrap_or("");
        let header = header_str(headers, "mcp-name")
            .ok_or_else(|| format!("Mcp-Name is missing (required for {method})"))?;
        let decoded = decode_sentinel(header).ok_or("Mcp-Name is not valid base64 UTF-8")?;
        if decoded != body {
            return Err(format!(
                "Mcp-Name header value '{decoded}' does not match body value '{body}'"
            ));
        }
    }
    Ok(meta_version.to_string())
}

/// A 2026-07-28 request (everything but `initialize`).
pub fn post(
    state: &State,
    headers: &HeaderMap,
    id: Option<Value>,
    method: &str,
    params: &Value,
) -> Response<Body> {
    let rpc_id = id.clone().unwrap_or(Value::Null);
    let version = match validate(headers, method, params) {
        Ok(v) => v,
        Err(why) => {
            let msg = format!("Header mismatch: {why}");
            return rpc_error(StatusCode::BAD_REQUEST, rpc_id, HEADER_MISMATCH, &msg);
        }
    };
    if !Revision::from_version(&version).is_some_and(Revision::is_modern) {
        return unsupported_version(state, rpc_id, &version);
    }
    let Some(id) = id else {
        // 2026-07-28 defines no client notifications over HTTP; accept and ignore.
        return h::status(StatusCode::ACCEPTED);
    };
    match method {
        "server/discover" => complete(
            id,
            json!({
                "supportedVersions": state.config.revisions.versions(),
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": server_info(),
                "instructions": "Reference server of authtap. Tools: echo (JSON answer), countdown (SSE progress stream).",
            }),
        ),
        "tools/list" => complete(
            id,
            json!({"tools": tools(), "ttlMs": 60_000, "cacheScope": "private"}),
        ),
        "tools/call" => call_tool(state, id, params),
        other => rpc_error(
            StatusCode::NOT_FOUND,
            id,
            -32601,
            &format!("Method not found: {other}"),
        ),
    }
}

fn server_info() -> Value {
    json!({"name": "authtap-demo", "title": "authtap demo MCP server", "version": env!("CARGO_PKG_VERSION")})
}

/// A result with `resultType: "complete"` and the server's identity in `_meta`.
fn complete_value(mut value: Value) -> Value {
    if let Some(obj) = value.as_object_mut() {
        obj.insert("resultType".into(), json!("complete"));
        obj.insert(
            "_meta".into(),
            json!({"io.modelcontextprotocol/serverInfo": server_info()}),
        );
    }
    value
}

fn complete(id: Value, value: Value) -> Response<Body> {
    result(id, complete_value(value))
}

fn call_tool(state: &State, id: Value, params: &Value) -> Response<Body> {
    match parse_tool_call(params) {
        Ok(ToolCall::Echo(text)) => complete(id, echo_result(&text)),
        Ok(ToolCall::Countdown {
            from,
            progress_token,
        }) => {
            let logs = params
                .get("_meta")
                .and_then(|m| m.get(META_LOG_LEVEL))
                .is_some();
            countdown(state.config.sse_step_delay, id, from, progress_token, logs)
        }
        Err(msg) => rpc_error(StatusCode::OK, id, -32602, &msg),
    }
}

/// SSE without event ids (2026-07-28 removed resumability).
fn event(data: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {data}\n\n"))
}

fn countdown(
    delay: Duration,
    id: Value,
    from: u64,
    token: Option<Value>,
    logs: bool,
) -> Response<Body> {
    let (tx, body) = h::channel_body();
    tokio::spawn(async move {
        for (step, remaining) in (1..=from).zip((1..=from).rev()) {
            let note = match &token {
                Some(token) => Some(
                    json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                        "progressToken": token, "progress": step, "total": from, "message": format!("{remaining}…"),
                    }}),
                ),
                None if logs => Some(
                    json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {
                        "level": "info", "logger": "countdown", "data": format!("{remaining}…"),
                    }}),
                ),
                None => None,
            };
            if let Some(note) = note {
                if tx.send(event(&note)).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(delay).await;
        }
        let done = json!({"jsonrpc": "2.0", "id": id, "result": complete_value(json!({
            "content": [{"type": "text", "text": format!("Liftoff after {from} steps")}], "isError": false,
        }))});
        let _ = tx.send(event(&done)).await;
    });
    sse_response(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn params(version: &str, name: &str) -> Value {
        json!({"name": name, "_meta": {META_VERSION: version}})
    }

    #[test]
    fn validates_mirrored_headers() {
        let ok = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ]);
        assert_eq!(
            validate(&ok, "tools/call", &params("2026-07-28", "echo")).as_deref(),
            Ok("2026-07-28")
        );
        // Base64 sentinel for Mcp-Name.
        let encoded = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?ZWNobw==?="),
        ]);
        assert!(validate(&encoded, "tools/call", &params("2026-07-28", "echo")).is_ok());
        // Each failure names what differs.
        let cases = [
            (
                vec![("mcp-method", "tools/call"), ("mcp-name", "echo")],
                "MCP-Protocol-Version is missing",
            ),
            (
                vec![("mcp-protocol-version", "2026-07-28"), ("mcp-name", "echo")],
                "Mcp-Method is missing",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/list"),
                ],
                "Mcp-Method header value 'tools/list'",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                ],
                "Mcp-Name is missing",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "countdown"),
                ],
                "Mcp-Name header value 'countdown'",
            ),
            (
                vec![
                    ("mcp-protocol-version", "2025-11-25"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "echo"),
                ],
                "does not match body value '2026-07-28'",
            ),
        ];
        for (pairs, why) in cases {
            let err = validate(
                &headers(&pairs),
                "tools/call",
                &params("2026-07-28", "echo"),
            )
            .unwrap_err();
            assert!(err.contains(why), "{err} lacks {why}");
        }
        // Mcp-Name is not required for tools/list.
        let list = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ]);
        assert!(
            validate(
                &list,
                "tools/list",
                &json!({"_meta": {META_VERSION: "2026-07-28"}})
            )
            .is_ok()
        );
    }

    #[test]
    fn results_are_complete_and_signed_by_the_server() {
        let v = complete_value(json!({"tools": []}));
        assert_eq!(v["resultType"], "complete");
        assert_eq!(
            v["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "authtap-demo"
        );
    }
}
