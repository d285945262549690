//! MCP transport rules about request headers and revisions: protocol version header, tokens in URLs, the Authorization scheme, Origin checks, legacy SSE fallback, 2026-07-28 mirror headers and statelessness.

use super::transport::*;
use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::urls;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;
use serde_json::Value;

/// MCP-VERSION-HEADER-MISSING.
pub struct VersionHeaderMissing;
impl Rule for VersionHeaderMissing {
    const META: RuleMeta = meta!(
        "MCP-VERSION-HEADER-MISSING",
        Error,
        &[Client],
        "server assumes 2025-03-26",
        "MCP 2025-06-18 \"Protocol Version Header\"",
        "A post-initialize request lacks MCP-Protocol-Version",
        "Send `MCP-Protocol-Version: <negotiated>` on every request after initialize."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.flow.and_then(|f| f.protocol_version.as_deref()) else {
            return;
        };
        let init = rpc_body(cx.view)
            .is_some_and(|b| b.get("method").and_then(Value::as_str) == Some("initialize"));
        if v >= "2025-06-18"
            && !init
            && qh(ex, "mcp-protocol-version").is_none()
            && status(ex) != Some(401)
        {
            out.push(
                &Self::META,
                format!(
                    "{} without MCP-Protocol-Version (negotiated {v})",
                    ex.request.method
                ),
            );
        }
    }
}

/// MCP-VERSION-NOT-400.
pub struct VersionNot400;
impl Rule for VersionNot400 {
    const META: RuleMeta = meta!(
        "MCP-VERSION-NOT-400",
        Error,
        &[Rs],
        "—",
        "MCP 2025-06-18 (MUST 400)",
        "An unsupported MCP-Protocol-Version is accepted",
        "Answer unsupported protocol versions with 400."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(h) = qh(ex, "mcp-protocol-version").filter(|h| !KNOWN_VERSIONS.contains(h)) {
            if ok(ex) {
                out.push(
                    &Self::META,
                    format!(
                        "MCP-Protocol-Version {h:?} answered {}",
                        status(ex).unwrap_or(0)
                    ),
                );
            }
        }
    }
}

/// MCP-TOKEN-IN-QUERY.
pub struct TokenInQuery;
impl Rule for TokenInQuery {
    const META: RuleMeta = meta!(
        "MCP-TOKEN-IN-QUERY",
        Error,
        &[Client, Rs],
        "token leaks to logs and referers",
        "MCP 2025-11-25 Authorization \"Token Requirements\"; RFC 6750 §2.3, §5.3",
        "A token in the MCP URL query",
        "Send tokens only in the Authorization header."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let q = cx.view.query();
        let hits: Vec<&str> = [
            "access_token",
            "token",
            "api_key",
            "apikey",
            "auth_token",
            "bearer",
        ]
        .into_iter()
        .filter(|k| q.has(k))
        .collect();
        if !hits.is_empty() {
            out.push(
                &Self::META,
                format!("MCP URL query carries {}", hits.join(", ")),
            );
        }
    }
}

