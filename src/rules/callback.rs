//! CB-*: the authorization response, seen either as the AS's redirect
//! `Location` to the client's redirect_uri (reverse mode, auto-approving AS) or as the browser's
//! request to the callback.

use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &NoCode,
    &NoState,
    &IssMissing,
    &IssMismatch,
    &TokenInUrl,
    &Error_,
];

const CB: &[Phase] = &[Phase::Callback];

/// This family's [`RuleMeta`] shorthand: phase Callback, hook on CB.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Callback, CB, $($rest)*)
    };
}

/// CB-NO-CODE.
pub struct NoCode;
impl Rule for NoCode {
    const META: RuleMeta = meta!(
        "CB-NO-CODE",
        Error,
        &[As],
        "all",
        "OAuth 2.1 §4.1.2",
        "Neither code nor error in the callback",
        "Redirect back with code=…&state=… (or error=…)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback else { return };
        if !v.query.has("code") && !v.query.has("error") && !v.fragment.has("access_token") {
            out.push(
                &Self::META,
                format!(
                    "callback {} carries neither code nor error",
                    crate::parse::urls::without_query(v.url)
                ),
            );
        }
    }
}

/// CB-NO-STATE.
pub struct NoState;
impl Rule for NoState {
    const META: RuleMeta = meta!(
        "CB-NO-STATE",
        Error,
        &[As],
        "clients MUST discard the response",
        "MCP 2025-06-18 \"Open Redirection\"; conformance authorization-code-grant",
        "The authorize request had state; the callback lacks it",
        "Echo state unchanged in the authorization response."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback else { return };
        // The authorize request may be this very exchange (its redirect carries the callback).
        let own = cx.view.query();
        let had = if own.has("response_type") {
            own.has("state")
        } else {
            cx.flow
                .and_then(|f| f.authorizes.last())
                .is_some_and(|a| a.state.is_some())
        };
        if had && !v.query.has("state") {
            out.push(&Self::META, "authorize sent state, the callback has none");
        }
    }
}

