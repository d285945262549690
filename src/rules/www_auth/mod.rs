//! WWWAUTH-* and the MCP-* challenge rules: what the MCP URL answers to
//! unauthenticated or badly authenticated requests, and whether the Bearer challenge is usable.

use crate::flow::revision::Revision;
use crate::model::Phase;
use crate::model::{Exchange, Headers};
use crate::model::{Severity::*, Who::*};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &Missing,
    &NoResourceMetadata,
    &BearerNotFirst,
    &Malformed,
    &ErrorWithoutCredentials,
    &StatusErrorMismatch,
    &Forbidden403NoScope,
    &NoScope,
    &OfflineAccess,
    &UnauthNot401,
    &BadTokenNot401,
    &LoginRedirect,
];

const MCP: &[Phase] = &[Phase::McpTransport];

/// WWWAUTH-MISSING.
pub struct Missing;
impl Rule for Missing {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-MISSING",
        severity: Error,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "CAI/Desktop never start OAuth (\"There was an error connecting\"); CC",
        source: "RFC 9110 §11.6.1; RFC 6750 §3; MCP 2025-06-18 Authorization \"Authorization Server Location\"; anthropics/claude-ai-mcp#410",
        title: "The MCP URL answers 401 without WWW-Authenticate",
        fix: "Send `WWW-Authenticate: Bearer resource_metadata=\"https://<host>/.well-known/oauth-protected-resource<mcp path>\"` with every 401 from the MCP URL (and expose it via CORS).",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) == Some(401) && rh(ex, "www-authenticate").is_none() {
            out.push(
                &Self::META,
                format!(
                    "{} {} answered 401 with no WWW-Authenticate header",
                    ex.request.method, ex.request.url
                ),
            );
        }
    }
}

/// WWWAUTH-NO-RESOURCE-METADATA.
pub struct NoResourceMetadata;
impl Rule for NoResourceMetadata {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-NO-RESOURCE-METADATA",
        severity: Error,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "06-18-era clients that never probe well-known URLs; critical when no PRM is reachable",
        source: "RFC 9728 §5.1; MCP 2025-06-18 \"Authorization Server Location\", 2025-11-25 \"PRM Discovery Requirements\"",
        title: "A Bearer challenge without resource_metadata",
        fix: "Add `resource_metadata=\"<PRM URL>\"` to the Bearer challenge.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18)
        .from(Revision::R2025_11_25, crate::model::Severity::Info);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(401) {
            return;
        }
        let Some(p) = cx.view.challenges() else {
            return;
        };
        let Some(b) = p.bearer() else { return };
        if b.param("resource_metadata").is_some() {
            return;
        }
        out.push(
            &Self::META,
            format!(
                "Bearer challenge `{}` has no resource_metadata",
                rh(ex, "www-authenticate").unwrap_or("")
            ),
        );
    }
}

/// WWWAUTH-BEARER-NOT-FIRST.
pub struct BearerNotFirst;
impl Rule for BearerNotFirst {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-BEARER-NOT-FIRST",
        severity: Warning,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "TS reads only the first scheme; resource_metadata is then ignored",
        source: "TS SDK extractWWWAuthenticateParams; modelcontextprotocol/typescript-sdk PR 1951",
        title: "The WWW-Authenticate value does not start with Bearer",
        fix: "Put the Bearer challenge first, in a single WWW-Authenticate header line.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(p) = cx.view.challenges() else {
            return;
        };
        if p.bearer().is_some() && (!p.bearer_first() || p.header_lines > 1) {
            let schemes: Vec<&str> = p.challenges.iter().map(|c| c.scheme.as_str()).collect();
            out.push(
                &Self::META,
                format!(
                    "challenge order {} over {} header line(s)",
                    schemes.join(", "),
                    p.header_lines
                ),
            );
        }
    }
}

/// WWWAUTH-MALFORMED.
pub struct Malformed;
impl Rule for Malformed {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-MALFORMED",
        severity: Error,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "TS (regex misses), rmcp (takes the first duplicate), Strict",
        source: "RFC 9110 §11.2, §11.6.1; RFC 6750 §3; getsentry/sentry-mcp#939",
        title: "Challenge syntax errors",
        fix: "Write the challenge as `Bearer resource_metadata=\"https://…\", scope=\"a b\"`: no comma after the scheme, double quotes, no spaces around `=`, each parameter once, absolute URLs.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(p) = cx.view.challenges().filter(|p| !p.issues.is_empty()) {
            out.push(
                &Self::META,
                format!(
                    "`{}`: {}",
                    rh(ex, "www-authenticate").unwrap_or(""),
                    p.issues.join("; ")
                ),
            );
        }
    }
}

