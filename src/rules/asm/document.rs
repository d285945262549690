//! ASM-*: the authorization server metadata document (RFC 8414): where it is served, its issuer, required fields and endpoints.

use serde_json::Value;

use crate::flow::Flow;
use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::metadata::{show, str_list};
use crate::parse::urls::{self, UrlDiff};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;

pub(super) const AS: &[Phase] = &[Phase::DiscoveryAs];
pub(super) const ENDPOINTS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
];

/// The issuer the client derived for this ASM URL.
pub fn derived_issuer(flow: Option<&Flow>, url: &str) -> Option<String> {
    let from_prm = flow.and_then(|f| {
        f.prm_auth_servers()
            .into_iter()
            .find(|i| urls::asm_candidates(i).iter().any(|c| c == url))
            .map(str::to_owned)
    });
    from_prm.or_else(|| urls::issuer_from_asm_url(url))
}

/// ASM-NOT-FOUND.
pub struct NotFound;
impl Rule for NotFound {
    const META: RuleMeta = RuleMeta {
        id: "ASM-NOT-FOUND",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: &[],
        who: &[As, Rs],
        breaks: "CAI synthesizes /authorize, /token, /register on the MCP origin; TS uses defaults; CC stalls",
        source: "MCP 2025-11-25 Overview 5 (MUST provide RFC 8414 or OIDC discovery)",
        title: "Every candidate ASM URL for the chosen issuer answers 4xx",
        fix: "Serve RFC 8414 metadata at /.well-known/oauth-authorization-server<issuer path> (or OIDC discovery).",
    };
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if f.asm.is_empty()
            || f.asm_doc().is_some()
            || !f
                .asm
                .iter()
                .all(|d| d.status.is_some_and(|s| (400..500).contains(&s)))
        {
            return;
        }
        let issuer = f.prm_auth_servers().first().map(|s| s.to_string());
        let all_tried = issuer.as_deref().is_some_and(|i| {
            urls::asm_candidates(i)
                .iter()
                .all(|c| f.asm.iter().any(|d| &d.url == c))
        });
        if all_tried || cx.finishing {
            let list: Vec<String> = f
                .asm
                .iter()
                .map(|d| format!("{} → {}", d.url, d.status.unwrap_or(0)))
                .collect();
            out.once(
                "nf",
                &Self::META,
                format!(
                    "no ASM found for issuer {}: {}",
                    issuer.as_deref().unwrap_or("(unknown)"),
                    list.join(", ")
                ),
            )
            .exchange = f.asm.last().map(|d| d.step.exchange);
        }
    }
}

/// ASM-PATH-ISSUER-ROOT-ONLY.
pub struct PathIssuerRootOnly;
impl Rule for PathIssuerRootOnly {
    const META: RuleMeta = RuleMeta {
        id: "ASM-PATH-ISSUER-ROOT-ONLY",
        severity: Warning,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "path-aware clients never try root: CAI, TS, PY; conformance authorization-server-metadata-wrong-path",
        source: "RFC 8414 §3.1; MCP 2025-11-25 ASM discovery order",
        title: "An issuer with a path is served only at the root well-known URL",
        fix: "Serve the metadata at /.well-known/oauth-authorization-server<issuer path> (path inserted after the host).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let p = cx.view.path();
        if p != "/.well-known/oauth-authorization-server"
            && p != "/.well-known/openid-configuration"
        {
            return;
        }
        let Some(iss) = json_200(cx.view)
            .and_then(|d| d.get("issuer").and_then(Value::as_str).map(str::to_owned))
        else {
            return;
        };
        if !urls::raw_path(&iss).trim_end_matches('/').is_empty() {
            out.push(
                &Self::META,
                format!(
                    "issuer \"{iss}\" has a path but its metadata came from root {}",
                    ex.request.url
                ),
            );
        }
    }
}

