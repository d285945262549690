//! TOKEN-*: the token endpoint, authorization_code grant. The response rules
//! also judge refresh responses (same endpoint, same response format).

use serde_json::Value;

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::metadata::{is_json_integer, show};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &ReqEncoding,
    &ReqNoVerifier,
    &ReqVerifierFormat,
    &ReqNoResource,
    &ReqMultiAuth,
    &ReqNoClientId,
    &RespNoStore,
    &RespFields,
    &RespTokenType,
    &RespScopeArray,
    &RespExpires,
    &Resp200Error,
    &RespInvalidClient400,
    &RespErrorFormat,
    &JwtSanity,
];

const TOK: &[Phase] = &[Phase::Token];
const BOTH: &[Phase] = &[Phase::Token, Phase::Refresh];

/// This family's [`RuleMeta`] shorthand: phase token, hook phases per rule.
macro_rules! meta {
    ($id:literal, $sev:ident, $on:expr, $($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Token, $on, $id, $sev, $($rest)*)
    };
}

fn captured(ex: &Exchange) -> bool {
    ex.request
        .body
        .as_ref()
        .is_some_and(|b| !b.truncated && b.text.is_some())
}

/// TOKEN-REQ-ENCODING.
pub struct ReqEncoding;
impl Rule for ReqEncoding {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-ENCODING",
        Error,
        BOTH,
        &[Client, As],
        "all",
        "OAuth 2.1 §3.2.2",
        "The token request is not form-encoded, or a form request is refused because the AS wants JSON",
        "Clients: send application/x-www-form-urlencoded. ASes: accept form-encoded token requests."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let ct = qh(ex, "content-type").map(str::to_ascii_lowercase);
        let form = ct
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if !form && method(ex) == "POST" {
            out.push(
                &Self::META,
                format!(
                    "token request Content-Type is {}",
                    ct.as_deref().unwrap_or("(none)")
                ),
            )
            .who = vec![Client];
        } else if form
            && matches!(status(ex), Some(400 | 415))
            && body(ex).is_some_and(|b| b.to_ascii_lowercase().contains("json"))
        {
            out.push(
                &Self::META,
                format!(
                    "form-encoded token request refused with {} (the AS expects JSON)",
                    status(ex).unwrap_or(0)
                ),
            )
            .who = vec![As];
        }
    }
}

/// TOKEN-REQ-NO-VERIFIER.
pub struct ReqNoVerifier;
impl Rule for ReqNoVerifier {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-NO-VERIFIER",
        Error,
        TOK,
        &[Client],
        "AS invalid_grant",
        "RFC 7636 §4.5; conformance pkce-code-verifier-sent",
        "authorization_code grant without code_verifier",
        "Send the code_verifier of the authorize request that produced the code."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let f = cx.view.form();
        if captured(ex)
            && f.first("grant_type") == Some("authorization_code")
            && !f.has("code_verifier")
        {
            out.push(&Self::META, "token request without code_verifier");
        }
    }
}

