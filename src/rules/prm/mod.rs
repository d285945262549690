//! PRM-*: the protected resource metadata document (RFC 9728) and how it was fetched
//!. Resource comparisons are byte-exact, with a label for how they differ.

use serde_json::Value;

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::urls::{self, UrlDiff};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &Prm401,
    &NotOk,
    &Absent,
    &ResourceMissing,
    &ResourceNeRequestUrl,
    &ResourceNeLocation,
    &ResourceFragment,
    &ResourceTrailingSlash,
    &NoAuthServers,
    &AsNotIssuer,
    &MultipleAs,
    &BearerMethods,
    &ScopesOffline,
];

const PRM: &[Phase] = &[Phase::DiscoveryPrm];

fn via_challenge(cx: &Cx<'_>, ex: &Exchange) -> bool {
    cx.flow.is_some_and(|f| {
        f.challenges
            .iter()
            .any(|c| c.resource_metadata.as_deref() == Some(ex.request.url.as_str()))
    })
}

/// PRM-401.
pub struct Prm401;
impl Rule for Prm401 {
    const META: RuleMeta = RuleMeta {
        id: "PRM-401",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "CAI (\"Claude Web gets confused\"); TS silently falls back to the MCP origin as AS",
        source: "RFC 9728 §3.2 (success is 200); TS SDK discoverOAuthServerInfo fallback",
        title: "The PRM URL answers 401/403 (auth middleware covers /.well-known/*)",
        fix: "Exempt /.well-known/oauth-protected-resource* from authentication; it must answer 200 to anonymous GETs.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if rh(ex, "cf-mitigated").is_some() || rh(ex, "x-vercel-mitigated").is_some() {
            return; // a WAF challenge (GEN-WAF-CHALLENGE), not auth middleware
        }
        if let Some(st @ (401 | 403)) = status(ex) {
            out.push(&Self::META, format!("GET {} answered {st}", ex.request.url));
        }
    }
}

/// PRM-NOT-200.
pub struct NotOk;
impl Rule for NotOk {
    const META: RuleMeta = RuleMeta {
        id: "PRM-NOT-200",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs, Infra],
        breaks: "all",
        source: "RFC 9728 §3.2",
        title: "The PRM URL answers 3xx, 5xx or another non-200",
        fix: "Serve the PRM document with 200 at this exact URL (no redirects).",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        match status(ex) {
            Some(200 | 401 | 403 | 404) | None => {}
            Some(st) => {
                out.push(&Self::META, format!("GET {} answered {st}", ex.request.url));
            }
        }
    }
}

/// PRM-ABSENT.
pub struct Absent;
impl Rule for Absent {
    const META: RuleMeta = RuleMeta {
        id: "PRM-ABSENT",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: &[],
        who: &[Rs],
        breaks: "CAI (ASM-only fallback removed 2026-01-08); CC; conformance",
        source: "MCP 2025-06-18 Overview 3 (MUST implement RFC 9728); claude-ai-mcp fallback deprecation",
        title: "No resource_metadata in the challenge and both well-known PRM URLs answer 404",
        fix: "Serve RFC 9728 metadata at /.well-known/oauth-protected-resource<mcp path> (and the root) and name it in the challenge's resource_metadata.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if f.prm.is_empty() || f.prm.iter().any(|p| p.status != Some(404)) {
            return;
        }
        if f.challenges.iter().any(|c| c.resource_metadata.is_some()) {
            return;
        }
        let tried = |u: &str| f.prm.iter().any(|p| p.url == u);
        let both = f
            .mcp_url
            .as_deref()
            .and_then(urls::prm_well_known)
            .is_some_and(|(ins, root)| ins.as_deref().is_none_or(tried) && tried(&root));
        if both || cx.finishing {
            let list: Vec<&str> = f.prm.iter().map(|p| p.url.as_str()).collect();
            let ex = f.prm.last().map(|p| p.step.exchange);
            out.once(
                "absent",
                &Self::META,
                format!(
                    "no resource_metadata in any challenge and every PRM probe answered 404: {}",
                    list.join(", ")
                ),
            )
            .exchange = ex;
        }
    }
}

