//! MCP-RPC-*: what the JSON-RPC layer answers once the request got past authentication. A 200
//! that carries a JSON-RPC error is not a success: the client got an error (the MCP Inspector
//! exits on `Method not found: logging/setLevel` from a server that declared `logging`).
//! Errors are read from a JSON body or from the SSE event that answers the request. The
//! 2026-07-28 message metadata rules are in `modern_meta`, which reuses the readers here.

use serde_json::{Map, Value};

use crate::flow::Flow;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::view::ExchangeView;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &MethodNotFound,
    &HeaderMismatch,
    &UnsupportedVersion,
    &RpcError,
    &ErrorStatus,
];

const MCP: &[Phase] = &[Phase::McpTransport];

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on MCP.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, MCP, $($rest)*)
    };
}

/// The first stateless revision.
const MODERN: &str = "2026-07-28";
/// `HeaderMismatch` (MCP 2026-07-28).
const HEADER_MISMATCH: i64 = -32020;
/// `UnsupportedProtocolVersionError` (MCP 2026-07-28).
const UNSUPPORTED_VERSION: i64 = -32022;

/// A JSON-RPC request in the POST body: its id and method (notifications have no id).
pub(super) fn request(view: &ExchangeView<'_>) -> Option<(Value, String)> {
    let v = req_json_obj(view)?;
    let id = v.get("id").filter(|id| !id.is_null())?.clone();
    let method = v.get("method")?.as_str()?.to_string();
    Some((id, method))
}

/// The JSON-RPC response to the request `id`: the JSON body, or the SSE event carrying it.
pub(super) fn answer(view: &ExchangeView<'_>, id: &Value) -> Option<Map<String, Value>> {
    let is_answer = |m: &Map<String, Value>| {
        m.get("id") == Some(id) && (m.contains_key("result") || m.contains_key("error"))
    };
    if let Some(m) = json_obj(view).filter(|m| is_answer(m)) {
        return Some(m.clone());
    }
    view.sse_json()
        .iter()
        .find_map(|v| v.as_ref()?.as_object().filter(|m| is_answer(m)).cloned())
}

/// A JSON-RPC error: code and message.
struct RpcErr {
    code: i64,
    message: String,
}

/// The JSON-RPC error answering a request that got past authentication (not a 401/403),
/// with the request's method.
fn rpc_error(view: &ExchangeView<'_>) -> Option<(String, RpcErr)> {
    if matches!(view.status(), Some(401 | 403) | None) {
        return None;
    }
    let (id, method) = request(view)?;
    let err = answer(view, &id)?.get("error")?.as_object()?.clone();
    let code = err.get("code")?.as_i64()?;
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((method, RpcErr { code, message }))
}

/// [`rpc_error`] for a request that carried credentials: the server authenticated it.
fn error_after_auth(view: &ExchangeView<'_>) -> Option<(String, RpcErr)> {
    qh(view.exchange(), "authorization").and_then(|_| rpc_error(view))
}

/// The capability a method belongs to, when the server must implement it once declared.
fn capability_of(method: &str) -> Option<&'static str> {
    Some(match method {
        "logging/setLevel" => "logging",
        "tools/list" | "tools/call" => "tools",
        "prompts/list" | "prompts/get" => "prompts",
        "resources/list" | "resources/read" | "resources/templates/list" => "resources",
        "resources/subscribe" | "resources/unsubscribe" => "resources.subscribe",
        "completion/complete" => "completions",
        _ => return None,
    })
}

/// Whether the server declared `capability` (`resources.subscribe`: the sub-flag).
fn declared(flow: &Flow, capability: &str) -> bool {
    let Some(caps) = flow.server_capabilities.as_ref() else {
        return false;
    };
    match capability.split_once('.') {
        Some((cap, flag)) => caps
            .get(cap)
            .and_then(|c| c.get(flag))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        None => caps.get(capability).is_some_and(Value::is_object),
    }
}

