//! DCR-* rules on the registration endpoint's answer (RFC 7591 §3.2): auth, status, error format, the echoed client metadata, secrets and auth methods.

use serde_json::{Map, Value};

use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::metadata::{is_json_integer, show, str_list};
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};
use crate::rules::util::*;

pub(super) const REG: &[Phase] = &[Phase::Registration];

pub(super) fn is_post(ex: &Exchange) -> bool {
    method(ex) == "POST"
}

pub(super) fn ok_doc<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Map<String, Value>> {
    let ex = view.exchange();
    json_obj(view).filter(|_| ok(ex) && is_post(ex))
}

pub(super) fn req_method(view: &ExchangeView<'_>) -> Option<String> {
    req_json_obj(view)?
        .get("token_endpoint_auth_method")?
        .as_str()
        .map(str::to_owned)
}

/// DCR-REQUIRES-AUTH.
pub struct RequiresAuth;
impl Rule for RequiresAuth {
    const META: RuleMeta = meta!(
        "DCR-REQUIRES-AUTH",
        Error,
        &[As],
        "all MCP clients (none send initial access tokens)",
        "modelcontextprotocol/python-sdk#914; anthropics/claude-ai-mcp#82",
        "The registration endpoint answers 401/403 to an unauthenticated POST",
        "Allow anonymous registration at the registration endpoint (no initial access token, no bearer middleware on /register)."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if is_post(ex) && ex.request.headers.iter().all(|h| h.name != "authorization") {
            if let Some(st @ (401 | 403)) = status(ex) {
                out.push(
                    &Self::META,
                    format!("POST {} answered {st}", ex.request.url),
                );
            }
        }
    }
}

/// DCR-REJECTS-SECRET-POST.
pub struct RejectsSecretPost;
impl Rule for RejectsSecretPost {
    const META: RuleMeta = meta!(
        "DCR-REJECTS-SECRET-POST",
        Error,
        &[As],
        "CAI",
        "anthropics/claude-ai-mcp#82 (RFC 7591 §3.2.1 lets the AS return none); better-auth MCP plugin",
        "A registration asking for client_secret_post is refused",
        "Register the client anyway: either issue a secret for client_secret_post, or return token_endpoint_auth_method \"none\" (clients honour the response)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if req_method(cx.view).as_deref() == Some("client_secret_post") {
            if let Some(st @ (400 | 401)) = status(ex) {
                out.push(&Self::META, format!("registration with token_endpoint_auth_method=client_secret_post answered {st}: {}", body(ex).unwrap_or("").chars().take(120).collect::<String>()));
            }
        }
    }
}

/// DCR-REDIRECT-REJECTED.
pub struct RedirectRejected;
impl Rule for RedirectRejected {
    const META: RuleMeta = meta!(
        "DCR-REDIRECT-REJECTED",
        Error,
        &[As],
        "CAI, CC (anthropics/claude-code#58054), INSP",
        "MCP 2025-11-25 Authorization \"Communication Security\"; PrefectHQ/fastmcp#1564",
        "A known client callback is refused at registration",
        "Accept https://claude.ai/api/mcp/auth_callback, https://claude.com/api/mcp/auth_callback and loopback http redirect URIs on any port."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if status(ex) != Some(400) {
            return;
        }
        let invalid = json_obj(cx.view)
            .and_then(|d| d.get("error").and_then(Value::as_str).map(str::to_owned))
            .as_deref()
            == Some("invalid_redirect_uri");
        let uris: Vec<String> = req_json_obj(cx.view)
            .and_then(|d| {
                str_list(d, "redirect_uris").map(|v| v.into_iter().map(str::to_owned).collect())
            })
            .unwrap_or_default();
        let known = uris.iter().any(|u| {
            u.contains("claude.ai/api/mcp/auth_callback")
                || u.contains("claude.com/api/mcp/auth_callback")
                || urls::is_loopback_url(u)
        });
        let about_redirect = body(ex).is_some_and(|b| b.to_ascii_lowercase().contains("redirect"));
        if invalid || (known && about_redirect) {
            out.push(
                &Self::META,
                format!("registration of redirect_uris {uris:?} refused with 400"),
            );
        }
    }
}

/// DCR-ERROR-FORMAT.
pub struct ErrorFormat;
impl Rule for ErrorFormat {
    const META: RuleMeta = meta!(
        "DCR-ERROR-FORMAT",
        Warning,
        &[As],
        "all clients surface only a generic \"Couldn't register\"",
        "RFC 7591 §3.2.2; different-ai/openwork#3599",
        "A registration error without a proper JSON error body",
        "Answer registration errors with JSON {\"error\": \"invalid_redirect_uri|invalid_client_metadata|…\", \"error_description\": \"…\"}."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(st) = status(ex).filter(|s| *s >= 400) else {
            return;
        };
        let why = match json_obj(cx.view) {
            None => Some(if body(ex).is_none_or(|b| b.trim().is_empty()) {
                "empty body".to_string()
            } else {
                "non-JSON body".into()
            }),
            Some(d) => match d.get("error").and_then(Value::as_str) {
                None => Some("JSON without `error`".into()),
                Some(e)
                    if ![
                        "invalid_redirect_uri",
                        "invalid_client_metadata",
                        "invalid_software_statement",
                        "unapproved_software_statement",
                    ]
                    .contains(&e) =>
                {
                    Some(format!("error \"{e}\" is outside the RFC 7591 set"))
                }
                Some(_) => None,
            },
        };
        if let Some(w) = why {
            out.push(&Self::META, format!("registration error {st}: {w}"));
        }
    }
}