fn asm_flag(cx: &Cx<'_>) -> bool {
    cx.flow
        .and_then(|f| f.asm_doc())
        .and_then(|d| d.get("authorization_response_iss_parameter_supported"))
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// CB-ISS-MISSING.
pub struct IssMissing;
impl Rule for IssMissing {
    const META: RuleMeta = meta!(
        "CB-ISS-MISSING",
        Error,
        &[As],
        "TS v2 / CC reject before the token call",
        "RFC 9207 §2.4; MCP 2026-07-28; conformance sep-2468-client-reject-missing-iss",
        "The ASM promises iss in authorization responses, but the callback has none",
        "Add iss=<issuer> to every authorization response (or stop advertising authorization_response_iss_parameter_supported)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback else { return };
        if asm_flag(cx) && !v.query.has("iss") && (v.query.has("code") || v.query.has("error")) {
            out.push(&Self::META, "authorization_response_iss_parameter_supported is true, but the callback has no iss");
        }
    }
}

/// CB-ISS-MISMATCH.
pub struct IssMismatch;
impl Rule for IssMismatch {
    const META: RuleMeta = meta!(
        "CB-ISS-MISMATCH",
        Error,
        &[As],
        "CC CLI (\"Issuer mismatch in authorization response (RFC 9207)\"); CAI lenient",
        "RFC 9207 §2.4; MCP 2026-07-28; letehaha/budget-tracker PR 551",
        "The callback's iss differs from the ASM issuer (simple string comparison)",
        "Send iss exactly equal to the ASM `issuer` (same trailing slash and case)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let (Some(v), Some(issuer)) = (cx.callback, cx.flow.and_then(|f| f.asm_str("issuer")))
        else {
            return;
        };
        if let Some(iss) = v.get("iss").filter(|i| *i != issuer) {
            out.push(
                &Self::META,
                format!(
                    "callback iss \"{iss}\" ≠ ASM issuer \"{issuer}\" ({})",
                    crate::parse::urls::compare(iss, issuer).label()
                ),
            );
        }
    }
}

/// CB-TOKEN-IN-URL.
pub struct TokenInUrl;
impl Rule for TokenInUrl {
    const META: RuleMeta = meta!(
        "CB-TOKEN-IN-URL",
        Error,
        &[As, Client],
        "tokens leak; not OAuth 2.1",
        "OAuth 2.1 (implicit removed)",
        "access_token or id_token in the callback query or fragment",
        "Use the authorization code flow only; never put tokens in the redirect."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback else { return };
        let found: Vec<&str> = ["access_token", "id_token"]
            .into_iter()
            .filter(|k| v.query.has(k) || v.fragment.has(k))
            .collect();
        if !found.is_empty() {
            out.push(
                &Self::META,
                format!("{} in the callback URL", found.join(" and ")),
            );
        }
    }
}

/// CB-ERROR.
pub struct Error_;
impl Rule for Error_ {
    const META: RuleMeta = meta!(
        "CB-ERROR",
        Info,
        &[As],
        "—",
        "OAuth 2.1 §4.1.2.1",
        "The callback carries error=",
        "Read error_description: access_denied = the user declined; invalid_scope/invalid_target = fix the requested scope/resource; server_error = the AS failed."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(v) = cx.callback else { return };
        if let Some(e) = v.get("error") {
            out.push(
                &Self::META,
                format!(
                    "authorization failed: error={e}{}",
                    v.get("error_description")
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    fn cb(loc: &str) -> Vec<B> {
        let mut c = Clean::new();
        c.authorize = c.authorize.set_resp_header("location", loc);
        c.steps()
    }
    fn iss() -> String {
        enc(ISSUER)
    }

    #[test]
    fn fires_on_no_code() {
        assert_fires(
            "CB-NO-CODE",
            cb(&format!("{REDIRECT}?state={STATE}&iss={}", iss())),
        );
    }
    #[test]
    fn quiet_on_no_code() {
        assert_quiet("CB-NO-CODE", Clean::new().steps());
    }
    #[test]
    fn fires_on_no_state() {
        assert_fires(
            "CB-NO-STATE",
            cb(&format!("{REDIRECT}?code={CODE}&iss={}", iss())),
        );
    }
    #[test]
    fn quiet_on_no_state() {
        assert_quiet("CB-NO-STATE", Clean::new().steps());
    }
    #[test]
    fn fires_on_iss_missing() {
        assert_fires(
            "CB-ISS-MISSING",
            cb(&format!("{REDIRECT}?code={CODE}&state={STATE}")),
        );
    }
    #[test]
    fn quiet_on_iss_missing() {
        assert_quiet("CB-ISS-MISSING", Clean::new().steps());
    }
    #[test]
    fn fires_on_iss_mismatch() {
        let f = assert_fires(
            "CB-ISS-MISMATCH",
            cb(&format!(
                "{REDIRECT}?code={CODE}&state={STATE}&iss={}",
                enc("https://auth.example.com/")
            )),
        );
        assert!(f.message.contains("trailing slash"));
    }
    #[test]
    fn quiet_on_iss_mismatch() {
        assert_quiet("CB-ISS-MISMATCH", Clean::new().steps());
    }
    #[test]
    fn fires_on_token_in_url() {
        assert_fires(
            "CB-TOKEN-IN-URL",
            cb(&format!(
                "{REDIRECT}?code={CODE}&state={STATE}&iss={}&access_token=x",
                iss()
            )),
        );
    }
    #[test]
    fn quiet_on_token_in_url() {
        assert_quiet("CB-TOKEN-IN-URL", Clean::new().steps());
    }
    #[test]
    fn fires_on_error() {
        assert_fires(
            "CB-ERROR",
            cb(&format!(
                "{REDIRECT}?error=access_denied&state={STATE}&iss={}",
                iss()
            )),
        );
    }
    #[test]
    fn quiet_on_error() {
        assert_quiet("CB-ERROR", Clean::new().steps());
    }
    #[test]
    fn fires_on_callback_request_seen_directly() {
        let mut s = Clean::new().steps();
        s[4] = s[4].clone().status(200).no_resp_header("location");
        s.insert(
            5,
            get(&format!("{REDIRECT}?code={CODE}&state={STATE}")).at(4.5),
        );
        assert_fires("CB-ISS-MISSING", s);
    }
}