/// MCP-RPC-METHOD-NOT-FOUND.
pub struct MethodNotFound;
impl Rule for MethodNotFound {
    const META: RuleMeta = meta!(
        "MCP-RPC-METHOD-NOT-FOUND",
        Error,
        &[Rs],
        "Inspector (exits on `Method not found: logging/setLevel`); any client that uses a declared capability",
        "MCP 2025-11-25 Lifecycle \"Capability Negotiation\"; MCP 2025-11-25 Server Utilities \"Logging\"; conformance logging-set-level",
        "An authenticated request for a capability the server declared is answered -32601 Method not found",
        "Implement every method of each capability you declare (e.g. logging/setLevel for `logging`), or stop declaring the capability."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some((method, err)) = error_after_auth(cx.view) else {
            return;
        };
        let Some(cap) = capability_of(&method) else {
            return;
        };
        if err.code == -32601 && cx.flow.is_some_and(|f| declared(f, cap)) {
            out.push(
                &Self::META,
                format!(
                    "{method} answered -32601 \"{}\" although the server declared the `{cap}` capability",
                    err.message
                ),
            );
        }
    }
}

/// MCP-RPC-HEADER-MISMATCH.
pub struct HeaderMismatch;
impl Rule for HeaderMismatch {
    const META: RuleMeta = meta!(
        "MCP-RPC-HEADER-MISMATCH",
        Error,
        &[Client, Rs],
        "every request of the client fails with 400",
        "MCP 2026-07-28 Streamable HTTP \"Server Validation\" (HeaderMismatch -32020); SEP-2243 (modelcontextprotocol/modelcontextprotocol#2243); conformance sep-2243-client-includes-standard-headers",
        "The server rejects a request with -32020 HeaderMismatch (a client without 2026-07-28 headers, or a server that compares wrongly)",
        "Client: send MCP-Protocol-Version, Mcp-Method and Mcp-Name (Base64 sentinel for non-ASCII) equal to the body. Server: compare after decoding, names case-sensitively."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some((method, err)) = rpc_error(cx.view).filter(|(_, e)| e.code == HEADER_MISMATCH) {
            let sent = ["mcp-protocol-version", "mcp-method", "mcp-name"]
                .iter()
                .map(|h| format!("{h}: {}", qh(ex, h).unwrap_or("(none)")))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                &Self::META,
                format!("{method} rejected -32020 \"{}\" (sent {sent})", err.message),
            );
        }
    }
}

/// MCP-RPC-UNSUPPORTED-VERSION.
pub struct UnsupportedVersion;
impl Rule for UnsupportedVersion {
    const META: RuleMeta = meta!(
        "MCP-RPC-UNSUPPORTED-VERSION",
        Warning,
        &[Client, Rs],
        "a client that does not retry with a listed version stops here",
        "MCP 2026-07-28 Versioning \"Protocol Version Negotiation\" (UnsupportedProtocolVersionError -32022); SEP-2575 (modelcontextprotocol/modelcontextprotocol#2575); conformance sep-2575-client-retry-supported-version",
        "A request is rejected with -32022 UnsupportedProtocolVersionError",
        "Client: retry with a version from error.data.supported. Server: support the revisions your clients use (at least one they speak)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some((method, err)) = rpc_error(cx.view).filter(|(_, e)| e.code == UNSUPPORTED_VERSION)
        else {
            return;
        };
        out.push(
            &Self::META,
            format!(
                "{method} with MCP-Protocol-Version {} rejected -32022 \"{}\"",
                qh(ex, "mcp-protocol-version").unwrap_or("(none)"),
                err.message
            ),
        );
    }
}