/// ASM-ISSUER-MISMATCH.
pub struct IssuerMismatch;
impl Rule for IssuerMismatch {
    const META: RuleMeta = RuleMeta {
        id: "ASM-ISSUER-MISMATCH",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As, Rs],
        breaks: "TS v2 (IssuerMismatchError), Copilot CLI, opencode, Pi/rmcp, Hermes (Claude Desktop is lenient)",
        source: "RFC 8414 §3.3; OIDC Discovery §4.3; MCP 2026-07-28; conformance sep-2468-client-validate-metadata-issuer",
        title: "ASM `issuer` differs from the issuer the client derived (byte comparison)",
        fix: "Make `issuer` byte-identical to the PRM authorization_servers entry (same trailing slash, same path), or change the PRM entry to the AS's real issuer.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(d), Some(derived)) =
            (json_200(cx.view), derived_issuer(cx.flow, &ex.request.url))
        else {
            return;
        };
        let Some(iss) = d.get("issuer").and_then(Value::as_str) else {
            return;
        };
        let diff = urls::compare(iss, &derived);
        if diff != UrlDiff::Same {
            let label = match diff {
                UrlDiff::Origin => "different host",
                other => other.label(),
            };
            out.push(
                &Self::META,
                format!("issuer \"{iss}\" ≠ derived issuer \"{derived}\" ({label})"),
            );
        }
    }
}

/// ASM-ISSUER-SYNTAX.
pub struct IssuerSyntax;
impl Rule for IssuerSyntax {
    const META: RuleMeta = RuleMeta {
        id: "ASM-ISSUER-SYNTAX",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "all",
        source: "RFC 8414 §2",
        title: "ASM `issuer` is missing, not https, or has a query or fragment",
        fix: "Set `issuer` to an https URL without query or fragment.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        let why = match d.get("issuer") {
            None => Some("missing".to_string()),
            Some(Value::String(s)) if urls::is_insecure_http(s) || !s.starts_with("http") => {
                Some(format!("\"{s}\" is not https"))
            }
            Some(Value::String(s)) if s.contains('?') || s.contains('#') => {
                Some(format!("\"{s}\" has a query or fragment"))
            }
            Some(Value::String(_)) => None,
            Some(v) => Some(format!("{} is not a string", show(v))),
        };
        if let Some(w) = why {
            out.push(&Self::META, format!("issuer {w}"));
        }
    }
}

/// ASM-REQUIRED-MISSING.
pub struct RequiredMissing;
impl Rule for RequiredMissing {
    const META: RuleMeta = RuleMeta {
        id: "ASM-REQUIRED-MISSING",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS (schema requires response_types_supported)",
        source: "RFC 8414 §2; conformance authorization-server-metadata",
        title: "ASM lacks authorization_endpoint, token_endpoint or response_types_supported",
        fix: "Publish authorization_endpoint, token_endpoint and response_types_supported: [\"code\"].",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        let missing: Vec<&str> = [
            "authorization_endpoint",
            "token_endpoint",
            "response_types_supported",
        ]
        .into_iter()
        .filter(|k| !d.contains_key(*k))
        .collect();
        if !missing.is_empty() {
            out.push(&Self::META, format!("missing {}", missing.join(", ")));
        }
    }
}

/// ASM-NO-CODE.
pub struct NoCode;
impl Rule for NoCode {
    const META: RuleMeta = RuleMeta {
        id: "ASM-NO-CODE",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS startAuthorization throws \"Incompatible auth server\"",
        source: "RFC 8414 §2; OAuth 2.1",
        title: "response_types_supported lacks code",
        fix: "Support and advertise response_type `code`.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(r) = json_200(cx.view).and_then(|d| {
            str_list(d, "response_types_supported")
                .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>())
        }) {
            if !r.iter().any(|t| t == "code") {
                out.push(&Self::META, format!("response_types_supported = {r:?}"));
            }
        }
    }
}

/// ASM-NO-PKCE.
pub struct NoPkce;
impl Rule for NoPkce {
    const META: RuleMeta = RuleMeta {
        id: "ASM-NO-PKCE",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "2025-11-25 clients MUST refuse; conformance (TS tolerates)",
        source: "RFC 8414 §2; MCP 2025-11-25 \"Authorization Code Protection\"",
        title: "code_challenge_methods_supported is absent",
        fix: "Advertise \"code_challenge_methods_supported\": [\"S256\"].",
    };
    const REVISIONS: Revisions = Revisions::ALL
        .at(Revision::R2025_03_26, crate::model::Severity::Warning)
        .at(Revision::R2025_06_18, crate::model::Severity::Warning);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        if !d.contains_key("code_challenge_methods_supported") {
            out.push(
                &Self::META,
                "code_challenge_methods_supported is absent (clients must assume no PKCE)",
            );
        }
    }
}

