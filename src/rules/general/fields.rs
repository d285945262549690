//! GEN-* rules on JSON fields, URL schemes and addresses, timing, repeated parameters, TLS and caching.

use serde_json::Value;

use crate::model::Phase;
use crate::model::{ErrorKind, Exchange};
use crate::model::{Severity::*, Who::*};
use crate::parse::{metadata, urls};
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// GEN-JSON-CONTENT-TYPE.
pub struct JsonContentType;
impl Rule for JsonContentType {
    const META: RuleMeta = RuleMeta {
        id: "GEN-JSON-CONTENT-TYPE",
        severity: Warning,
        phase: Phase::Other,
        on: META_DOCS,
        who: &[Rs, As],
        breaks: "Strict parsers; conformance AS check fails (TS tolerates)",
        source: "RFC 8414 §3.2, RFC 9728 §3.2, RFC 7591 §3.2.1; conformance authorization-server-metadata",
        title: "A JSON body served without a JSON Content-Type",
        fix: "Send `Content-Type: application/json` with metadata, registration and token responses.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(b) = body(ex) else { return };
        if cx.view.response_json().is_none() || b.trim().is_empty() {
            return;
        }
        let m = media(ex);
        if !m.as_deref().is_some_and(is_json_media) {
            out.push(
                &Self::META,
                format!(
                    "JSON body served with Content-Type `{}`",
                    m.as_deref().unwrap_or("(none)")
                ),
            );
        }
    }
}

/// GEN-NULL-FIELD.
pub struct NullField;
impl Rule for NullField {
    const META: RuleMeta = RuleMeta {
        id: "GEN-NULL-FIELD",
        severity: Error,
        phase: Phase::Other,
        on: &[
            Phase::DiscoveryPrm,
            Phase::DiscoveryAs,
            Phase::Token,
            Phase::Refresh,
        ],
        who: &[Rs, As],
        breaks: "TS/CC: Zod \"expected string, received null\"",
        source: "RFC 8414 §3.2 / RFC 9728 §3.2 (omit what you don't have); anthropics/claude-code#67258",
        title: "A metadata or token-response member is JSON null",
        fix: "Omit members you have no value for instead of sending null.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = json_obj(cx.view).filter(|_| ok(ex)) else {
            return;
        };
        let nulls = metadata::null_members(d);
        if !nulls.is_empty() {
            out.push(
                &Self::META,
                format!("members set to null: {}", nulls.join(", ")),
            );
        }
    }
}

/// GEN-EMPTY-ARRAY.
pub struct EmptyArray;
impl Rule for EmptyArray {
    const META: RuleMeta = RuleMeta {
        id: "GEN-EMPTY-ARRAY",
        severity: Warning,
        phase: Phase::Other,
        on: &[Phase::DiscoveryPrm, Phase::DiscoveryAs],
        who: &[Rs, As],
        breaks: "clients build an empty or odd `scope` (anthropics/claude-ai-mcp#453)",
        source: "RFC 8414 §3.2 and RFC 9728 §3.2 (zero-element parameters MUST be omitted)",
        title: "A metadata member is an empty array",
        fix: "Omit zero-element members (e.g. drop `scopes_supported: []`).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = json_obj(cx.view).filter(|_| ok(ex)) else {
            return;
        };
        let empty = metadata::empty_array_members(d);
        if !empty.is_empty() {
            out.push(&Self::META, format!("empty arrays: {}", empty.join(", ")));
        }
    }
}

pub(super) const URL_MEMBERS: &[&str] = &[
    "resource",
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
];

/// GEN-NOT-HTTPS.
pub struct NotHttps;
impl Rule for NotHttps {
    const META: RuleMeta = RuleMeta {
        id: "GEN-NOT-HTTPS",
        severity: Error,
        phase: Phase::Other,
        on: &[Phase::DiscoveryPrm, Phase::DiscoveryAs, Phase::McpTransport],
        who: &[Rs, As],
        breaks: "TS (InsecureTokenEndpointError for non-loopback http), CAI",
        source: "MCP 2025-06-18 Authorization \"Communication Security\"; OAuth 2.1 §1.5; RFC 8414 §2",
        title: "An OAuth URL uses http: with a non-loopback host",
        fix: "Publish https URLs for the issuer, every endpoint, the PRM resource and resource_metadata (loopback http is fine for local development).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let mut bad = Vec::new();
        if let Some(d) = json_obj(cx.view).filter(|_| ok(ex)) {
            for k in URL_MEMBERS {
                if let Some(u) = d
                    .get(*k)
                    .and_then(Value::as_str)
                    .filter(|u| urls::is_insecure_http(u))
                {
                    bad.push(format!("{k}={u}"));
                }
            }
            for u in metadata::str_list(d, "authorization_servers").unwrap_or_default() {
                if urls::is_insecure_http(u) {
                    bad.push(format!("authorization_servers[]={u}"));
                }
            }
        }
        if let Some(p) = cx.view.challenges() {
            if let Some(u) = p
                .bearer()
                .and_then(|b| b.param("resource_metadata"))
                .filter(|u| urls::is_insecure_http(u))
            {
                bad.push(format!("resource_metadata={u}"));
            }
        }
        if !bad.is_empty() {
            out.push(
                &Self::META,
                format!("non-loopback http URLs: {}", bad.join(", ")),
            );
        }
    }
}

