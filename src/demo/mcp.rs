//! The MCP endpoint, Streamable HTTP: bearer validation with an RFC 9728 challenge, Origin
//! checks and CORS for every revision; for the `initialize`-based revisions (2025-03-26,
//! 2025-06-18, 2025-11-25) sessions, `initialize`, notifications (202), `ping`,
//! `logging/setLevel`, `tools/list`, `tools/call` (`echo` answers JSON, `countdown` streams SSE
//! events over time), the standalone GET stream and DELETE. Requests of the stateless
//! 2026-07-28 revision go to [`super::modern`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, header};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::Fault;
use super::cors::{self, Policy};
use super::http::{self as h, Body};
use super::metadata::{self, SCOPE};
use super::modern;
use super::rpc::{
    ToolCall, echo_result, header_str, parse_tool_call, result, rpc_error, sse_response, tools,
};
use super::state::{State, Urls, request_host};
use super::store::{self, Session};

/// Syslog severities of `logging/setLevel` (RFC 5424 §6.2.1), least severe first.
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Entry point for `/mcp` (and `/mcp/`).
pub async fn handle(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let trailing = req.uri().path() == "/mcp/";
    let redirect_fault = state.fault(Fault::McpTrailingSlashRedirect);
    if trailing && !redirect_fault {
        return h::json(StatusCode::NOT_FOUND, &json!({"error": "not_found"}));
    }
    let policy = Policy::Mcp {
        expose_www_authenticate: !state.fault(Fault::NoExposeWwwAuthenticate),
    };
    let headers = req.headers().clone();
    if let Some(origin) = cors::origin(&headers) {
        let allowed = cors::is_loopback_origin(origin)
            || state.config.allowed_origins.iter().any(|o| o == origin);
        if !allowed {
            return rpc_error(
                StatusCode::FORBIDDEN,
                Value::Null,
                -32600,
                "Forbidden: Origin not allowed",
            );
        }
    }
    if cors::is_preflight(req.method(), &headers) {
        return cors::preflight(policy, &headers);
    }
    let mut resp = dispatch(state, req, redirect_fault).await;
    cors::apply(policy, &headers, &mut resp);
    resp
}

async fn dispatch(
    state: &Arc<State>,
    req: Request<Incoming>,
    redirect_fault: bool,
) -> Response<Body> {
    if redirect_fault && req.uri().path() == "/mcp" {
        return h::redirect(
            StatusCode::TEMPORARY_REDIRECT,
            &format!("{}/mcp/", state.urls.mcp_origin),
        );
    }
    if state.fault(Fault::VercelCheckpointMcp) {
        let mut resp = h::html(
            StatusCode::TOO_MANY_REQUESTS,
            metadata::vercel_checkpoint_page(),
        );
        h::set(&mut resp, "x-vercel-mitigated", "challenge");
        h::set(&mut resp, "server", "Vercel");
        h::set(&mut resp, "cache-control", "private, no-store, max-age=0");
        return resp;
    }
    let reached = state.urls.as_reached(request_host(&req));
    if let Err(resp) = authenticate(state, &reached, req.headers()) {
        // Read the request body before answering, so the connection stays reusable: an
        // unread body makes hyper close it after the 401, and a client that already sent its
        // next request (the PRM fetch) on it sees "Server disconnected".
        let _ = h::read_body(req.into_body()).await;
        return *resp;
    }
    let sessions = state.config.revisions.legacy().next().is_some();
    match *req.method() {
        Method::POST => post(state, req).await,
        // 2026-07-28 Streamable HTTP "Backward Compatibility": no GET stream, no sessions.
        Method::GET | Method::DELETE if !sessions => {
            let mut resp = h::status(StatusCode::METHOD_NOT_ALLOWED);
            h::set(&mut resp, "allow", "POST, OPTIONS");
            resp
        }
        Method::GET => get(state, req.headers()),
        Method::DELETE => match session(state, req.headers(), None) {
            Ok((id, _)) => {
                state.store().sessions.remove(&id);
                h::status(StatusCode::NO_CONTENT)
            }
            Err(resp) => *resp,
        },
        _ => {
            let mut resp = h::status(StatusCode::METHOD_NOT_ALLOWED);
            h::set(&mut resp, "allow", "GET, POST, DELETE, OPTIONS");
            resp
        }
    }
}

fn challenge(state: &State, reached: &Urls, error: Option<&str>) -> Response<Body> {
    let mut resp = rpc_error(
        StatusCode::UNAUTHORIZED,
        Value::Null,
        -32001,
        "Unauthorized: a valid bearer token is required",
    );
    if !state.fault(Fault::NoWwwAuthenticate) {
        let mut value = String::from("Bearer ");
        if let Some(desc) = error {
            let desc = desc.replace(['"', '\\'], "'");
            value.push_str(&format!(
                "error=\"invalid_token\", error_description=\"{desc}\", "
            ));
        }
        value.push_str(&format!(
            "resource_metadata=\"{}\", scope=\"{SCOPE}\"",
            reached.prm_url
        ));
        h::set(&mut resp, "www-authenticate", &value);
    }
    resp
}