/// DCR-STATUS.
pub struct Status;
impl Rule for Status {
    const META: RuleMeta = meta!(
        "DCR-STATUS",
        Info,
        &[As],
        "none known (clients accept any 2xx)",
        "RFC 7591 §3.2.1",
        "Registration succeeded with a status other than 201",
        "Answer successful registrations with 201 Created."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(st) = status(ex).filter(|s| (200..300).contains(s) && *s != 201 && is_post(ex))
        {
            out.push(
                &Self::META,
                format!("registration answered {st} instead of 201"),
            );
        }
    }
}

/// DCR-NO-CLIENT-ID.
pub struct NoClientId;
impl Rule for NoClientId {
    const META: RuleMeta = meta!(
        "DCR-NO-CLIENT-ID",
        Error,
        &[As],
        "all",
        "RFC 7591 §3.2.1",
        "A successful registration without a string client_id",
        "Return the issued client_id as a JSON string."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if ok(ex)
            && is_post(ex)
            && json_obj(cx.view).is_none_or(|d| !d.get("client_id").is_some_and(Value::is_string))
        {
            out.push(&Self::META, "registration response has no string client_id");
        }
    }
}

/// DCR-FLOAT-EXPIRY.
pub struct FloatExpiry;
impl Rule for FloatExpiry {
    const META: RuleMeta = meta!(
        "DCR-FLOAT-EXPIRY",
        Error,
        &[As],
        "CAI (parse failure, confirmed by Anthropic staff); typed parsers",
        "RFC 7591 §3.2.1 (seconds since epoch)",
        "client_secret_expires_at / client_id_issued_at is not a JSON integer",
        "Send integer seconds since the epoch, e.g. Math.floor(Date.now()/1000) (0 = never expires)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(d) = ok_doc(cx.view) else { return };
        for k in ["client_secret_expires_at", "client_id_issued_at"] {
            if let Some(v) = d.get(k).filter(|v| !v.is_null() && !is_json_integer(v)) {
                let raw = body(ex)
                    .and_then(|b| raw_number(b, k))
                    .unwrap_or_else(|| show(v));
                out.push(&Self::META, format!("{k} = {raw} is not an integer"));
            }
        }
    }
}

/// The number as written in the JSON text (serde would print 1749600000.0 differently).
pub(super) fn raw_number(body: &str, key: &str) -> Option<String> {
    let i = body.find(&format!("\"{key}\""))?;
    let rest = body.get(i + key.len() + 2..)?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find([',', '}', '\n']).unwrap_or(rest.len());
    Some(rest.get(..end)?.trim().to_string())
}

/// DCR-NULL-OPTIONAL.
pub struct NullOptional;
impl Rule for NullOptional {
    const META: RuleMeta = meta!(
        "DCR-NULL-OPTIONAL",
        Error,
        &[As],
        "CC 2.1.117+ and TS (Zod v4: \"expected string, received null\")",
        "anthropics/claude-code#52565; RFC 7591 §2",
        "An optional client metadata member is null",
        "Omit optional members you have no value for (client_uri, logo_uri, software_id, …) instead of sending null."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = ok_doc(cx.view) else { return };
        let nulls = crate::parse::metadata::null_members(d);
        if !nulls.is_empty() {
            out.push(
                &Self::META,
                format!(
                    "null members in the registration response: {}",
                    nulls.join(", ")
                ),
            );
        }
    }
}

/// DCR-URL-FIELDS.
pub struct UrlFields;
impl Rule for UrlFields {
    const META: RuleMeta = meta!(
        "DCR-URL-FIELDS",
        Warning,
        &[As],
        "TS",
        "RFC 7591 §2",
        "client_uri/jwks_uri/tos_uri is empty or not a URL",
        "Omit URL members you have no value for; never send \"\"."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(d) = ok_doc(cx.view) else { return };
        for k in [
            "client_uri",
            "jwks_uri",
            "tos_uri",
            "policy_uri",
            "logo_uri",
        ] {
            if let Some(s) = d.get(k).and_then(Value::as_str) {
                let tolerated = s.is_empty() && (k == "logo_uri" || k == "tos_uri");
                if !tolerated && url::Url::parse(s).is_err() {
                    out.push(&Self::META, format!("{k} = \"{s}\" is not a URL"));
                }
            }
        }
    }
}

