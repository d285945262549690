//! AUTHZ-*: the authorization request and the AS's consent hops. Request
//! rules judge the initial authorize URL (the one with `response_type`/`client_id`).

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::form::Pairs;
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &NoPkce,
    &PkcePlain,
    &PkceFormat,
    &ResponseType,
    &NoState,
    &NoResource,
    &ResourceInvalid,
    &RedirectScheme,
    &ScopeMalformed,
    &ScopeStrategy,
    &OfflineUnadvertised,
    &ResourceRejected,
    &Redirect307AfterPost,
    &FormPost,
    &ErrorNotRedirected,
    &LoopbackPortRejected,
];

const AUTHZ: &[Phase] = &[Phase::Authorize];

/// The query of an initial authorize request.
fn authz_query<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Pairs> {
    let q = view.query();
    (q.has("response_type") || q.has("client_id") && q.has("redirect_uri")).then_some(q)
}

/// This family's [`RuleMeta`] shorthand: phase Authorize, hook on AUTHZ.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Authorize, AUTHZ, $($rest)*)
    };
}

/// AUTHZ-NO-PKCE.
pub struct NoPkce;
impl Rule for NoPkce {
    const META: RuleMeta = meta!(
        "AUTHZ-NO-PKCE",
        Error,
        &[Client],
        "AS should reject",
        "OAuth 2.1 §4.1.1; MCP 2025-03-26; conformance pkce-code-challenge-sent",
        "No code_challenge in the authorization request",
        "Send code_challenge (S256) with every authorization request."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if authz_query(cx.view).is_some_and(|q| !q.has("code_challenge")) {
            out.push(&Self::META, "authorization request without code_challenge");
        }
    }
}

/// AUTHZ-PKCE-PLAIN.
pub struct PkcePlain;
impl Rule for PkcePlain {
    const META: RuleMeta = meta!(
        "AUTHZ-PKCE-PLAIN",
        Error,
        &[Client],
        "ASes that require S256",
        "RFC 7636 §4.3; MCP 2025-11-25; conformance pkce-s256-method-used",
        "code_challenge_method is absent (plain) or plain",
        "Send code_challenge_method=S256."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(q) = authz_query(cx.view).filter(|q| q.has("code_challenge")) else {
            return;
        };
        match q.first("code_challenge_method") {
            Some("S256") => {}
            m => {
                out.push(
                    &Self::META,
                    format!("code_challenge_method = {}", m.unwrap_or("(absent: plain)")),
                );
            }
        }
    }
}