/// MCP-AUTH-SCHEME.
pub struct AuthScheme;
impl Rule for AuthScheme {
    const META: RuleMeta = meta!(
        "MCP-AUTH-SCHEME",
        Error,
        &[Client],
        "RS 401",
        "RFC 6750 §2.1; MCP 2025-11-25 Authorization \"Token Requirements\"",
        "Authorization is not `Bearer <token>`",
        "Send exactly `Authorization: Bearer <token>`."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(a) = qh(ex, "authorization") else {
            return;
        };
        let good = a.split_once(' ').is_some_and(|(s, t)| {
            s.eq_ignore_ascii_case("bearer")
                && !t.is_empty()
                && !t.contains(' ')
                && (crate::parse::is_redacted(t)
                    || t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
        });
        if !good {
            let scheme: String = a.split(' ').next().unwrap_or("").chars().take(12).collect();
            out.push(
                &Self::META,
                format!(
                    "Authorization scheme/format is wrong (starts with {scheme:?}, {} characters)",
                    a.len()
                ),
            );
        }
    }
}

/// MCP-ORIGIN-UNCHECKED.
pub struct OriginUnchecked;
impl Rule for OriginUnchecked {
    const META: RuleMeta = meta!(
        "MCP-ORIGIN-UNCHECKED",
        Warning,
        &[Rs],
        "DNS-rebinding exposure",
        "MCP 2025-03-26 and later \"Security Warning\"; conformance localhost-host-rebinding-rejected",
        "A loopback MCP server accepts a non-loopback web Origin",
        "Validate Origin on loopback servers and answer foreign origins with 403."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(o) = origin_hdr(ex) else { return };
        let local = urls::is_loopback_url(&ex.request.url);
        let foreign = urls::host(o).is_some_and(|h| !urls::is_loopback_host(&h));
        if local && foreign && ok(ex) {
            out.push(
                &Self::META,
                format!(
                    "loopback MCP server answered {} to Origin {o}",
                    status(ex).unwrap_or(0)
                ),
            );
        }
    }
}

/// MCP-SSE-FALLBACK-STATUS.
pub struct SseFallbackStatus;
impl Rule for SseFallbackStatus {
    const META: RuleMeta = RuleMeta {
        on: &[],
        ..meta!(
            "MCP-SSE-FALLBACK-STATUS",
            Error,
            &[Rs],
            "CAI, TS: cannot fall back to SSE",
            "MCP 2025-11-25 Transports \"Backwards Compatibility\"; claude-ai-mcp issue template",
            "A legacy SSE-only server answers POST initialize with something other than 400/404/405",
            "Answer POST to the legacy SSE URL with 400, 404 or 405 so clients fall back to HTTP+SSE."
        )
    };
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let legacy = f
            .timeline
            .iter()
            .any(|(_, p, _, _, _)| *p == Phase::McpTransport)
            && f.mcp
                .iter()
                .any(|m| m.method == "GET" && m.status == Some(200))
            && f.sessions.is_empty()
            && f.protocol_version.is_none();
        if !legacy {
            return;
        }
        for m in f
            .mcp
            .iter()
            .filter(|m| m.method == "POST" && m.rpc_method.as_deref() == Some("initialize"))
        {
            if let (Some(st), Some(step)) = (m.status, m.step) {
                if !matches!(st, 400 | 404 | 405)
                    && !(200..300).contains(&st)
                    && (st != 401 || !f.challenges.iter().any(|c| c.has_bearer))
                {
                    out.once(
                        step.exchange.0.to_string(),
                        &Self::META,
                        format!("legacy SSE server answered POST initialize with {st}"),
                    )
                    .exchange = Some(step.exchange);
                }
            }
        }
    }
}

/// MCP-MIRROR-HEADERS.
pub struct MirrorHeaders;
impl Rule for MirrorHeaders {
    const META: RuleMeta = meta!(
        "MCP-MIRROR-HEADERS",
        Error,
        &[Client, Rs],
        "gateways route on headers",
        "MCP 2026-07-28 streamable-http \"Request Metadata\"",
        "2026-07-28 POST lacks Mcp-Method/Mcp-Name or they differ from the body",
        "Send Mcp-Method (and Mcp-Name for tools/call, resources/read, prompts/get) matching the body."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !at_least(version(cx, ex), "2026-07-28") || method(ex) != "POST" {
            return;
        }
        let Some(v) = rpc_body(cx.view) else { return };
        let Some(m) = v.get("method").and_then(Value::as_str) else {
            return;
        };
        match qh(ex, "mcp-method") {
            None => {
                out.push(&Self::META, format!("no Mcp-Method header for {m}"));
            }
            Some(h) if h != m => {
                out.push(&Self::META, format!("Mcp-Method {h} ≠ body method {m}"));
            }
            _ => {}
        }
        let name = v
            .pointer("/params/name")
            .or_else(|| v.pointer("/params/uri"))
            .and_then(Value::as_str);
        if matches!(m, "tools/call" | "resources/read" | "prompts/get")
            && qh(ex, "mcp-name").is_none()
        {
            out.push(
                &Self::META,
                format!("no Mcp-Name header for {m} {}", name.unwrap_or("")),
            );
        }
    }
}

/// MCP-STATELESS-VIOLATION.
pub struct StatelessViolation;
impl Rule for StatelessViolation {
    const META: RuleMeta = meta!(
        "MCP-STATELESS-VIOLATION",
        Warning,
        &[Rs],
        "mixed-era confusion",
        "MCP 2026-07-28 streamable-http \"Earlier Streamable HTTP Revisions\"",
        "2026-07-28 the server issues sessions or serves GET/DELETE",
        "In 2026-07-28 mode: no Mcp-Session-Id; answer GET and DELETE with 405."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let negotiated = cx
            .flow
            .and_then(|f| f.protocol_version.clone())
            .or_else(|| {
                cx.view
                    .response_json()?
                    .pointer("/result/protocolVersion")?
                    .as_str()
                    .map(str::to_owned)
            });
        if negotiated.as_deref() != Some("2026-07-28") {
            return;
        }
        if rh(ex, "mcp-session-id").is_some() {
            out.push(
                &Self::META,
                "Mcp-Session-Id issued in stateless 2026-07-28 mode",
            );
        } else if matches!(method(ex).as_str(), "GET" | "DELETE") && status(ex) != Some(405) {
            out.push(
                &Self::META,
                format!(
                    "{} answered {} instead of 405",
                    ex.request.method,
                    status(ex).unwrap_or(0)
                ),
            );
        }
    }
}