/// TOKEN-REQ-VERIFIER-FORMAT.
pub struct ReqVerifierFormat;
impl Rule for ReqVerifierFormat {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-VERIFIER-FORMAT",
        Error,
        TOK,
        &[Client],
        "AS",
        "RFC 7636 §4.1",
        "code_verifier is not 43–128 characters of [A-Za-z0-9-._~]",
        "Generate 32+ random bytes and base64url-encode them (43 characters)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let f = cx.view.form();
        let Some(v) = f
            .first("code_verifier")
            .filter(|v| !crate::parse::is_redacted(v))
        else {
            return;
        };
        let bad_chars = !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
        if !(43..=128).contains(&v.len()) || bad_chars {
            out.push(
                &Self::META,
                format!(
                    "code_verifier has {} characters{}",
                    v.len(),
                    if bad_chars {
                        " and characters outside [A-Za-z0-9-._~]"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

/// TOKEN-REQ-NO-RESOURCE.
pub struct ReqNoResource;
impl Rule for ReqNoResource {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-NO-RESOURCE",
        Error,
        TOK,
        &[Client],
        "token not audience-bound; RS rejects",
        "MCP 2025-11-25 Authorization \"Resource Parameter Implementation\"; conformance resource-parameter-in-token",
        "No resource in the token request while the authorize request (or the PRM) had one",
        "Send the same resource in the token request as in the authorize request."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let f = cx.view.form();
        if !captured(ex) || f.first("grant_type") != Some("authorization_code") || f.has("resource")
        {
            return;
        }
        let had = cx.flow.is_some_and(|fl| {
            fl.authorizes.iter().any(|a| !a.resource.is_empty()) || fl.prm_doc().is_some()
        });
        if had {
            out.push(
                &Self::META,
                "token request without resource (the authorize request or the PRM had one)",
            );
        }
    }
}

/// TOKEN-REQ-MULTI-AUTH.
pub struct ReqMultiAuth;
impl Rule for ReqMultiAuth {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-MULTI-AUTH",
        Warning,
        BOTH,
        &[Client],
        "strict ASes reject",
        "RFC 6749 §2.3",
        "Both Authorization: Basic and client_secret in the body",
        "Use exactly one client authentication method."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let basic = cx.view.basic_user().is_some();
        if basic && cx.view.form().has("client_secret") {
            out.push(
                &Self::META,
                "Authorization: Basic and client_secret in the body",
            );
        }
    }
}

/// TOKEN-REQ-NO-CLIENT-ID.
pub struct ReqNoClientId;
impl Rule for ReqNoClientId {
    const META: RuleMeta = meta!(
        "TOKEN-REQ-NO-CLIENT-ID",
        Error,
        BOTH,
        &[Client],
        "AS invalid_client",
        "OAuth 2.1 §4.1.3 / RFC 6749 §3.2.1; RFC 7523 §2.2",
        "A public client sends no client_id and no Basic header",
        "Public clients must send client_id in the token request body."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let form = cx.view.form();
        // RFC 7523 §2.2: a JWT client assertion authenticates the client; client_id is optional.
        let assertion = form.has("client_assertion") && form.has("client_assertion_type");
        if captured(ex) && qh(ex, "authorization").is_none() && !form.has("client_id") && !assertion
        {
            out.push(
                &Self::META,
                "token request with neither client_id nor client authentication",
            );
        }
    }
}

/// TOKEN-RESP-NO-STORE.
pub struct RespNoStore;
impl Rule for RespNoStore {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-NO-STORE",
        Error,
        BOTH,
        &[As],
        "none known; conformance AS check fails",
        "OAuth 2.1 §3.2.3; conformance authorization-code-grant",
        "A token response lacks Cache-Control: no-store",
        "Send `Cache-Control: no-store` with every response that contains tokens."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if token_response(cx.view).is_some()
            && !rh(ex, "cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-store"))
        {
            out.push(
                &Self::META,
                format!(
                    "token response with Cache-Control: {}",
                    rh(ex, "cache-control").unwrap_or("(none)")
                ),
            );
        }
    }
}

/// TOKEN-RESP-FIELDS.
pub struct RespFields;
impl Rule for RespFields {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-FIELDS",
        Error,
        BOTH,
        &[As],
        "TS (schema requires token_type)",
        "RFC 6749 §5.1",
        "A 200 token response without string access_token or token_type",
        "Return access_token and token_type (\"Bearer\") as strings."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(200) {
            return;
        }
        let Some(d) = json_obj(cx.view) else { return };
        if d.contains_key("error") {
            return;
        }
        let missing: Vec<&str> = ["access_token", "token_type"]
            .into_iter()
            .filter(|k| !d.get(*k).is_some_and(Value::is_string))
            .collect();
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!("token response lacks string {}", missing.join(", ")),
            );
        }
    }
}

/// TOKEN-RESP-TOKEN-TYPE.
pub struct RespTokenType;
impl Rule for RespTokenType {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-TOKEN-TYPE",
        Error,
        BOTH,
        &[As],
        "clients send the wrong scheme (lowercase: anthropics/claude-ai-mcp#690, unconfirmed)",
        "RFC 6749 §5.1, §7.1; RFC 6750 §4",
        "token_type is not Bearer (error), or lowercase bearer (info)",
        "Return token_type \"Bearer\"."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(t) = token_response(cx.view).and_then(|d| {
            d.get("token_type")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) else {
            return;
        };
        if !t.eq_ignore_ascii_case("bearer") {
            out.push(&Self::META, format!("token_type = \"{t}\""));
        } else if t != "Bearer" {
            out.push(
                &Self::META,
                format!("token_type = \"{t}\" (valid, but some clients expect \"Bearer\")"),
            )
            .severity = Info;
        }
    }
}

/// TOKEN-RESP-SCOPE-ARRAY.
pub struct RespScopeArray;
impl Rule for RespScopeArray {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-SCOPE-ARRAY",
        Error,
        BOTH,
        &[As],
        "TS (schema string)",
        "RFC 6749 §5.1, §3.3",
        "scope is a JSON array",
        "Return scope as a space-delimited string."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(s) =
            token_response(cx.view).and_then(|d| d.get("scope").filter(|v| v.is_array()).cloned())
        {
            out.push(&Self::META, format!("scope = {}", show(&s)));
        }
    }
}

/// TOKEN-RESP-EXPIRES.
pub struct RespExpires;
impl Rule for RespExpires {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-EXPIRES",
        Info,
        BOTH,
        &[As],
        "clients can't schedule refresh",
        "RFC 6749 §5.1 (RECOMMENDED)",
        "expires_in absent (info), not an integer (warning), or very short (info)",
        "Return expires_in as an integer number of seconds."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = token_response(cx.view) else {
            return;
        };
        match d.get("expires_in") {
            None => {
                out.push(&Self::META, "no expires_in");
            }
            Some(v) if !is_json_integer(v) => {
                out.push(
                    &Self::META,
                    format!("expires_in = {} is not an integer", show(v)),
                )
                .severity = Warning;
            }
            Some(v) if v.as_f64().is_some_and(|n| n < 60.0) => {
                out.push(&Self::META, format!("expires_in = {} s", show(v)));
            }
            _ => {}
        }
    }
}