/// GEN-DANGEROUS-SCHEME.
pub struct DangerousScheme;
impl Rule for DangerousScheme {
    const META: RuleMeta = RuleMeta {
        id: "GEN-DANGEROUS-SCHEME",
        severity: Error,
        phase: Phase::Other,
        on: &[Phase::DiscoveryPrm, Phase::DiscoveryAs, Phase::Registration],
        who: &[Rs, As],
        breaks: "TS (SafeUrl schema rejects the document)",
        source: "MCP 2025-11-25 Security Best Practices (authorization URL scheme validation)",
        title: "A URL in metadata uses javascript:, data:, vbscript: or file:",
        fix: "Only publish http(s) URLs in metadata and registration responses.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_obj(cx.view) else { return };
        let mut bad = Vec::new();
        for (k, v) in d {
            let vals: Vec<&str> = match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            for s in vals {
                let l = s.trim().to_ascii_lowercase();
                if ["javascript:", "data:", "vbscript:", "file:"]
                    .iter()
                    .any(|p| l.starts_with(p))
                {
                    bad.push(format!("{k}={}", s.chars().take(40).collect::<String>()));
                }
            }
        }
        if !bad.is_empty() {
            out.push(
                &Self::META,
                format!("dangerous URL schemes: {}", bad.join(", ")),
            );
        }
    }
}

pub(super) fn first_contact(cx: &Cx<'_>) -> bool {
    match cx.phase {
        Phase::McpTransport => cx.flow.is_none_or(|f| f.mcp.is_empty()),
        Phase::DiscoveryAs => cx.flow.is_none_or(|f| f.asm.is_empty()),
        Phase::Token => cx.flow.is_none_or(|f| f.tokens.is_empty()),
        _ => false,
    }
}

/// GEN-PRIVATE-ADDRESS (info; a client profile such as claude-ai raises it to error).
pub struct PrivateAddress;
impl Rule for PrivateAddress {
    const META: RuleMeta = RuleMeta {
        id: "GEN-PRIVATE-ADDRESS",
        severity: Info,
        phase: Phase::Other,
        on: &[Phase::McpTransport, Phase::DiscoveryAs, Phase::Token],
        who: &[Rs, Infra],
        breaks: "CAI rejects before sending anything (error under the claude-ai profile); SSRF-hardened clients",
        source: "claude.com connector troubleshooting; MCP 2025-11-25 Security Best Practices (SSRF); RFC 9728 §7.7",
        title: "The MCP or OAuth host is loopback, private, CGNAT or link-local",
        fix: "For server-side clients (claude.ai, Desktop connectors) expose the server on a public address (a tunnel works); local clients such as Claude Code are fine.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        // The upstream URL: in reverse mode `client_url` is authtap's own listen address.
        let u = ex.request.url.as_str();
        let Some(h) = urls::host(u) else { return };
        if let Some(kind) = urls::private_host_kind(&h).filter(|_| first_contact(cx)) {
            out.push(&Self::META, format!("{} host {h} is {kind}", cx.phase));
        }
    }
}

/// GEN-NON-443 (info; a client profile such as claude-ai raises it to error).
pub struct Non443;
impl Rule for Non443 {
    const META: RuleMeta = RuleMeta {
        id: "GEN-NON-443",
        severity: Info,
        phase: Phase::Other,
        on: &[Phase::McpTransport, Phase::DiscoveryAs, Phase::Token],
        who: &[Rs, Infra],
        breaks: "CAI does not connect to other ports (error under the claude-ai profile)",
        source: "anthropics/claude-ai-mcp#85 (Anthropic staff)",
        title: "The MCP URL or an OAuth endpoint uses an explicit port other than 443",
        fix: "Serve the MCP server and the AS on https port 443 for claude.ai / Desktop connectors.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        // The upstream URL: in reverse mode `client_url` is authtap's own listen address.
        let u = ex.request.url.as_str();
        if let Some(p) = urls::non_default_port(u).filter(|p| *p != 443 && first_contact(cx)) {
            out.push(
                &Self::META,
                format!("{} URL {} uses port {p}", cx.phase, urls::without_query(u)),
            );
        }
    }
}