/// PRM-RESOURCE-MISSING.
pub struct ResourceMissing;
impl Rule for ResourceMissing {
    const META: RuleMeta = RuleMeta {
        id: "PRM-RESOURCE-MISSING",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "TS (schema), Strict",
        source: "RFC 9728 §2 (REQUIRED)",
        title: "PRM `resource` is absent, not a string, or not an absolute URI",
        fix: "Set `resource` to the exact MCP URL clients use, e.g. \"https://host/mcp\".",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        match d.get("resource") {
            Some(Value::String(s)) if s.contains("://") => {}
            Some(v) => {
                out.push(
                    &Self::META,
                    format!(
                        "resource = {} is not an absolute URI string",
                        crate::parse::metadata::show(v)
                    ),
                );
            }
            None => {
                out.push(&Self::META, "PRM has no `resource` member");
            }
        }
    }
}

/// PRM-RESOURCE-NE-REQUEST-URL.
pub struct ResourceNeRequestUrl;
impl Rule for ResourceNeRequestUrl {
    const META: RuleMeta = RuleMeta {
        id: "PRM-RESOURCE-NE-REQUEST-URL",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "TS (\"Protected resource … does not match expected\"); conformance resource-mismatch-rejected; CAI",
        source: "RFC 9728 §3.3 ¶2, §7.3; MCP 2025-11-25 Authorization \"Canonical Server URI\"",
        title: "PRM `resource` (fetched via the challenge) differs from the MCP URL",
        fix: "Make PRM `resource` byte-identical to the MCP URL clients use (same scheme, host, port, path, no extra slash).",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(d), Some(mcp)) = (
            json_200(cx.view),
            cx.flow.and_then(|f| f.mcp_url.as_deref()),
        ) else {
            return;
        };
        if !via_challenge(cx, ex) {
            return;
        }
        let Some(res) = d.get("resource").and_then(Value::as_str) else {
            return;
        };
        let diff = urls::compare(res, mcp);
        if diff == UrlDiff::Same {
            return;
        }
        let prefix = sdk_accepts(res, mcp);
        let f = out.push(
            &Self::META,
            format!(
                "resource \"{res}\" ≠ MCP URL \"{mcp}\" ({}{})",
                diff.label(),
                if prefix {
                    "; a same-origin path prefix, which the TS and Python SDK clients accept"
                } else {
                    ""
                }
            ),
        );
        if prefix {
            f.severity = Warning;
            f.breaks = "Strict clients that compare byte for byte (RFC 9728 §3.3); the TS SDK 1.32 and Python SDK 2.3 clients accept it and send this `resource`".into();
        }
    }
}

/// Whether the TS SDK (`checkResourceAllowed`) and the Python SDK (`check_resource_allowed`)
/// clients accept PRM `resource` for `mcp`: same origin, and the resource's path is a
/// segment-wise prefix of the MCP URL's path (an origin-only resource covers every path).
fn sdk_accepts(resource: &str, mcp: &str) -> bool {
    let (Ok(r), Ok(m)) = (url::Url::parse(resource), url::Url::parse(mcp)) else {
        return false;
    };
    if r.origin() != m.origin() || m.path().len() < r.path().len() {
        return false;
    }
    let with_slash = |p: &str| {
        if p.ends_with('/') {
            p.to_string()
        } else {
            format!("{p}/")
        }
    };
    with_slash(m.path()).starts_with(&with_slash(r.path()))
}

