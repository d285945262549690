//! What both protocol eras of the MCP endpoint answer with: JSON-RPC result and error
//! responses, SSE responses, the demo's tools and their `tools/call` parsing.

use http::{HeaderMap, Response, StatusCode, header};
use serde_json::{Value, json};

use super::http::{self as h, Body};

/// A JSON-RPC error response.
pub(super) fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response<Body> {
    h::json(
        status,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

/// A header's value, when it is visible ASCII.
pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A JSON-RPC result response.
pub(super) fn result(id: Value, result: Value) -> Response<Body> {
    h::json(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

/// The tools of the reference server.
pub(super) fn tools() -> Value {
    json!([
        {
            "name": "echo",
            "title": "Echo",
            "description": "Returns the given text.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        },
        {
            "name": "countdown",
            "title": "Countdown",
            "description": "Counts down from `from` (1-20), one progress notification per step, streamed as SSE.",
            "inputSchema": {"type": "object", "properties": {"from": {"type": "integer", "minimum": 1, "maximum": 20}}},
        },
    ])
}

/// A `tools/call` of the demo's tools, parsed once for every protocol revision.
pub(super) enum ToolCall {
    /// `echo {text}`.
    Echo(String),
    /// `countdown {from}` (1–20, default 3), with the request's progress token.
    Countdown {
        from: u64,
        progress_token: Option<Value>,
    },
}

/// Parses `tools/call` params; `Err` is the "Invalid params" message (-32602).
pub(super) fn parse_tool_call(params: &Value) -> Result<ToolCall, String> {
    let args = params.get("arguments").cloned().unwrap_or(json!({}));
    match params.get("name").and_then(Value::as_str) {
        Some("echo") => match args.get("text").and_then(Value::as_str) {
            Some(text) => Ok(ToolCall::Echo(text.to_string())),
            None => Err("Invalid params: echo needs a string `text`".into()),
        },
        Some("countdown") => Ok(ToolCall::Countdown {
            from: args
                .get("from")
                .and_then(Value::as_u64)
                .unwrap_or(3)
                .clamp(1, 20),
            progress_token: params
                .get("_meta")
                .and_then(|m| m.get("progressToken"))
                .cloned(),
        }),
        Some(other) => Err(format!("Unknown tool: {other}")),
        None => Err("Invalid params: name is required".into()),
    }
}

/// The result content of `echo`.
pub(super) fn echo_result(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

/// An SSE response around a streamed body.
pub(super) fn sse_response(body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    resp
}