/// MCP-RPC-ERROR.
pub struct RpcError;
impl Rule for RpcError {
    const META: RuleMeta = meta!(
        "MCP-RPC-ERROR",
        Warning,
        &[Rs, Client],
        "the client's call fails although authentication succeeded",
        "JSON-RPC 2.0 §5.1; MCP 2025-11-25 Basic \"Responses\"; MCP 2026-07-28 Basic \"Error Codes\"",
        "An authenticated request gets a protocol-level JSON-RPC error (parse, invalid request, internal, session or other server error)",
        "Read the error's message: a session error means re-initialize (or fix session affinity), an invalid request means the client's message is malformed, an internal error is the server's bug."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some((method, err)) = error_after_auth(cx.view) else {
            return;
        };
        // -32601/-32602 are answers about the method or its arguments (method-not-found for a
        // declared capability has its own rule); -32020/-32022 have their own rules.
        let protocol_level = matches!(err.code, -32700 | -32600 | -32603)
            || ((-32099..=-32000).contains(&err.code)
                && err.code != HEADER_MISMATCH
                && err.code != UNSUPPORTED_VERSION);
        if protocol_level {
            out.push(
                &Self::META,
                format!(
                    "{method} answered HTTP {} with JSON-RPC error {} \"{}\"",
                    status(ex).unwrap_or(0),
                    err.code,
                    err.message
                ),
            );
        }
    }
}

/// MCP-RPC-ERROR-STATUS.
pub struct ErrorStatus;
impl Rule for ErrorStatus {
    const META: RuleMeta = meta!(
        "MCP-RPC-ERROR-STATUS",
        Warning,
        &[Rs],
        "dual-era clients take a 2026-07-28 error for a legacy server and fall back (or the reverse)",
        "MCP 2026-07-28 Streamable HTTP \"Protocol Version Header\" (404 + -32601; 400 + UnsupportedProtocolVersionError) and \"Server Validation\" (400 + -32020), \"Backward Compatibility\"",
        "[07-28] -32601 without 404, or -32020/-32022 without 400",
        "On the 2026-07-28 wire answer an unknown method with 404 and -32601, and a header mismatch or an unsupported version with 400 and -32020/-32022: clients tell eras apart by these pairs."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if modern_request(cx.view).is_none() {
            return;
        }
        let Some((method, err)) = rpc_error(cx.view) else {
            return;
        };
        let want = match err.code {
            -32601 => 404,
            HEADER_MISMATCH | UNSUPPORTED_VERSION => 400,
            _ => return,
        };
        let got = status(ex).unwrap_or(0);
        if got != want {
            out.push(
                &Self::META,
                format!(
                    "{method}: JSON-RPC error {} answered with HTTP {got}, not {want}",
                    err.code
                ),
            );
        }
    }
}