fn authenticate(
    state: &State,
    reached: &Urls,
    headers: &HeaderMap,
) -> Result<(), Box<Response<Body>>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Box::new(challenge(state, reached, None)));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Box::new(challenge(
            state,
            reached,
            Some("the Authorization header is not a Bearer token"),
        )));
    };
    state
        .signer
        .verify(
            token,
            &state.urls.self_issuer,
            &reached.mcp_url,
            h::now_secs(),
        )
        .map(|_| ())
        .map_err(|err| Box::new(challenge(state, reached, Some(&err.to_string()))))
}

/// Looks up the session of a request and checks `MCP-Protocol-Version` against it.
fn session(
    state: &State,
    headers: &HeaderMap,
    id: Option<&Value>,
) -> Result<(String, Session), Box<Response<Body>>> {
    let rpc_id = id.cloned().unwrap_or(Value::Null);
    let version = header_str(headers, "mcp-protocol-version");
    let legacy = |v: &str| state.config.revisions.legacy().any(|r| r.as_str() == v);
    if let Some(v) = version.filter(|v| !legacy(v)) {
        let msg = format!("Bad Request: unsupported MCP-Protocol-Version {v}");
        return Err(Box::new(rpc_error(
            StatusCode::BAD_REQUEST,
            rpc_id,
            -32600,
            &msg,
        )));
    }
    let Some(sid) = header_str(headers, "mcp-session-id") else {
        let msg = "Bad Request: Mcp-Session-Id header is required";
        return Err(Box::new(rpc_error(
            StatusCode::BAD_REQUEST,
            rpc_id,
            -32600,
            msg,
        )));
    };
    let Some(session) = state.store().sessions.get(sid).cloned() else {
        return Err(Box::new(rpc_error(
            StatusCode::NOT_FOUND,
            rpc_id,
            -32001,
            "Session not found",
        )));
    };
    if let Some(v) = version.filter(|v| *v != session.protocol_version) {
        let msg = format!(
            "Bad Request: MCP-Protocol-Version {v} differs from the negotiated {}",
            session.protocol_version
        );
        return Err(Box::new(rpc_error(
            StatusCode::BAD_REQUEST,
            rpc_id,
            -32600,
            &msg,
        )));
    }
    Ok((sid.to_string(), session))
}

fn accepts(headers: &HeaderMap, media: &str) -> bool {
    header_str(headers, "accept").is_some_and(|a| {
        a.split(',').any(|part| {
            let m = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            m == media || m == "*/*"
        })
    })
}

async fn post(state: &State, req: Request<Incoming>) -> Response<Body> {
    let headers = req.headers().clone();
    if !(accepts(&headers, "application/json") && accepts(&headers, "text/event-stream")) {
        let msg = "Not Acceptable: Accept must list application/json and text/event-stream";
        return rpc_error(StatusCode::NOT_ACCEPTABLE, Value::Null, -32600, msg);
    }
    let json_body = header_str(&headers, "content-type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
    if !json_body {
        let msg = "Unsupported Media Type: Content-Type must be application/json";
        return rpc_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Value::Null, -32600, msg);
    }
    let body = match h::read_body(req.into_body()).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let message = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Array(_)) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32600,
                "Invalid Request: batches are not supported",
            );
        }
        _ => return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, "Parse error"),
    };
    let id = message.get("id").cloned();
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string);
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0")
        || (method.is_none() && id.is_none())
    {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            id.unwrap_or(Value::Null),
            -32600,
            "Invalid Request",
        );
    }
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    if method.as_deref() == Some("initialize") {
        return initialize(state, id.unwrap_or(Value::Null), &params);
    }
    if modern::is_modern_request(state, &headers, &params) {
        return modern::post(
            state,
            &headers,
            id,
            method.as_deref().unwrap_or(""),
            &params,
        );
    }
    let (sid, session) = match session(state, &headers, id.as_ref()) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let (Some(id), Some(method)) = (id, method) else {
        // A notification or a response: accepted, no body.
        return h::status(StatusCode::ACCEPTED);
    };
    match method.as_str() {
        "ping" => result(id, json!({})),
        "logging/setLevel" => set_level(state, &sid, id, &params),
        "tools/list" => result(id, json!({"tools": tools()})),
        "tools/call" => call_tool(state, &sid, &session, id, &params),
        other => rpc_error(
            StatusCode::OK,
            id,
            -32601,
            &format!("Method not found: {other}"),
        ),
    }
}

fn initialize(state: &State, id: Value, params: &Value) -> Response<Body> {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let revisions = &state.config.revisions;
    let Some(newest) = revisions.legacy().next() else {
        // 2026-07-28 Versioning: a modern-only server names the versions it supports in any
        // error to `initialize`.
        return modern::unsupported_version(state, id, asked.unwrap_or(""));
    };
    let version = asked
        .and_then(|v| revisions.legacy().find(|r| r.as_str() == v))
        .unwrap_or(newest)
        .as_str();
    let sid = h::random_token(24);
    let session = Session {
        protocol_version: version.to_string(),
        next_event: 1,
        created: h::now_secs(),
        log_level: None,
    };
    store::insert_bounded(&mut state.store().sessions, sid.clone(), session);
    let mut resp = result(
        id,
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}, "logging": {}},
            "serverInfo": {"name": "authtap-demo", "title": "authtap demo MCP server", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Reference server of authtap. Tools: echo (JSON answer), countdown (SSE progress stream).",
        }),
    );
    h::set(&mut resp, "mcp-session-id", &sid);
    resp
}