/// WWWAUTH-ERROR-WITHOUT-CREDENTIALS.
pub struct ErrorWithoutCredentials;
impl Rule for ErrorWithoutCredentials {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-ERROR-WITHOUT-CREDENTIALS",
        severity: Info,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "some clients take invalid_token as \"refresh\" and loop",
        source: "RFC 6750 §3.1",
        title: "A 401 to a request without credentials carries error=",
        fix: "Omit `error=` when the request carried no Authorization header.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(401) || ex.request.header("authorization").is_some() {
            return;
        }
        if let Some(e) = cx
            .view
            .challenges()
            .and_then(|p| p.bearer().and_then(|b| b.param("error").map(str::to_owned)))
        {
            out.push(
                &Self::META,
                format!("error=\"{e}\" on a 401 to a request without Authorization"),
            );
        }
    }
}

/// WWWAUTH-STATUS-ERROR-MISMATCH.
pub struct StatusErrorMismatch;
impl Rule for StatusErrorMismatch {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-STATUS-ERROR-MISMATCH",
        severity: Warning,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "step-up logic keys on 403 + insufficient_scope",
        source: "RFC 6750 §3.1; MCP 2025-11-25 Authorization \"Error Handling\"",
        title: "The challenge's error code does not match the status",
        fix: "invalid_token → 401, insufficient_scope → 403, invalid_request → 400.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(st), Some(p)) = (status(ex), cx.view.challenges()) else {
            return;
        };
        let Some(e) = p.bearer().and_then(|b| b.param("error")) else {
            return;
        };
        let want = match e {
            "invalid_token" => 401,
            "insufficient_scope" => 403,
            "invalid_request" => 400,
            _ => return,
        };
        if st != want {
            out.push(
                &Self::META,
                format!("error=\"{e}\" with status {st} (expected {want})"),
            );
        }
    }
}

/// WWWAUTH-403-NO-SCOPE.
pub struct Forbidden403NoScope;
impl Rule for Forbidden403NoScope {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-403-NO-SCOPE",
        severity: Warning,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "clients cannot compute the step-up scope set",
        source: "MCP 2025-11-25 \"Runtime Insufficient Scope Errors\"",
        title: "403 insufficient_scope without scope (or resource_metadata)",
        fix: "Include `scope=\"<needed scopes>\"` and `resource_metadata` in the 403 insufficient_scope challenge.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(403) {
            return;
        }
        let Some(p) = cx.view.challenges() else {
            return;
        };
        let Some(b) = p
            .bearer()
            .filter(|b| b.param("error") == Some("insufficient_scope"))
        else {
            return;
        };
        let missing: Vec<&str> = ["scope", "resource_metadata"]
            .into_iter()
            .filter(|k| b.param(k).is_none())
            .collect();
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!(
                    "403 insufficient_scope challenge lacks {}",
                    missing.join(" and ")
                ),
            );
        }
    }
}

/// WWWAUTH-NO-SCOPE.
pub struct NoScope;
impl Rule for NoScope {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-NO-SCOPE",
        severity: Info,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "clients then request all of PRM scopes_supported",
        source: "MCP 2025-11-25 (servers SHOULD include scope); conformance scope-from-www-authenticate",
        title: "A 401 challenge without scope",
        fix: "Add `scope=\"…\"` with the scopes this request needs.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(401) {
            return;
        }
        if cx
            .view
            .challenges()
            .is_some_and(|p| p.bearer().is_some_and(|b| b.param("scope").is_none()))
        {
            out.push(&Self::META, "401 Bearer challenge names no scope");
        }
    }
}

/// WWWAUTH-OFFLINE-ACCESS.
pub struct OfflineAccess;
impl Rule for OfflineAccess {
    const META: RuleMeta = RuleMeta {
        id: "WWWAUTH-OFFLINE-ACCESS",
        severity: Info,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "AS-specific invalid_scope",
        source: "MCP 2026-07-28 \"Refresh Tokens\" (SHOULD NOT)",
        title: "The challenge's scope contains offline_access",
        fix: "Leave offline_access out of the challenge; clients add it when the AS advertises it.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let s = cx
            .view
            .challenges()
            .and_then(|p| p.bearer().and_then(|b| b.param("scope").map(str::to_owned)));
        if s.as_deref()
            .is_some_and(|s| s.split_whitespace().any(|t| t == "offline_access"))
        {
            out.push(
                &Self::META,
                format!(
                    "challenge scope=\"{}\" contains offline_access",
                    s.unwrap_or_default()
                ),
            );
        }
    }
}

