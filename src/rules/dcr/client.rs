//! Client-side registration rules (DCR-REQ-*) and client ID metadata documents (CIMD-*).

use super::registration::*;
use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::metadata::{show, str_list};
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};
use crate::rules::util::*;
use serde_json::Value;

pub(super) fn authorize_client_id(view: &ExchangeView<'_>) -> Option<String> {
    let q = view.query();
    if !q.has("response_type") {
        return None;
    }
    q.first("client_id").map(str::to_owned)
}

/// DCR-REQ-MALFORMED.
pub struct ReqMalformed;
impl Rule for ReqMalformed {
    const META: RuleMeta = meta!(
        "DCR-REQ-MALFORMED",
        Error,
        &[Client],
        "AS rejects",
        "RFC 7591 §3.1, §2",
        "The registration request is not JSON, lacks redirect_uris, or has grant_types without authorization_code",
        "Send application/json with redirect_uris and grant_types including authorization_code."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let captured = ex
            .request
            .body
            .as_ref()
            .is_some_and(|b| !b.truncated && (b.text.is_some() || b.base64.is_some()));
        if !is_post(ex) || !captured {
            return;
        }
        let mut why = Vec::new();
        if qh(ex, "content-type")
            .is_none_or(|v| !v.to_ascii_lowercase().starts_with("application/json"))
        {
            why.push("Content-Type is not application/json".to_string());
        }
        match req_json_obj(cx.view) {
            None => why.push("body is not a JSON object".into()),
            Some(d) => {
                if !d.get("redirect_uris").is_some_and(Value::is_array) {
                    why.push("no redirect_uris".into());
                }
                if let Some(g) =
                    str_list(d, "grant_types").filter(|g| !g.contains(&"authorization_code"))
                {
                    why.push(format!("grant_types {g:?} lack authorization_code"));
                }
            }
        }
        if !why.is_empty() {
            out.push(&Self::META, why.join("; "));
        }
    }
}

/// DCR-REQ-NO-APP-TYPE.
pub struct ReqNoAppType;
impl Rule for ReqNoAppType {
    const META: RuleMeta = meta!(
        "DCR-REQ-NO-APP-TYPE",
        Warning,
        &[Client],
        "OIDC ASes (Auth0) reject native-style redirects for web clients",
        "MCP 2026-07-28 \"Application Type and Redirect URI Constraints\"; conformance sep-837; anthropics/claude-code#37747",
        "The registration omits application_type 2026-07-28, or claims web with loopback redirects",
        "Send application_type \"native\" for loopback/private-scheme redirects and \"web\" for https callbacks."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = req_json_obj(cx.view).filter(|_| is_post(ex)) else {
            return;
        };
        let app = d.get("application_type").and_then(Value::as_str);
        let loopback = str_list(d, "redirect_uris")
            .unwrap_or_default()
            .iter()
            .any(|u| urls::is_loopback_url(u));
        if app == Some("web") && loopback {
            out.push(
                &Self::META,
                "application_type \"web\" with loopback redirect URIs",
            );
        } else if app.is_none() && cx.protocol_version(ex) == Some("2026-07-28") {
            out.push(
                &Self::META,
                "no application_type (required from 2026-07-28)",
            );
        } else if app.is_none() && loopback {
            // Before 2026-07-28 the member is optional, so this is only a hint: an AS that
            // applies the OpenID Connect Dynamic Client Registration 1.0 §2 default ("web")
            // may refuse the loopback redirect URIs (better-auth does).
            out.push(
                &Self::META,
                "no application_type with loopback redirect URIs: an AS defaulting to \"web\" \
                 (OpenID Connect Dynamic Client Registration 1.0 §2) may refuse them",
            )
            .severity = crate::model::Severity::Info;
        }
    }
}

/// DCR-REQ-NO-REFRESH-GRANT.
pub struct ReqNoRefreshGrant;
impl Rule for ReqNoRefreshGrant {
    const META: RuleMeta = meta!(
        "DCR-REQ-NO-REFRESH-GRANT",
        Info,
        &[Client],
        "ASes that gate refresh tokens on registered grants issue none (hourly re-auth)",
        "MCP 2026-07-28 \"Refresh Tokens\"; conformance sep-2207-client-metadata-grant-types",
        "Registration grant_types lack refresh_token",
        "Register grant_types [\"authorization_code\", \"refresh_token\"]."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = req_json_obj(cx.view).filter(|_| is_post(ex)) else {
            return;
        };
        let g = str_list(d, "grant_types");
        if g.as_ref().is_none_or(|g| !g.contains(&"refresh_token")) {
            out.push(
                &Self::META,
                format!("grant_types = {:?}", g.unwrap_or_default()),
            );
        }
    }
}