/// PRM-RESOURCE-NE-LOCATION.
pub struct ResourceNeLocation;
impl Rule for ResourceNeLocation {
    const META: RuleMeta = RuleMeta {
        id: "PRM-RESOURCE-NE-LOCATION",
        severity: Warning,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "Strict §3.3 clients reject (TS is lenient)",
        source: "RFC 9728 §3.3 ¶1",
        title: "A well-known PRM's `resource` differs from the identifier its URL was built from",
        fix: "Serve each resource's PRM at /.well-known/oauth-protected-resource<resource path>, and name that URL in the challenge.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if via_challenge(cx, ex) {
            return;
        }
        let (Some(d), Some(expected)) = (
            json_200(cx.view),
            urls::resource_from_prm_url(&ex.request.url),
        ) else {
            return;
        };
        let Some(res) = d.get("resource").and_then(Value::as_str) else {
            return;
        };
        let diff = urls::compare(res, &expected);
        if !matches!(diff, UrlDiff::Same | UrlDiff::TrailingSlash) {
            out.push(
                &Self::META,
                format!(
                    "{} serves resource \"{res}\", but that URL stands for \"{expected}\" ({})",
                    ex.request.url,
                    diff.label()
                ),
            );
        }
    }
}

/// PRM-RESOURCE-FRAGMENT.
pub struct ResourceFragment;
impl Rule for ResourceFragment {
    const META: RuleMeta = RuleMeta {
        id: "PRM-RESOURCE-FRAGMENT",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "TS v2 rejects fragments",
        source: "RFC 8707 §2; RFC 9728 §1.2; modelcontextprotocol/typescript-sdk PR 2092",
        title: "PRM `resource` has a fragment (error) or a query (info)",
        fix: "Use a resource URI without fragment or query.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(res) = json_200(cx.view)
            .and_then(|d| d.get("resource").and_then(Value::as_str).map(str::to_owned))
        else {
            return;
        };
        if res.contains('#') {
            out.push(&Self::META, format!("resource \"{res}\" has a fragment"));
        } else if res.contains('?') {
            out.push(&Self::META, format!("resource \"{res}\" has a query"))
                .severity = Info;
        }
    }
}

/// PRM-RESOURCE-TRAILING-SLASH.
pub struct ResourceTrailingSlash;
impl Rule for ResourceTrailingSlash {
    const META: RuleMeta = RuleMeta {
        id: "PRM-RESOURCE-TRAILING-SLASH",
        severity: Warning,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs, Client],
        breaks: "exact-match AS/RS; Entra AADSTS9010010; anthropics/claude-code#52871; vercel/ai#13988",
        source: "MCP 2025-11-25 Authorization \"Canonical Server URI\" (SHOULD use the form without a trailing slash)",
        title: "PRM `resource` and the MCP URL differ by a trailing slash, or `resource` is a bare origin",
        fix: "Publish the resource without a trailing slash and exactly as clients call it.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(res) = json_200(cx.view)
            .and_then(|d| d.get("resource").and_then(Value::as_str).map(str::to_owned))
        else {
            return;
        };
        let mcp = cx.flow.and_then(|f| f.mcp_url.as_deref());
        if let Some(m) = mcp.filter(|m| urls::compare(&res, m) == UrlDiff::TrailingSlash) {
            out.push(
                &Self::META,
                format!("resource \"{res}\" vs MCP URL \"{m}\": trailing slash differs"),
            );
        } else if urls::raw_path(&res) == "/" && mcp.is_none_or(|m| m != res) {
            out.push(
                &Self::META,
                format!("resource \"{res}\" is a bare origin with a trailing slash"),
            );
        }
    }
}

/// PRM-NO-AUTH-SERVERS.
pub struct NoAuthServers;
impl Rule for NoAuthServers {
    const META: RuleMeta = RuleMeta {
        id: "PRM-NO-AUTH-SERVERS",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "TS falls back to the legacy path (MCP origin as AS); CAI",
        source: "MCP 2025-06-18 and later (MUST contain at least one)",
        title: "PRM `authorization_servers` is absent or empty",
        fix: "List the issuer identifier of your AS, e.g. \"authorization_servers\": [\"https://auth.example.com\"].",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        if d.get("authorization_servers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            out.push(&Self::META, "authorization_servers is absent or empty");
        }
    }
}