/// ASM-NO-S256.
pub struct NoS256;
impl Rule for NoS256 {
    const META: RuleMeta = RuleMeta {
        id: "ASM-NO-S256",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS throws; all 2025-11-25 clients",
        source: "OAuth 2.1 §4.1.1; MCP 2025-11-25",
        title: "code_challenge_methods_supported lacks S256",
        fix: "Support S256 and list it in code_challenge_methods_supported.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(m) = json_200(cx.view)
            .and_then(|d| str_list(d, "code_challenge_methods_supported").map(|v| v.join(",")))
        {
            if !m.split(',').any(|x| x == "S256") {
                out.push(
                    &Self::META,
                    format!("code_challenge_methods_supported = [{m}]"),
                );
            }
        }
    }
}

/// ASM-OIDC-FIELDS.
pub struct OidcFields;
impl Rule for OidcFields {
    const META: RuleMeta = RuleMeta {
        id: "ASM-OIDC-FIELDS",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS (OpenIdProviderMetadataSchema requires all three)",
        source: "OIDC Discovery §3",
        title: "An openid-configuration document lacks required OIDC members",
        fix: "Add jwks_uri, subject_types_supported and id_token_signing_alg_values_supported, or serve RFC 8414 metadata instead.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !ex.request.url.contains("openid-configuration") {
            return;
        }
        let Some(d) = json_200(cx.view) else { return };
        let missing: Vec<&str> = [
            "jwks_uri",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ]
        .into_iter()
        .filter(|k| !d.contains_key(*k))
        .collect();
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!("OIDC discovery document lacks {}", missing.join(", ")),
            );
        }
    }
}

/// ASM-ENDPOINT-INVALID.
pub struct EndpointInvalid;
impl Rule for EndpointInvalid {
    const META: RuleMeta = RuleMeta {
        id: "ASM-ENDPOINT-INVALID",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS (SafeUrl)",
        source: "RFC 8414 §2",
        title: "An endpoint value is relative, unparsable, or not http(s)",
        fix: "Publish absolute https URLs for every endpoint.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        for k in ENDPOINTS {
            let Some(v) = d.get(*k) else { continue };
            let good = v
                .as_str()
                .and_then(|s| url::Url::parse(s).ok())
                .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
            if !good && !v.is_null() {
                out.push(
                    &Self::META,
                    format!("{k} = {} is not an absolute http(s) URL", show(v)),
                );
            }
        }
    }
}

/// ASM-INTERNAL-HOST.
pub struct InternalHost;
impl Rule for InternalHost {
    const META: RuleMeta = RuleMeta {
        id: "ASM-INTERNAL-HOST",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As, Infra],
        breaks: "CAI (token endpoint unreachable), all remote clients",
        source: "RFC 8414 §2; anthropics/claude-ai-mcp#155",
        title: "An endpoint's host is internal although the document was fetched from a public host",
        fix: "Configure the AS's public base URL explicitly instead of deriving it from Host / X-Forwarded-* behind the proxy.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        let fetched = urls::host(client_url(ex)).unwrap_or_default();
        if urls::private_host_kind(&fetched).is_some() {
            return;
        }
        for k in ENDPOINTS {
            let Some(h) = d.get(*k).and_then(Value::as_str).and_then(urls::host) else {
                continue;
            };
            if let Some(kind) = urls::private_host_kind(&h) {
                out.push(
                    &Self::META,
                    format!("{k} points at {h} ({kind}) while the metadata came from {fetched}"),
                );
            }
        }
    }
}

/// ASM-NO-REGISTRATION-NO-CIMD.
pub struct NoRegistrationNoCimd;
impl Rule for NoRegistrationNoCimd {
    const META: RuleMeta = RuleMeta {
        id: "ASM-NO-REGISTRATION-NO-CIMD",
        severity: Warning,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "CC \"Incompatible auth server: does not support dynamic client registration\"; CAI needs a manual client id",
        source: "MCP 2025-06-18 DCR section, 2025-11-25 \"Client Registration Approaches\"",
        title: "No registration_endpoint and no client_id_metadata_document_supported",
        fix: "Offer DCR (registration_endpoint) or CIMD (client_id_metadata_document_supported: true).",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        if !d.contains_key("registration_endpoint")
            && d.get("client_id_metadata_document_supported") != Some(&Value::Bool(true))
        {
            out.push(
                &Self::META,
                "neither registration_endpoint nor client_id_metadata_document_supported: true",
            );
        }
    }
}