/// TOKEN-RESP-200-ERROR.
pub struct Resp200Error;
impl Rule for Resp200Error {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-200-ERROR",
        Warning,
        BOTH,
        &[As],
        "clients without the TS workaround treat it as success",
        "RFC 6749 §5.2 (400)",
        "HTTP 200 with an `error` member",
        "Answer token errors with 400 (401 for invalid_client)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if let Some(e) = json_200(cx.view).and_then(|d| d.get("error").map(show)) {
            out.push(&Self::META, format!("200 with error {e}"));
        }
    }
}

/// TOKEN-RESP-INVALID-CLIENT-400.
pub struct RespInvalidClient400;
impl Rule for RespInvalidClient400 {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-INVALID-CLIENT-400",
        Error,
        BOTH,
        &[As],
        "CAI re-registers only on 401 invalid_client (PrefectHQ/fastmcp#1762, #1919)",
        "Claude Help Center; OAuth 2.1 §3.2.4",
        "invalid_client answered with 400, or a Basic-authenticated 401 without WWW-Authenticate",
        "Answer invalid_client with 401 (and WWW-Authenticate: Basic when the client used Basic)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let err = json_obj(cx.view)
            .and_then(|d| d.get("error").and_then(Value::as_str).map(str::to_owned));
        let st = status(ex).unwrap_or(0);
        if err.as_deref() == Some("invalid_client") && st == 400 {
            out.push(
                &Self::META,
                "invalid_client answered with 400 instead of 401",
            );
        } else if st == 401
            && cx.view.basic_user().is_some()
            && rh(ex, "www-authenticate").is_none()
        {
            out.push(
                &Self::META,
                "401 to a Basic-authenticated token request without WWW-Authenticate",
            );
        }
    }
}

/// TOKEN-RESP-ERROR-FORMAT.
pub struct RespErrorFormat;
impl Rule for RespErrorFormat {
    const META: RuleMeta = meta!(
        "TOKEN-RESP-ERROR-FORMAT",
        Warning,
        BOTH,
        &[As],
        "TS reports \"Invalid OAuth error response\"",
        "RFC 6749 §5.2",
        "A token error without a JSON body carrying `error`",
        "Answer token errors with JSON {\"error\": \"…\", \"error_description\": \"…\"}."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(st) = status(ex).filter(|s| *s >= 400) else {
            return;
        };
        if !json_obj(cx.view).is_some_and(|d| d.get("error").is_some_and(Value::is_string)) {
            out.push(
                &Self::META,
                format!("token error {st} without a JSON `error` member"),
            );
        }
    }
}

/// TOKEN-JWT-SANITY.
pub struct JwtSanity;
impl Rule for JwtSanity {
    const META: RuleMeta = meta!(
        "TOKEN-JWT-SANITY",
        Error,
        BOTH,
        &[As],
        "RS rejects; MCP servers MUST check audience",
        "RFC 9068 §2; MCP 2025-11-25 Authorization \"Token Handling\"",
        "A JWT access token with alg none, no/odd exp, future iat, no aud (error) or typ ≠ at+jwt (info)",
        "Issue RFC 9068 access tokens: signed, with exp > iat, aud, and typ at+jwt."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(j) = token_response(cx.view).and(cx.view.issued_jwt()) else {
            return;
        };
        let mut errs = Vec::new();
        if j.header_str("alg")
            .is_some_and(|a| a.eq_ignore_ascii_case("none"))
        {
            errs.push("alg none".to_string());
        }
        match (j.num("exp"), j.num("iat")) {
            (None, _) => errs.push("no exp".into()),
            (Some(e), Some(i)) if e <= i => errs.push(format!("exp {e} ≤ iat {i}")),
            _ => {}
        }
        let now = ex.started_at.unix_timestamp() as f64;
        if let Some(i) = j.num("iat").filter(|i| *i > now + 60.0) {
            errs.push(format!(
                "iat is {:.0} s in the future (clock skew)",
                i - now
            ));
        }
        if j.aud().is_empty() {
            errs.push("no aud".into());
        }
        if !errs.is_empty() {
            out.push(
                &Self::META,
                format!("JWT access token: {}", errs.join("; ")),
            );
        } else if !j.header_str("typ").is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            out.push(
                &Self::META,
                format!(
                    "JWT access token typ = {:?} (RFC 9068 uses at+jwt)",
                    j.header_str("typ")
                ),
            )
            .severity = Info;
        }
    }
}

#[cfg(test)]
mod tests;