/// MCP-UNAUTH-NOT-401.
pub struct UnauthNot401;
impl Rule for UnauthNot401 {
    const META: RuleMeta = RuleMeta {
        id: "MCP-UNAUTH-NOT-401",
        severity: Error,
        phase: Phase::McpTransport,
        on: &[],
        who: &[Rs],
        breaks: "CAI and CC never start OAuth",
        source: "MCP 2025-03-26 and later (MUST respond with 401); MCP 2025-11-25 Authorization \"Error Handling\"",
        title: "An unauthenticated MCP request is not answered 401 although the server needs auth",
        fix: "Answer every MCP request without a valid token with 401 + WWW-Authenticate (not 403/400/404, a login redirect, or a JSON-RPC error).",
    };
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let needs_auth = cx.config.requires_auth
            || f.prm_doc().is_some()
            || f.mcp.iter().any(|m| m.had_auth && m.ok())
            || f.challenges.iter().any(|c| c.status == 401);
        if !needs_auth {
            return;
        }
        for m in f.mcp.iter().filter(|m| !m.had_auth && m.method == "POST") {
            let Some(st) = m.status else { continue };
            if matches!(st, 400 | 403 | 404 | 301 | 302 | 303) {
                let Some(step) = m.step else { continue };
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!("unauthenticated POST to the MCP URL answered {st} instead of 401"),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// MCP-BAD-TOKEN-NOT-401.
pub struct BadTokenNot401;
impl Rule for BadTokenNot401 {
    const META: RuleMeta = RuleMeta {
        id: "MCP-BAD-TOKEN-NOT-401",
        severity: Warning,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "clients never re-authenticate on 400/200",
        source: "MCP 2025-11-25 Authorization \"Token Handling\" (invalid or expired tokens MUST get 401); OAuth 2.1 §5.3",
        title: "A request with an invalid or expired bearer is answered 400 or 200 + JSON-RPC error",
        fix: "Reject invalid, expired or unknown tokens with 401 and a Bearer challenge (error=\"invalid_token\").",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if cx.view.bearer_token().is_none() {
            return;
        }
        let st = status(ex).unwrap_or(0);
        let b = body(ex).unwrap_or("").to_ascii_lowercase();
        let about_token = [
            "invalid_token",
            "expired",
            "invalid token",
            "unauthorized",
            "unauthenticated",
        ]
        .iter()
        .any(|k| b.contains(k));
        let rpc_error = b.contains("\"error\"") && b.contains("jsonrpc");
        if about_token && (st == 400 || (st == 200 && rpc_error)) {
            out.push(
                &Self::META,
                format!(
                    "token rejected with {st}{} instead of 401",
                    if st == 200 { " + JSON-RPC error" } else { "" }
                ),
            );
        }
    }
}

/// MCP-LOGIN-REDIRECT.
pub struct LoginRedirect;
impl Rule for LoginRedirect {
    const META: RuleMeta = RuleMeta {
        id: "MCP-LOGIN-REDIRECT",
        severity: Error,
        phase: Phase::McpTransport,
        on: MCP,
        who: &[Rs],
        breaks: "all (no challenge; HTML instead of JSON)",
        source: "agencyenterprise/draft-detective#774; MCP 2025-03-26 and later 401 requirement",
        title: "An unauthenticated MCP request is redirected to a sign-in page",
        fix: "Exclude the MCP route from the web framework's login guard; answer 401 + WWW-Authenticate instead.",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if ex.request.header("authorization").is_some()
            || !matches!(status(ex), Some(301..=303 | 307 | 308))
        {
            return;
        }
        let loc = rh(ex, "location").unwrap_or("").to_ascii_lowercase();
        if ["login", "signin", "sign-in", "sign_in", "auth", "session"]
            .iter()
            .any(|k| loc.contains(k))
        {
            out.push(
                &Self::META,
                format!("unauthenticated {} redirected to {loc}", ex.request.method),
            );
        }
    }
}

#[cfg(test)]
mod tests;