/// DCR-NO-REDIRECT-ECHO.
pub struct NoRedirectEcho;
impl Rule for NoRedirectEcho {
    const META: RuleMeta = meta!(
        "DCR-NO-REDIRECT-ECHO",
        Error,
        &[As],
        "TS/CC/INSP: the response schema requires redirect_uris",
        "RFC 7591 §3.2.1; TS SDK OAuthClientInformationFullSchema",
        "The registration response lacks redirect_uris",
        "Echo all registered metadata, including redirect_uris, in the registration response."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if ok_doc(cx.view).is_some_and(|d| !d.get("redirect_uris").is_some_and(Value::is_array)) {
            out.push(
                &Self::META,
                "registration response does not echo redirect_uris",
            );
        }
    }
}

/// DCR-SECRET-NO-EXPIRY.
pub struct SecretNoExpiry;
impl Rule for SecretNoExpiry {
    const META: RuleMeta = meta!(
        "DCR-SECRET-NO-EXPIRY",
        Error,
        &[As],
        "Strict parsers",
        "RFC 7591 §3.2.1 (REQUIRED if a secret is issued)",
        "client_secret without client_secret_expires_at",
        "Send client_secret_expires_at (0 if it never expires) whenever you issue a client_secret."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if ok_doc(cx.view).is_some_and(|d| {
            d.get("client_secret").is_some_and(Value::is_string)
                && !d.contains_key("client_secret_expires_at")
        }) {
            out.push(
                &Self::META,
                "client_secret issued without client_secret_expires_at",
            );
        }
    }
}

/// DCR-SECRET-EXPIRED.
pub struct SecretExpired;
impl Rule for SecretExpired {
    const META: RuleMeta = meta!(
        "DCR-SECRET-EXPIRED",
        Warning,
        &[As],
        "later token calls fail with invalid_client",
        "RFC 7591 §3.2.1",
        "client_secret_expires_at is in the past or within 5 minutes",
        "Issue secrets that outlive the flow (or 0 = never expires)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(exp) =
            ok_doc(cx.view).and_then(|d| d.get("client_secret_expires_at").and_then(Value::as_f64))
        else {
            return;
        };
        let now = ex.started_at.unix_timestamp() as f64;
        if exp != 0.0 && exp < now + 300.0 {
            out.push(
                &Self::META,
                format!(
                    "client_secret_expires_at = {exp} is {:.0} s from now",
                    exp - now
                ),
            );
        }
    }
}

/// DCR-METHOD-UNSUPPORTED.
pub struct MethodUnsupported;
impl Rule for MethodUnsupported {
    const META: RuleMeta = meta!(
        "DCR-METHOD-UNSUPPORTED",
        Error,
        &[As],
        "CAI (anthropics/claude-ai-mcp#285 class); TS",
        "RFC 8414 §2 + RFC 7591 §2; brendanlong/lion-reader PR 1121",
        "The registered auth method is not in the ASM's token_endpoint_auth_methods_supported",
        "Return a token_endpoint_auth_method the token endpoint accepts and advertises."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(m) = ok_doc(cx.view).and_then(|d| {
            d.get("token_endpoint_auth_method")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) else {
            return;
        };
        let supported = cx.flow.and_then(|f| f.asm_doc()).map(|d| {
            str_list(d, "token_endpoint_auth_methods_supported")
                .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_else(|| vec!["client_secret_basic".into()])
        });
        if let Some(s) = supported.filter(|s| !s.contains(&m)) {
            out.push(
                &Self::META,
                format!(
                    "registered method \"{m}\" not in token_endpoint_auth_methods_supported {s:?}"
                ),
            );
        }
    }
}

/// DCR-METHOD-CHANGED.
pub struct MethodChanged;
impl Rule for MethodChanged {
    const META: RuleMeta = meta!(
        "DCR-METHOD-CHANGED",
        Info,
        &[As],
        "none (allowed; CAI and TS honour the response)",
        "RFC 7591 §3.2.1",
        "The registered auth method differs from the requested one",
        "Nothing to fix; make sure the client uses the returned method."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let got = ok_doc(cx.view).and_then(|d| {
            d.get("token_endpoint_auth_method")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if let (Some(asked), Some(got)) = (req_method(cx.view), got) {
            if asked != got {
                out.push(
                    &Self::META,
                    format!("asked for {asked}, registered as {got}"),
                );
            }
        }
    }
}

/// DCR-NO-REGISTRATION-CLIENT-URI.
pub struct NoRegistrationClientUri;
impl Rule for NoRegistrationClientUri {
    const META: RuleMeta = meta!(
        "DCR-NO-REGISTRATION-CLIENT-URI",
        Info,
        &[As],
        "one unconfirmed report that CAI needed it",
        "twentyhq/twenty PR 19858; RFC 7592 (optional)",
        "The registration response lacks registration_client_uri",
        "Optionally return registration_client_uri and registration_access_token (RFC 7592)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        if ok_doc(cx.view).is_some_and(|d| !d.contains_key("registration_client_uri")) {
            out.push(
                &Self::META,
                "no registration_client_uri in the registration response",
            );
        }
    }
}