/// AUTHZ-PKCE-FORMAT.
pub struct PkceFormat;
impl Rule for PkceFormat {
    const META: RuleMeta = meta!(
        "AUTHZ-PKCE-FORMAT",
        Error,
        &[Client],
        "AS invalid_request",
        "RFC 7636 §4.2",
        "An S256 code_challenge that is not 43 base64url characters",
        "Send BASE64URL-ENCODE(SHA256(verifier)) without padding (43 characters)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(q) =
            authz_query(cx.view).filter(|q| q.first("code_challenge_method") == Some("S256"))
        else {
            return;
        };
        let Some(c) = q.first("code_challenge") else {
            return;
        };
        if crate::parse::is_redacted(c) {
            return;
        }
        if c.len() != 43
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            out.push(
                &Self::META,
                format!(
                    "code_challenge has {} characters{}",
                    c.len(),
                    if c.contains(['=', '+', '/']) {
                        " and non-base64url characters"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

/// AUTHZ-RESPONSE-TYPE.
pub struct ResponseType;
impl Rule for ResponseType {
    const META: RuleMeta = meta!(
        "AUTHZ-RESPONSE-TYPE",
        Error,
        &[Client],
        "MCP ASes; implicit grant not in OAuth 2.1",
        "OAuth 2.1 (authorization code only)",
        "response_type is not code",
        "Use response_type=code."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(rt) = authz_query(cx.view)
            .and_then(|q| q.first("response_type").map(str::to_owned))
            .filter(|r| r != "code")
        {
            out.push(&Self::META, format!("response_type = {rt}"));
        }
    }
}

/// AUTHZ-NO-STATE.
pub struct NoState;
impl Rule for NoState {
    const META: RuleMeta = meta!(
        "AUTHZ-NO-STATE",
        Warning,
        &[Client],
        "CSRF exposure; the proxy loses a correlation key",
        "MCP 2025-06-18 \"Open Redirection\"",
        "state is missing (warning) or shorter than 16 characters (info)",
        "Send a random state of at least 16 characters and check it on the callback."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(q) = authz_query(cx.view) else {
            return;
        };
        match q.first("state") {
            None => {
                out.push(&Self::META, "authorization request without state");
            }
            Some(s) if s.len() < 16 => {
                out.push(
                    &Self::META,
                    format!("state has only {} characters", s.len()),
                )
                .severity = Info;
            }
            _ => {}
        }
    }
}

/// AUTHZ-NO-RESOURCE.
pub struct NoResource;
impl Rule for NoResource {
    const META: RuleMeta = meta!(
        "AUTHZ-NO-RESOURCE",
        Error,
        &[Client],
        "RS audience checks (TS omits resource when no PRM was found)",
        "MCP 2025-11-25 Authorization \"Resource Parameter Implementation\"; conformance resource-parameter-in-authorization",
        "resource is missing although a PRM was obtained",
        "Send resource=<PRM resource> in the authorization request."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let has_prm = cx.flow.is_some_and(|f| f.prm_doc().is_some());
        if has_prm && authz_query(cx.view).is_some_and(|q| !q.has("resource")) {
            out.push(
                &Self::META,
                "authorization request without resource although the PRM was fetched",
            );
        }
    }
}

/// AUTHZ-RESOURCE-INVALID.
pub struct ResourceInvalid;
impl Rule for ResourceInvalid {
    const META: RuleMeta = meta!(
        "AUTHZ-RESOURCE-INVALID",
        Error,
        &[Client],
        "AS invalid_target",
        "RFC 8707 §2; conformance resource-parameter-valid-uri",
        "resource is not an absolute URI or has a fragment (error), or has a query (info)",
        "Send the absolute resource URI without fragment."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(q) = authz_query(cx.view) else {
            return;
        };
        for (_, r) in q.0.iter().filter(|(k, _)| k == "resource") {
            if url::Url::parse(r).is_err() || r.contains('#') {
                out.push(
                    &Self::META,
                    format!("resource = \"{r}\" is not an absolute URI without fragment"),
                );
            } else if r.contains('?') {
                out.push(&Self::META, format!("resource = \"{r}\" has a query"))
                    .severity = Info;
            }
        }
    }
}

/// AUTHZ-REDIRECT-SCHEME.
pub struct RedirectScheme;
impl Rule for RedirectScheme {
    const META: RuleMeta = meta!(
        "AUTHZ-REDIRECT-SCHEME",
        Error,
        &[Client],
        "AS",
        "MCP 2025-11-25 Authorization \"Communication Security\"; RFC 8252 §7",
        "redirect_uri is neither https, loopback http, nor a private-use scheme",
        "Use an https redirect URI, http://127.0.0.1:<port>/…, or a reverse-domain private scheme."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(r) = authz_query(cx.view).and_then(|q| q.first("redirect_uri").map(str::to_owned))
        else {
            return;
        };
        let scheme = r.split(':').next().unwrap_or("").to_ascii_lowercase();
        let good = scheme == "https"
            || (scheme == "http" && !urls::is_insecure_http(&r))
            || (scheme.contains('.') && !r.starts_with(&format!("{scheme}://localhost")));
        if !good {
            out.push(&Self::META, format!("redirect_uri = {r}"));
        }
    }
}

/// AUTHZ-SCOPE-MALFORMED.
pub struct ScopeMalformed;
impl Rule for ScopeMalformed {
    const META: RuleMeta = meta!(
        "AUTHZ-SCOPE-MALFORMED",
        Warning,
        &[Client],
        "AS invalid_scope; CAI sent \" offline_access\"",
        "RFC 6749 §3.3; anthropics/claude-ai-mcp#453",
        "scope has leading, trailing or double spaces, or is empty",
        "Join scope tokens with single spaces; omit scope when empty."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(s) = authz_query(cx.view).and_then(|q| q.first("scope").map(str::to_owned)) else {
            return;
        };
        if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') || s.contains("  ") {
            out.push(&Self::META, format!("scope = \"{s}\""));
        }
    }
}

/// AUTHZ-SCOPE-STRATEGY.
pub struct ScopeStrategy;
impl Rule for ScopeStrategy {
    const META: RuleMeta = meta!(
        "AUTHZ-SCOPE-STRATEGY",
        Info,
        &[Client],
        "over- or under-privileged tokens; repeated 403",
        "MCP 2025-11-25 \"Scope Selection Strategy\"; conformance scope-from-*",
        "scope does not follow challenge scope → PRM scopes_supported → omit",
        "Request the challenge's scope, else the PRM's scopes_supported, else no scope."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let (Some(q), Some(f)) = (authz_query(cx.view), cx.flow) else {
            return;
        };
        let set = |s: &str| {
            let mut v: Vec<String> = s
                .split_whitespace()
                .filter(|t| *t != "offline_access")
                .map(str::to_owned)
                .collect();
            v.sort();
            v
        };
        let sent = q.first("scope").map(set).unwrap_or_default();
        let expected = f
            .challenges
            .iter()
            .rev()
            .find_map(|c| c.scope.clone())
            .map(|s| ("the challenge's scope", set(&s)))
            .or_else(|| {
                f.prm_doc()
                    .and_then(|d| crate::parse::metadata::str_list(d, "scopes_supported"))
                    .map(|v| ("PRM scopes_supported", set(&v.join(" "))))
            });
        match expected {
            Some((from, want)) if want != sent => {
                out.push(
                    &Self::META,
                    format!("scope {sent:?} differs from {from} {want:?}"),
                );
            }
            None if !sent.is_empty() => {
                out.push(&Self::META, format!("scope {sent:?} sent although neither the challenge nor the PRM names scopes"));
            }
            _ => {}
        }
    }
}

/// AUTHZ-OFFLINE-UNADVERTISED.
pub struct OfflineUnadvertised;
impl Rule for OfflineUnadvertised {
    const META: RuleMeta = meta!(
        "AUTHZ-OFFLINE-UNADVERTISED",
        Warning,
        &[Client],
        "AS invalid_scope",
        "MCP 2026-07-28 \"Refresh Tokens\"; conformance sep-2207-offline-access-not-requested",
        "scope contains offline_access but the ASM does not list it",
        "Only add offline_access when the ASM's scopes_supported lists it."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(s) = authz_query(cx.view).and_then(|q| q.first("scope").map(str::to_owned)) else {
            return;
        };
        if !s.split_whitespace().any(|t| t == "offline_access") {
            return;
        }
        let listed = cx
            .flow
            .and_then(|f| f.asm_doc())
            .and_then(|d| crate::parse::metadata::str_list(d, "scopes_supported"))
            .is_some_and(|v| v.contains(&"offline_access"));
        if !listed {
            out.push(
                &Self::META,
                "offline_access requested but not in the ASM's scopes_supported",
            );
        }
    }
}

/// AUTHZ-RESOURCE-REJECTED.
pub struct ResourceRejected;
impl Rule for ResourceRejected {
    const META: RuleMeta = RuleMeta {
        on: &[Phase::Authorize, Phase::Callback],
        ..meta!(
            "AUTHZ-RESOURCE-REJECTED",
            Warning,
            &[As, Client],
            "CC, CAI against Entra v2",
            "RFC 8707 §2; anthropics/claude-code#73460, anthropics/claude-ai-mcp#514, microsoft/azure-devops-mcp#1511",
            "The AS rejects the resource parameter (invalid_target, AADSTS9010010)",
            "Make the AS accept the MCP URL as resource (Entra: express it as a scope prefix / app ID URI), or align PRM resource with what the AS knows."
        )
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let cb_err = cx.callback.and_then(|v| v.get("error").map(str::to_owned));
        let b = body(ex).unwrap_or("");
        if cb_err.as_deref() == Some("invalid_target")
            || b.contains("AADSTS9010010")
            || (status(ex).is_some_and(|s| s >= 400) && b.contains("invalid_target"))
        {
            out.push(
                &Self::META,
                "the AS rejected the resource parameter (invalid_target / AADSTS9010010)",
            );
        }
    }
}

/// AUTHZ-307-AFTER-POST.
pub struct Redirect307AfterPost;
impl Rule for Redirect307AfterPost {
    const META: RuleMeta = RuleMeta {
        on: &[Phase::Authorize, Phase::Callback],
        ..meta!(
            "AUTHZ-307-AFTER-POST",
            Error,
            &[As],
            "CAI (callback accepts GET only), CC loopback listener",
            "anthropics/claude-ai-mcp#313 → #250; RFC 9700 §4.12",
            "A consent POST answered with 307/308 to the redirect_uri",
            "Redirect to the client's redirect_uri with 302 or 303 so the browser switches to GET."
        )
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback.filter(|v| v.via_location) else {
            return;
        };
        if method(ex) == "POST" && matches!(v.redirect_status, Some(307 | 308)) {
            out.push(
                &Self::META,
                format!(
                    "POST {} → {} to {}: the browser will re-POST to the callback",
                    ex.request.url,
                    v.redirect_status.unwrap_or(0),
                    urls::without_query(v.url)
                ),
            );
        }
    }
}

/// AUTHZ-FORM-POST.
pub struct FormPost;
impl Rule for FormPost {
    const META: RuleMeta = meta!(
        "AUTHZ-FORM-POST",
        Error,
        &[As],
        "CAI, CC (GET-only callbacks)",
        "OAuth 2.0 Form Post Response Mode; anthropics/claude-ai-mcp#250",
        "The authorization response is delivered by an auto-submitting POST form",
        "Return the code with a 302/303 redirect (query response mode), not response_mode=form_post."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let q = cx.view.query();
        if q.first("response_mode") == Some("form_post") {
            out.push(&Self::META, "response_mode=form_post requested");
            return;
        }
        if status(ex) != Some(200) || !looks_html(ex) {
            return;
        }
        let b = body(ex).unwrap_or("").to_ascii_lowercase();
        let redirects: Vec<String> = cx
            .flow
            .map(|f| {
                f.authorizes
                    .iter()
                    .filter_map(|a| a.redirect_uri.clone())
                    .collect()
            })
            .unwrap_or_default();
        let posts = b.contains("method=\"post\"")
            || b.contains("method='post'")
            || b.contains("method=post");
        let to_cb = q
            .first("redirect_uri")
            .into_iter()
            .map(str::to_owned)
            .chain(redirects)
            .any(|r| b.contains(&r.to_ascii_lowercase()));
        if posts
            && to_cb
            && (b.contains("name=\"code\"") || b.contains("name='code'") || b.contains("name=code"))
        {
            out.push(
                &Self::META,
                "200 HTML page with a POST form carrying the code to the redirect_uri",
            );
        }
    }
}

/// AUTHZ-ERROR-NOT-REDIRECTED.
pub struct ErrorNotRedirected;
impl Rule for ErrorNotRedirected {
    const META: RuleMeta = meta!(
        "AUTHZ-ERROR-NOT-REDIRECTED",
        Warning,
        &[As],
        "client waits until timeout and cannot show a cause",
        "OAuth 2.1 §4.1.2.1",
        "The AS shows an error page instead of redirecting with error=",
        "For a valid client and redirect_uri, redirect back with error=…&error_description=…&state=…."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(q) = authz_query(cx.view) else {
            return;
        };
        let Some(st) = status(ex).filter(|s| (400..500).contains(s)) else {
            return;
        };
        let b = body(ex).unwrap_or("");
        let known = [
            "invalid_scope",
            "invalid_target",
            "access_denied",
            "unsupported_response_type",
            "invalid_request",
        ]
        .iter()
        .find(|e| b.contains(**e));
        if let (Some(e), true) = (known, q.has("redirect_uri")) {
            out.push(
                &Self::META,
                format!("authorize answered {st} with {e} on an error page instead of redirecting"),
            );
        }
    }
}

/// AUTHZ-LOOPBACK-PORT-REJECTED.
pub struct LoopbackPortRejected;
impl Rule for LoopbackPortRejected {
    const META: RuleMeta = meta!(
        "AUTHZ-LOOPBACK-PORT-REJECTED",
        Error,
        &[As],
        "CC (random port), PY/TS local clients",
        "RFC 8252 §7.3; anthropics/claude-code#37747; PrefectHQ/fastmcp#3574",
        "A loopback redirect_uri rejected although it matches a registered URI except for the port",
        "Ignore the port when matching loopback redirect URIs (RFC 8252 §7.3)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(r) = authz_query(cx.view).and_then(|q| q.first("redirect_uri").map(str::to_owned))
        else {
            return;
        };
        if !status(ex).is_some_and(|s| (400..500).contains(&s)) || !urls::is_loopback_url(&r) {
            return;
        }
        let port_only = cx.flow.is_some_and(|f| {
            f.registrations
                .iter()
                .flat_map(|g| &g.redirect_uris)
                .any(|g| g != &r && urls::same_ignoring_loopback_port(g, &r))
        });
        if port_only {
            out.push(&Self::META, format!("redirect_uri {r} rejected with {} although it matches a registered loopback URI except for the port", status(ex).unwrap_or(0)));
        }
    }
}

#[cfg(test)]
mod tests;