/// GEN-SLOW.
pub struct Slow;
impl Rule for Slow {
    const META: RuleMeta = RuleMeta {
        id: "GEN-SLOW",
        severity: Warning,
        phase: Phase::Other,
        on: META_DOCS,
        who: &[Rs, As],
        breaks: "CAI (a reported ~10 s budget on token exchange)",
        source: "anthropics/claude-ai-mcp#912 (reported threshold)",
        title: "A PRM/ASM/DCR/token response took longer than the threshold",
        fix: "Answer discovery, registration and token calls within a few seconds (cache metadata, avoid cold starts on these routes).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let ms = ex
            .timings
            .first_byte_ms
            .or(ex.timings.end_ms)
            .unwrap_or(0.0);
        if ms / 1000.0 > cx.config.slow_threshold_s {
            out.push(
                &Self::META,
                format!(
                    "{} response took {:.1} s (threshold {:.0} s)",
                    cx.phase,
                    ms / 1000.0,
                    cx.config.slow_threshold_s
                ),
            );
        }
    }
}

pub(super) const OAUTH_PARAMS: &[&str] = &[
    "code",
    "state",
    "iss",
    "client_id",
    "redirect_uri",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "response_type",
    "grant_type",
    "scope",
    "refresh_token",
];

/// GEN-DUP-PARAM.
pub struct DupParam;
impl Rule for DupParam {
    const META: RuleMeta = RuleMeta {
        id: "GEN-DUP-PARAM",
        severity: Warning,
        phase: Phase::Other,
        on: &[
            Phase::Authorize,
            Phase::Token,
            Phase::Refresh,
            Phase::Callback,
        ],
        who: &[Client, As],
        breaks: "conformance authorization-code-grant; many AS reject",
        source: "OAuth 2.1 §3.1 (parameters MUST NOT be included more than once)",
        title: "An OAuth parameter appears twice in one request or authorization response",
        fix: "Send each OAuth parameter once (only `resource` may repeat).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let mut sets = vec![("request query", cx.view.query())];
        if matches!(cx.phase, Phase::Token | Phase::Refresh) {
            sets.push(("form body", cx.view.form()));
        }
        if let Some(v) = cx.callback.filter(|v| v.via_location) {
            sets.push(("authorization response", v.query));
        }
        for (where_, p) in sets {
            let d: Vec<&str> = p
                .duplicated()
                .into_iter()
                .filter(|k| OAUTH_PARAMS.contains(k))
                .collect();
            if !d.is_empty() {
                out.push(
                    &Self::META,
                    format!("repeated in the {where_}: {}", d.join(", ")),
                );
            }
        }
    }
}

/// GEN-TLS.
pub struct Tls;
impl Rule for Tls {
    const META: RuleMeta = RuleMeta {
        id: "GEN-TLS",
        severity: Error,
        phase: Phase::Other,
        on: &[],
        who: &[Rs, Infra],
        breaks: "all remote clients",
        source: "RFC 9728 §7.3; OAuth 2.1 §1.5",
        title: "The upstream TLS handshake failed",
        fix: "Serve a valid, unexpired certificate for the host name with its full chain (test with `openssl s_client -connect host:443 -servername host`).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(e) = ex.error.as_ref().filter(|e| e.kind == ErrorKind::Tls) {
            out.push(
                &Self::META,
                format!(
                    "TLS to {} failed: {}",
                    cx.view.origin().unwrap_or_default(),
                    e.message
                ),
            );
        }
    }
}

/// GEN-METADATA-CACHED-LONG.
pub struct MetadataCachedLong;
impl Rule for MetadataCachedLong {
    const META: RuleMeta = RuleMeta {
        id: "GEN-METADATA-CACHED-LONG",
        severity: Info,
        phase: Phase::Other,
        on: &[Phase::DiscoveryPrm, Phase::DiscoveryAs],
        who: &[Infra],
        breaks: "fixes seem not to apply; stale documents keep being served",
        source: "RFC 9728 §7.10; RFC 9111 §5.2 (Cache-Control)",
        title: "Metadata served from a CDN cache with a long max-age",
        fix: "While debugging, serve /.well-known/* with `Cache-Control: no-store` and purge the CDN cache after each change.",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let cc = rh(ex, "cache-control").unwrap_or("").to_ascii_lowercase();
        let max_age = cc.split(',').find_map(|d| {
            d.trim()
                .strip_prefix("max-age=")?
                .trim()
                .parse::<u64>()
                .ok()
        });
        let cached = rh(ex, "age").is_some()
            || rh(ex, "cf-cache-status").is_some_and(|v| v.eq_ignore_ascii_case("hit"));
        if let Some(m) = max_age.filter(|m| *m > 86_400 && cached) {
            out.push(&Self::META, format!("served from cache with max-age={m} s"));
        }
    }
}