/// CIMD-UNADVERTISED.
pub struct CimdUnadvertised;
impl Rule for CimdUnadvertised {
    const META: RuleMeta = RuleMeta {
        id: "CIMD-UNADVERTISED",
        severity: Warning,
        phase: Phase::Authorize,
        on: &[Phase::Authorize],
        who: &[Client, As],
        breaks: "AS answers invalid_client",
        source: "CIMD draft §5; MCP 2025-11-25 \"Client ID Metadata Documents\"",
        title: "A URL client_id is used but the ASM does not advertise CIMD",
        fix: "Advertise client_id_metadata_document_supported: true (AS) or register via DCR (client).",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(cid) = authorize_client_id(cx.view).filter(|c| c.starts_with("https://")) else {
            return;
        };
        let Some(d) = cx.flow.and_then(|f| f.asm_doc()) else {
            return;
        };
        if d.get("client_id_metadata_document_supported") != Some(&Value::Bool(true)) {
            out.push(&Self::META, format!("client_id {cid} is a metadata URL, but the ASM does not set client_id_metadata_document_supported"));
        }
    }
}

/// CIMD-URL-INVALID.
pub struct CimdUrlInvalid;
impl Rule for CimdUrlInvalid {
    const META: RuleMeta = RuleMeta {
        id: "CIMD-URL-INVALID",
        severity: Error,
        phase: Phase::Authorize,
        on: &[Phase::Authorize],
        who: &[Client],
        breaks: "AS rejects",
        source: "CIMD draft §3; MCP 2025-11-25",
        title: "A URL client_id that is not https, has no path, or has a fragment, userinfo or dot-segments",
        fix: "Use an https URL with a path and no fragment, userinfo or dot-segments as client_id.",
    };
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_11_25);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(cid) = authorize_client_id(cx.view).filter(|c| c.contains("://")) else {
            return;
        };
        let p = urls::raw_path(&cid);
        let authority = cid
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("");
        let mut why = Vec::new();
        if !cid.starts_with("https://") {
            why.push("not https");
        }
        if p.is_empty() || p == "/" {
            why.push("no path");
        }
        if cid.contains('#') {
            why.push("fragment");
        }
        if authority.contains('@') {
            why.push("userinfo");
        }
        if p.split('/').any(|s| s == "." || s == "..") {
            why.push("dot-segments");
        }
        if !why.is_empty() {
            out.push(&Self::META, format!("client_id {cid}: {}", why.join(", ")));
        }
    }
}

/// CIMD-DOC-INVALID.
pub struct CimdDocInvalid;
impl Rule for CimdDocInvalid {
    const META: RuleMeta = RuleMeta {
        id: "CIMD-DOC-INVALID",
        severity: Error,
        phase: Phase::Registration,
        on: REG,
        who: &[Client],
        breaks: "AS aborts before login (invalid_client_metadata)",
        source: "CIMD draft §4.1, §4.3, §6.6; anthropics/claude-ai-mcp#96, #518",
        title: "A client ID metadata document fetched through the proxy is invalid",
        fix: "Serve JSON whose client_id equals its URL, with redirect_uris and client_name, no shared secret, under 5 KB.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if method(ex) != "GET" {
            return;
        }
        let mut why = Vec::new();
        match status(ex) {
            Some(404) => why.push("404".to_string()),
            Some(200) => match json_obj(cx.view) {
                None => why.push(if looks_html(ex) {
                    "HTML, not JSON".into()
                } else {
                    "not a JSON object".into()
                }),
                Some(d) => {
                    if d.get("client_id").and_then(Value::as_str) != Some(ex.request.url.as_str()) {
                        why.push(format!(
                            "client_id {} ≠ its URL",
                            d.get("client_id")
                                .map(show)
                                .unwrap_or_else(|| "(absent)".into())
                        ));
                    }
                    for k in ["redirect_uris", "client_name"] {
                        if !d.contains_key(k) {
                            why.push(format!("no {k}"));
                        }
                    }
                    if d.contains_key("client_secret")
                        || d.get("token_endpoint_auth_method")
                            .and_then(Value::as_str)
                            .is_some_and(|m| m.starts_with("client_secret"))
                    {
                        why.push("shared-secret authentication".into());
                    }
                    if body(ex).is_some_and(|b| b.len() > 5 * 1024) {
                        why.push("larger than 5 KB".into());
                    }
                }
            },
            _ => {}
        }
        if !why.is_empty() {
            out.push(
                &Self::META,
                format!(
                    "client metadata document {}: {}",
                    ex.request.url,
                    why.join("; ")
                ),
            );
        }
    }
}
