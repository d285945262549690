//! ASM-* rules about client registration and authentication support: CIMD, auth methods, grants, the RFC 9207 flag.

use super::document::*;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::metadata::{show, str_list};
use crate::rules::rule::{Cx, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;
use serde_json::{Map, Value};

pub(super) fn auth_methods(d: &Map<String, Value>) -> Option<Vec<String>> {
    str_list(d, "token_endpoint_auth_methods_supported")
        .map(|v| v.into_iter().map(str::to_owned).collect())
}

/// ASM-CIMD-WITHOUT-NONE.
pub struct CimdWithoutNone;
impl Rule for CimdWithoutNone {
    const META: RuleMeta = RuleMeta {
        id: "ASM-CIMD-WITHOUT-NONE",
        severity: Warning,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "CAI silently uses DCR instead of CIMD",
        source: "claude.com docs \"Authentication\"; brendanlong/lion-reader PR 1519; PrefectHQ/fastmcp#4205",
        title: "CIMD advertised but `none` not in token_endpoint_auth_methods_supported",
        fix: "Add \"none\" to token_endpoint_auth_methods_supported.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = json_200(cx.view) else { return };
        if d.get("client_id_metadata_document_supported") == Some(&Value::Bool(true))
            && !auth_methods(d).is_some_and(|m| m.iter().any(|x| x == "none"))
        {
            out.push(
                &Self::META,
                format!(
                    "CIMD supported, token_endpoint_auth_methods_supported = {:?}",
                    auth_methods(d)
                ),
            );
        }
    }
}

/// ASM-AUTH-METHODS-DEFAULTED.
pub struct AuthMethodsDefaulted;
impl Rule for AuthMethodsDefaulted {
    const META: RuleMeta = RuleMeta {
        id: "ASM-AUTH-METHODS-DEFAULTED",
        severity: Warning,
        phase: Phase::DiscoveryAs,
        on: &[],
        who: &[As],
        breaks: "clients assume client_secret_basic",
        source: "RFC 8414 §2 (default client_secret_basic); brendanlong/lion-reader PR 1121",
        title: "token_endpoint_auth_methods_supported absent while registration issues public clients",
        fix: "List the methods you accept, including \"none\" for public clients.",
    };
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(d) = f.asm_doc() else { return };
        if d.contains_key("token_endpoint_auth_methods_supported") {
            return;
        }
        if let Some(r) = f
            .registrations
            .iter()
            .find(|r| r.method.as_deref() == Some("none"))
        {
            out.once("d", &Self::META, "registration returned token_endpoint_auth_method \"none\", but the ASM omits token_endpoint_auth_methods_supported (default: client_secret_basic)").exchange = Some(r.step.exchange);
        }
    }
}

/// ASM-BASIC-ONLY.
pub struct BasicOnly;
impl Rule for BasicOnly {
    const META: RuleMeta = RuleMeta {
        id: "ASM-BASIC-ONLY",
        severity: Warning,
        phase: Phase::DiscoveryAs,
        on: &[],
        who: &[As, Client],
        breaks: "CAI always uses client_secret_post for static confidential clients and does not fall back",
        source: "anthropics/claude-ai-mcp#667",
        title: "Only client_secret_basic is accepted while the client posts its secret",
        fix: "Also accept client_secret_post at the token endpoint.",
    };
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(m) = f.asm_doc().and_then(auth_methods) else {
            return;
        };
        if m != ["client_secret_basic"] {
            return;
        }
        if let Some(t) = f
            .tokens
            .iter()
            .find(|t| t.auth_method == "client_secret_post")
        {
            out.once(
                "b",
                &Self::META,
                "ASM accepts only client_secret_basic; the client sent client_secret_post",
            )
            .exchange = t.step.map(|s| s.exchange);
        }
    }
}

/// ASM-GRANTS.
pub struct Grants;
impl Rule for Grants {
    const META: RuleMeta = RuleMeta {
        id: "ASM-GRANTS",
        severity: Error,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "all for the code grant; CAI does not support client_credentials-only servers",
        source: "RFC 8414 §2; OAuth 2.1 (implicit and password removed)",
        title: "grant_types_supported lacks authorization_code while the flow uses it (error) or advertises implicit/password (info)",
        fix: "Advertise [\"authorization_code\", \"refresh_token\"].",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(g) = json_200(cx.view).and_then(grants) else {
            return;
        };
        if g.iter().any(|x| x == "implicit" || x == "password") {
            out.push(
                &Self::META,
                format!("grant_types_supported = {g:?} advertises removed grants"),
            )
            .severity = Info;
        }
    }
    /// A missing authorization_code only matters to a flow that uses it (client_credentials-
    /// or jwt-bearer-only servers are legitimate); judged once the flow shows its grant.
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some((fetch, g)) = f
            .asm
            .iter()
            .rev()
            .find_map(|d| Some((d, grants(d.ok_doc()?)?)))
        else {
            return;
        };
        if g.iter().any(|x| x == "authorization_code") {
            return;
        }
        let uses_code =
            !f.authorizes.is_empty() || f.tokens.iter().any(|t| t.grant == "authorization_code");
        let other_grant = f
            .tokens
            .iter()
            .any(|t| t.grant != "authorization_code" && t.grant != "refresh_token");
        let severity = if uses_code {
            Error
        } else if cx.finishing && !other_grant {
            Info // the flow never reached a grant: a hint for code-grant clients
        } else {
            return;
        };
        let finding = out.once(
            "code",
            &Self::META,
            format!(
                "grant_types_supported = {g:?} lacks authorization_code{}",
                if uses_code {
                    ", and this flow uses the authorization_code grant"
                } else {
                    "; clients that sign users in cannot use this AS"
                }
            ),
        );
        finding.severity = severity;
        finding.exchange = Some(fetch.step.exchange);
    }
}

fn grants(d: &Map<String, Value>) -> Option<Vec<String>> {
    str_list(d, "grant_types_supported").map(|v| v.into_iter().map(str::to_owned).collect())
}

/// ASM-ISS-FLAG-TYPE.
pub struct IssFlagType;
impl Rule for IssFlagType {
    const META: RuleMeta = RuleMeta {
        id: "ASM-ISS-FLAG-TYPE",
        severity: Info,
        phase: Phase::DiscoveryAs,
        on: AS,
        who: &[As],
        breaks: "TS coerces it to \"absent\"",
        source: "RFC 9207 §2.3, §3",
        title: "authorization_response_iss_parameter_supported is not a boolean",
        fix: "Use JSON true/false.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(v) = json_200(cx.view).and_then(|d| {
            d.get("authorization_response_iss_parameter_supported")
                .cloned()
        }) {
            if !v.is_boolean() {
                out.push(
                    &Self::META,
                    format!(
                        "authorization_response_iss_parameter_supported = {}",
                        show(&v)
                    ),
                );
            }
        }
    }
}