/// The MCP revision a request declares (header, else `_meta`), when it is 2026-07-28 or later.
pub(super) fn modern_request(view: &ExchangeView<'_>) -> Option<String> {
    let ex = view.exchange();
    let from_meta = || {
        req_json_obj(view)?
            .get("params")?
            .get("_meta")?
            .get("io.modelcontextprotocol/protocolVersion")?
            .as_str()
            .map(str::to_string)
    };
    qh(ex, "mcp-protocol-version")
        .map(str::to_string)
        .or_else(from_meta)
        .filter(|v| v.as_str() >= MODERN)
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    const ACCEPT: &str = "application/json, text/event-stream";

    /// The clean flow whose server declares `caps`, then one authenticated request `method`
    /// in the session answered with `answer` (a JSON-RPC message).
    fn then(caps: &str, method: &str, answer: &str) -> Vec<B> {
        let mut c = Clean::new();
        c.init = c.init.resp_json(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"protocolVersion":"2025-11-25","capabilities":{caps},"serverInfo":{{"name":"demo","version":"1"}}}}}}"#
        ));
        let mut steps = c.steps();
        steps.push(
            post_json(MCP, &rpc(method, Some(7)))
                .req_header("accept", ACCEPT)
                .req_header("authorization", &format!("Bearer {}", access_token()))
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(9.0)
                .resp_json(answer),
        );
        steps
    }

    const NOT_FOUND: &str = r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found: logging/setLevel"}}"#;

    #[test]
    fn fires_on_method_not_found_for_a_declared_capability() {
        let f = assert_fires(
            "MCP-RPC-METHOD-NOT-FOUND",
            then(
                r#"{"tools":{},"logging":{}}"#,
                "logging/setLevel",
                NOT_FOUND,
            ),
        );
        assert!(f.message.contains("`logging`"), "{}", f.message);
    }
    #[test]
    fn quiet_on_method_not_found_for_an_undeclared_capability() {
        assert_quiet(
            "MCP-RPC-METHOD-NOT-FOUND",
            then(r#"{"tools":{}}"#, "logging/setLevel", NOT_FOUND),
        );
        assert_quiet(
            "MCP-RPC-ERROR",
            then(r#"{"tools":{}}"#, "logging/setLevel", NOT_FOUND),
        );
    }

    #[test]
    fn fires_on_header_mismatch() {
        assert_fires(
            "MCP-RPC-HEADER-MISMATCH",
            then(
                "{}",
                "tools/list",
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32020,"message":"Header mismatch: Mcp-Method is missing"}}"#,
            ),
        );
    }
    #[test]
    fn fires_on_header_mismatch_before_authentication() {
        // A 2026-07-28 server validates headers before the bearer: the first initialize of a
        // legacy client is rejected with -32020 and no Authorization.
        let mut c = Clean::new();
        c.challenge = c.challenge.status(400).no_resp_header("www-authenticate").resp_json(
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32020,"message":"Missing MCP-Protocol-Version header"}}"#,
        );
        assert_fires("MCP-RPC-HEADER-MISMATCH", vec![c.challenge]);
    }
    #[test]
    fn quiet_on_header_mismatch() {
        // Another code in the same range is not a header mismatch.
        assert_quiet(
            "MCP-RPC-HEADER-MISMATCH",
            then(
                "{}",
                "tools/list",
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32021,"message":"Missing required client capability"}}"#,
            ),
        );
    }

    #[test]
    fn fires_on_unsupported_version() {
        assert_fires(
            "MCP-RPC-UNSUPPORTED-VERSION",
            then(
                "{}",
                "tools/list",
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"2025-11-25"}}}"#,
            ),
        );
    }
    #[test]
    fn quiet_on_unsupported_version() {
        assert_quiet("MCP-RPC-UNSUPPORTED-VERSION", Clean::new().steps());
    }

    #[test]
    fn fires_on_session_error_after_auth() {
        let f = assert_fires(
            "MCP-RPC-ERROR",
            then(
                "{}",
                "tools/list",
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"Session not found"}}"#,
            ),
        );
        assert!(f.message.contains("Session not found"));
    }
    #[test]
    fn quiet_on_rpc_error_for_invalid_params_and_unauthenticated_errors() {
        assert_quiet(
            "MCP-RPC-ERROR",
            then(
                "{}",
                "tools/call",
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"Invalid params"}}"#,
            ),
        );
        // The 401 of the clean flow carries no JSON-RPC error after authentication.
        assert_quiet("MCP-RPC-ERROR", Clean::new().steps());
    }

    const META_OK: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

    const UNKNOWN: &str =
        r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}"#;

    #[test]
    fn fires_on_error_status() {
        // -32601 with 200 on the 2026-07-28 wire.
        assert_fires("MCP-RPC-ERROR-STATUS", modern(META_OK, UNKNOWN));
        // -32020 with 200.
        assert_fires(
            "MCP-RPC-ERROR-STATUS",
            modern(
                META_OK,
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32020,"message":"Header mismatch"}}"#,
            ),
        );
    }
    #[test]
    fn quiet_on_error_status() {
        let mut steps = modern(META_OK, UNKNOWN);
        if let Some(last) = steps.pop() {
            steps.push(last.status(404));
        }
        assert_quiet("MCP-RPC-ERROR-STATUS", steps);
        // A legacy -32601 with 200 is how 2025 revisions answer.
        assert_quiet(
            "MCP-RPC-ERROR-STATUS",
            then(r#"{"tools":{}}"#, "logging/setLevel", NOT_FOUND),
        );
    }
}