/// PRM-AS-NOT-ISSUER.
pub struct AsNotIssuer;
impl Rule for AsNotIssuer {
    const META: RuleMeta = RuleMeta {
        id: "PRM-AS-NOT-ISSUER",
        severity: Error,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "all (ASM URL built wrong)",
        source: "RFC 9728 §2; RFC 8414 §2",
        title: "An authorization_servers entry is not an issuer identifier",
        fix: "List issuer identifiers (the AS's `issuer`, e.g. https://auth.example.com/tenant), not metadata or endpoint URLs.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        let Some(list) = d.get("authorization_servers").and_then(Value::as_array) else {
            return;
        };
        for v in list {
            let why = match v.as_str() {
                None => Some("not a string".to_string()),
                Some(s)
                    if !(s.starts_with("https://")
                        || s.starts_with("http://") && !urls::is_insecure_http(s)) =>
                {
                    Some("not https".into())
                }
                Some(s) if s.contains('?') || s.contains('#') => {
                    Some("has a query or fragment".into())
                }
                Some(s) => ["/.well-known/", "/authorize", "/token", "/oauth2/v2.0"]
                    .iter()
                    .find(|m| s.contains(**m))
                    .map(|m| format!("looks like an endpoint or document URL ({m})")),
            };
            if let Some(w) = why {
                out.push(
                    &Self::META,
                    format!(
                        "authorization_servers entry {}: {w}",
                        crate::parse::metadata::show(v)
                    ),
                );
            }
        }
    }
}

/// PRM-MULTIPLE-AS.
pub struct MultipleAs;
impl Rule for MultipleAs {
    const META: RuleMeta = RuleMeta {
        id: "PRM-MULTIPLE-AS",
        severity: Info,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "TS uses [0] only; Claude reportedly does not try later entries",
        source: "RFC 9728 §7.6; MCP 2026-07-28",
        title: "More than one authorization server is listed",
        fix: "Put the AS that MCP clients should use first.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let n = json_200(cx.view)
            .and_then(|d| {
                d.get("authorization_servers")
                    .and_then(Value::as_array)
                    .map(Vec::len)
            })
            .unwrap_or(0);
        if n > 1 {
            out.push(
                &Self::META,
                format!("{n} authorization servers listed; most clients use only the first"),
            );
        }
    }
}

/// PRM-BEARER-METHODS.
pub struct BearerMethods;
impl Rule for BearerMethods {
    const META: RuleMeta = RuleMeta {
        id: "PRM-BEARER-METHODS",
        severity: Warning,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "misleads clients; MCP allows only the header",
        source: "MCP 2025-11-25 Authorization \"Token Requirements\" (header MUST; query MUST NOT)",
        title: "bearer_methods_supported lacks header or contains query",
        fix: "Use \"bearer_methods_supported\": [\"header\"] (or omit it).",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        let Some(m) = crate::parse::metadata::str_list(d, "bearer_methods_supported") else {
            return;
        };
        if !m.contains(&"header") || m.contains(&"query") {
            out.push(&Self::META, format!("bearer_methods_supported = {m:?}"));
        }
    }
}

/// PRM-SCOPES-OFFLINE.
pub struct ScopesOffline;
impl Rule for ScopesOffline {
    const META: RuleMeta = RuleMeta {
        id: "PRM-SCOPES-OFFLINE",
        severity: Info,
        phase: Phase::DiscoveryPrm,
        on: PRM,
        who: &[Rs],
        breaks: "scope requests rejected by ASes that don't know it",
        source: "MCP 2026-07-28 \"Refresh Tokens\" (SHOULD NOT)",
        title: "PRM scopes_supported contains offline_access",
        fix: "Remove offline_access from the PRM's scopes_supported.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        if crate::parse::metadata::str_list(d, "scopes_supported")
            .is_some_and(|s| s.contains(&"offline_access"))
        {
            out.push(&Self::META, "scopes_supported contains offline_access");
        }
    }
}

#[cfg(test)]
mod tests;