/// `logging/setLevel`: the least severe level the session's `notifications/message` carry.
fn set_level(state: &State, sid: &str, id: Value, params: &Value) -> Response<Body> {
    let level = params.get("level").and_then(Value::as_str);
    let Some(rank) = level.and_then(|l| LOG_LEVELS.iter().position(|k| *k == l)) else {
        let msg = format!(
            "Invalid params: level must be one of {}",
            LOG_LEVELS.join(", ")
        );
        return rpc_error(StatusCode::OK, id, -32602, &msg);
    };
    if let Some(s) = state.store().sessions.get_mut(sid) {
        s.log_level = Some(rank);
    }
    result(id, json!({}))
}

/// Whether a session asked for messages of `level` (every level until it sets one).
fn logs(session: &Session, level: &str) -> bool {
    let rank = LOG_LEVELS.iter().position(|k| *k == level).unwrap_or(0);
    session.log_level.is_none_or(|min| rank >= min)
}

fn call_tool(
    state: &State,
    sid: &str,
    session: &Session,
    id: Value,
    params: &Value,
) -> Response<Body> {
    match parse_tool_call(params) {
        Ok(ToolCall::Echo(text)) => result(id, echo_result(&text)),
        Ok(ToolCall::Countdown {
            from,
            progress_token,
        }) => countdown(state, sid, session, id, from, progress_token),
        Err(msg) => rpc_error(StatusCode::OK, id, -32602, &msg),
    }
}

/// Reserves `n` event ids in a session (ids are unique per session).
fn reserve_ids(state: &State, sid: &str, n: u64) -> u64 {
    let mut store = state.store();
    match store.sessions.get_mut(sid) {
        Some(s) => {
            let first = s.next_event;
            s.next_event += n;
            first
        }
        None => 1,
    }
}

fn event(id: u64, data: &Value) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: message\ndata: {data}\n\n"))
}

/// 2025-11-25 priming event: an id and empty data, with a reconnection hint.
fn priming(id: u64) -> Bytes {
    Bytes::from(format!("id: {id}\nretry: 1000\ndata: \n\n"))
}

fn countdown(
    state: &State,
    sid: &str,
    session: &Session,
    id: Value,
    from: u64,
    token: Option<Value>,
) -> Response<Body> {
    let primes = session.protocol_version.as_str() >= "2025-11-25";
    let messages = logs(session, "info");
    let mut next = reserve_ids(state, sid, from + 2);
    let delay = state.config.sse_step_delay;
    let (tx, body) = h::channel_body();
    tokio::spawn(async move {
        if primes {
            if tx.send(priming(next)).await.is_err() {
                return;
            }
            next += 1;
        }
        for (step, remaining) in (1..=from).zip((1..=from).rev()) {
            let note = match &token {
                None if !messages => {
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Some(token) => {
                    json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                        "progressToken": token, "progress": step, "total": from, "message": format!("{remaining}…"),
                    }})
                }
                None => json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {
                    "level": "info", "logger": "countdown", "data": format!("{remaining}…"),
                }}),
            };
            if tx.send(event(next, &note)).await.is_err() {
                return;
            }
            next += 1;
            tokio::time::sleep(delay).await;
        }
        let done = json!({"jsonrpc": "2.0", "id": id, "result": {
            "content": [{"type": "text", "text": format!("Liftoff after {from} steps")}], "isError": false,
        }});
        let _ = tx.send(event(next, &done)).await;
    });
    sse_response(body)
}

fn get(state: &Arc<State>, headers: &HeaderMap) -> Response<Body> {
    if !accepts(headers, "text/event-stream") {
        let msg = "Not Acceptable: GET needs Accept: text/event-stream";
        return rpc_error(StatusCode::NOT_ACCEPTABLE, Value::Null, -32600, msg);
    }
    let (sid, session) = match session(state, headers, None) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let first = reserve_ids(state, &sid, 1);
    let primes = session.protocol_version.as_str() >= "2025-11-25";
    let (tx, body) = h::channel_body();
    let state = state.clone();
    tokio::spawn(async move {
        if primes && tx.send(priming(first)).await.is_err() {
            return;
        }
        // Nothing is pushed on this stream; comments keep intermediaries from timing it out.
        // It ends when the client goes away or the session is deleted.
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            let alive = state.store().sessions.contains_key(&sid);
            if !alive
                || tx
                    .send(Bytes::from_static(b": keepalive\n\n"))
                    .await
                    .is_err()
            {
                return;
            }
        }
    });
    sse_response(body)
}
