//! The per-message metadata of the stateless 2026-07-28 revision: the request's `_meta`
//! (`io.modelcontextprotocol/protocolVersion` equal to the `MCP-Protocol-Version` header, and
//! `io.modelcontextprotocol/clientCapabilities`; SEP-2575) and the result's `resultType`
//! (SEP-2322) with `ttlMs`/`cacheScope` on list and read results (SEP-2549).

use serde_json::Value;

use crate::model::Exchange;
use crate::model::Who::*;
use crate::model::{Phase, Severity};
use crate::rules::rpc::{answer, modern_request, request};
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[&MetaMissing, &ResultFields];

const MCP: &[Phase] = &[Phase::McpTransport];

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on MCP.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, MCP, $($rest)*)
    };
}

/// MCP-META-MISSING.
pub struct MetaMissing;
impl Rule for MetaMissing {
    const META: RuleMeta = meta!(
        "MCP-META-MISSING",
        Error,
        &[Client],
        "2026-07-28 servers answer 400 (-32020) or treat the request as legacy",
        "MCP 2026-07-28 Basic \"_meta\" and Streamable HTTP \"Protocol Version Header\"; SEP-2575 (modelcontextprotocol/modelcontextprotocol#2575); conformance sep-2575-client-populates-meta, sep-2575-http-version-header-matches-meta",
        "[07-28] A request lacks _meta protocolVersion/clientCapabilities, or MCP-Protocol-Version differs from _meta",
        "On every 2026-07-28 request send params._meta with io.modelcontextprotocol/protocolVersion (equal to the MCP-Protocol-Version header) and io.modelcontextprotocol/clientCapabilities."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(version), Some((_, method))) = (modern_request(cx.view), request(cx.view)) else {
            return;
        };
        let meta = req_json_obj(cx.view)
            .and_then(|v| v.get("params")?.get("_meta")?.as_object().cloned())
            .unwrap_or_default();
        let mut missing = Vec::new();
        for key in [
            "io.modelcontextprotocol/protocolVersion",
            "io.modelcontextprotocol/clientCapabilities",
        ] {
            if !meta.contains_key(key) {
                missing.push(key);
            }
        }
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!("{method} ({version}) lacks _meta {}", missing.join(", ")),
            );
        }
        let meta_version = meta
            .get("io.modelcontextprotocol/protocolVersion")
            .and_then(Value::as_str);
        if let (Some(h), Some(m)) = (qh(ex, "mcp-protocol-version"), meta_version) {
            if h != m {
                out.push(
                    &Self::META,
                    format!("{method}: MCP-Protocol-Version {h} ≠ _meta protocolVersion {m}"),
                );
            }
        }
    }
}

/// Methods whose 2026-07-28 results are `CacheableResult`s.
const CACHEABLE: [&str; 5] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/read",
    "resources/templates/list",
];

/// MCP-RESULT-FIELDS.
pub struct ResultFields;
impl Rule for ResultFields {
    const META: RuleMeta = meta!(
        "MCP-RESULT-FIELDS",
        Warning,
        &[Rs],
        "2026-07-28 clients that check resultType treat the answer as malformed; caches guess",
        "MCP 2026-07-28 Key Changes 8 (resultType, SEP-2322) and minor change 5 (ttlMs, cacheScope, SEP-2549); conformance sep-2322-result-type-included, sep-2549-ttl-non-negative, sep-2549-cache-scope-valid",
        "[07-28] A result lacks resultType, or a list/read result lacks a valid ttlMs/cacheScope",
        "Add resultType: \"complete\" to every 2026-07-28 result, and ttlMs (a non-negative integer) and cacheScope (\"public\" or \"private\") to list and read results."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let (Some(version), Some((id, method))) = (modern_request(cx.view), request(cx.view))
        else {
            return;
        };
        let Some(result) = answer(cx.view, &id).and_then(|a| a.get("result")?.as_object().cloned())
        else {
            return;
        };
        let mut wrong = Vec::new();
        match result.get("resultType").and_then(Value::as_str) {
            Some("complete" | "input_required") => {}
            Some(other) => wrong.push(format!("resultType {other:?}")),
            None => wrong.push("no resultType".to_string()),
        }
        if CACHEABLE.contains(&method.as_str()) {
            if result.get("ttlMs").and_then(Value::as_u64).is_none() {
                wrong.push(format!(
                    "ttlMs {}",
                    result
                        .get("ttlMs")
                        .map_or("absent".into(), Value::to_string)
                ));
            }
            if !matches!(
                result.get("cacheScope").and_then(Value::as_str),
                Some("public" | "private")
            ) {
                wrong.push(format!(
                    "cacheScope {}",
                    result
                        .get("cacheScope")
                        .map_or("absent".into(), Value::to_string)
                ));
            }
        }
        if !wrong.is_empty() {
            let f = out.push(
                &Self::META,
                format!("{method} result ({version}): {}", wrong.join(", ")),
            );
            if wrong.iter().any(|w| w.starts_with("no resultType")) {
                f.severity = Severity::Error;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    const META_OK: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    const LIST_OK: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"resultType":"complete","ttlMs":60000,"cacheScope":"private"}}"#;

    #[test]
    fn fires_on_meta_missing() {
        let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#;
        assert_fires("MCP-META-MISSING", modern(body, LIST_OK));
        let other = META_OK.replace(
            r#"protocolVersion":"2026-07-28""#,
            r#"protocolVersion":"2026-08-01""#,
        );
        let f = assert_fires("MCP-META-MISSING", modern(&other, LIST_OK));
        assert!(f.message.contains("≠"), "{}", f.message);
    }
    #[test]
    fn quiet_on_meta_missing() {
        assert_quiet("MCP-META-MISSING", modern(META_OK, LIST_OK));
        // Legacy requests carry no _meta.
        assert_quiet("MCP-META-MISSING", Clean::new().steps());
    }

    #[test]
    fn fires_on_result_fields() {
        let f = assert_fires(
            "MCP-RESULT-FIELDS",
            modern(META_OK, r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#),
        );
        assert!(f.message.contains("no resultType") && f.message.contains("cacheScope"));
        let f = assert_fires(
            "MCP-RESULT-FIELDS",
            modern(
                META_OK,
                r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"resultType":"complete","ttlMs":-1,"cacheScope":"shared"}}"#,
            ),
        );
        assert!(f.message.contains("ttlMs -1"), "{}", f.message);
    }
    #[test]
    fn quiet_on_result_fields() {
        assert_quiet("MCP-RESULT-FIELDS", modern(META_OK, LIST_OK));
        // Legacy results have no resultType.
        assert_quiet("MCP-RESULT-FIELDS", Clean::new().steps());
    }
}
