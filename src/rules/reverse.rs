//! Reverse-mode effects on the flow itself: values the client signed over a URL authtap
//! rewrote (which no proxy can fix byte for byte), and requests authtap could not serve.
//!
//! A rewritten exchange carries `client_url` (the proxy URL the client used) next to `url`
//! (what the upstream received); a signed claim naming the proxy origin shows the client built
//! it from a URL authtap announced.

use crate::model::Phase;
use crate::model::Who::*;
use crate::model::{ErrorKind, Exchange, Headers};
use crate::parse::jwt::Jwt;
use crate::parse::urls;
use crate::parse::view::ExchangeView;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[&AssertionAudRewritten, &AuthtapPath, &CallbackUnrecorded];

/// This family's [`RuleMeta`] shorthand: phase Other, hook on every exchange.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Other, &[], $($rest)*)
    };
}

/// The proxy origin of a rewritten exchange: the client's URL origin when it differs from the
/// upstream's.
fn proxy_origin(view: &ExchangeView<'_>) -> Option<String> {
    let client = urls::origin(view.exchange().request.client_url.as_deref()?)?;
    (Some(client.as_str()) != view.origin()).then_some(client)
}

/// Whether a signed URL value points at the proxy rather than the upstream.
fn names_proxy(value: &str, proxy: &str) -> bool {
    value.contains("/__authtap/") || urls::origin(value).is_some_and(|o| o == proxy)
}

/// X-ASSERTION-AUD-REWRITTEN.
pub struct AssertionAudRewritten;
impl Rule for AssertionAudRewritten {
    const META: RuleMeta = meta!(
        "X-ASSERTION-AUD-REWRITTEN",
        Error,
        &[Infra],
        "private_key_jwt / client_secret_jwt and DPoP clients through reverse mode",
        "RFC 7523 §3 (aud); RFC 9449 §4.3 (htu); RFC 8414 §3.3",
        "The client signed a URL that authtap rewrote (a client assertion's aud, a DPoP htu); the AS sees authtap's URL",
        "Reverse mode cannot rewrite a value the client signed. For a local client, record it without rewriting (`authtap proxy --no-rewrite`; the AS legs then go to the AS directly) or test it directly; for a cloud client (claude.ai), expect the assertion to name authtap's issuer shown here, which the AS will refuse unless configured to accept it."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(proxy) = proxy_origin(cx.view) else {
            return;
        };
        let upstream_issuer = cx
            .flow
            .and_then(|f| f.asm_str("issuer"))
            .map(|i| format!("; the AS's issuer is {i}"))
            .unwrap_or_default();
        let form = cx.view.form();
        if let Some(jwt) = form.first("client_assertion").and_then(Jwt::decode) {
            let aud: Vec<String> = jwt.aud();
            if aud.iter().any(|a| names_proxy(a, &proxy)) {
                out.push(
                    &Self::META,
                    format!(
                        "client_assertion aud {aud:?} names authtap's URL, signed by the client; \
                         the request went to {}{upstream_issuer}",
                        cx.view.base_url()
                    ),
                );
            }
        }
        let htu = ex
            .request
            .header("dpop")
            .and_then(Jwt::decode)
            .and_then(|p| p.claims.get("htu")?.as_str().map(str::to_string));
        if let Some(htu) = htu.filter(|h| names_proxy(h, &proxy)) {
            out.push(
                &Self::META,
                format!(
                    "DPoP proof htu {htu} names authtap's URL; the request went to {}",
                    cx.view.base_url()
                ),
            );
        }
    }
}

/// X-AUTHTAP-PATH.
pub struct AuthtapPath;
impl Rule for AuthtapPath {
    const META: RuleMeta = meta!(
        "X-AUTHTAP-PATH",
        Error,
        &[Client, Infra],
        "the client that altered the URL (mcp-remote 0.15 percent-encodes ':' in paths)",
        "RFC 3986 §2.2 (percent-encoding a reserved character such as ':' makes a different URI)",
        "authtap could not serve its own URL: a path under /__authtap/ it did not make, or an upstream URL it could not build",
        "Use the URL exactly as authtap announced it; if a client or proxy re-encodes it, report that to the client's maintainers with this trace."
    );
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(error) = ex
            .error
            .as_ref()
            .filter(|e| matches!(e.kind, ErrorKind::AuthtapPath | ErrorKind::Internal))
        else {
            return;
        };
        out.push(&Self::META, error.message.clone());
    }
}

/// X-CALLBACK-UNRECORDED.
pub struct CallbackUnrecorded;
impl Rule for CallbackUnrecorded {
    const META: RuleMeta = RuleMeta {
        on: &[Phase::Authorize],
        ..crate::rules::rule::rule_meta!(
            Phase::Callback,
            &[],
            "X-CALLBACK-UNRECORDED",
            Error,
            &[Infra],
            "iss-checking clients through reverse mode (Python SDK, claude.ai, Claude Code): issuer mismatch",
            "RFC 9207 §2.4; MCP 2025-11-25 Authorization (authorization server metadata)",
            "After the AS's login page the authorization response goes straight to the client, not through authtap: not recorded, and it carries the upstream issuer",
            "Let the client register (dynamic client registration) while authtap records, so authtap can add its callback bounce URI; for a pre-registered or CIMD client, add the bounce URI named in this finding to its redirect URIs and run `authtap proxy --bounce-client CLIENT_ID`."
        )
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(why) = ex
            .rewrites
            .iter()
            .find(|r| r.location == crate::model::Rewrite::CALLBACK_NOT_BOUNCED)
        {
            out.push(&Self::META, why.to.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::flow::testkit::*;
    use crate::model::{ErrorKind, ExchangeError, Outcome, Rewrite, RewriteDirection};
    use crate::rules::testkit::*;

    const PROXY: &str = "https://localhost:8443";

    fn assertion(aud: &str) -> String {
        jwt(json!({"iss": "client-1", "sub": "client-1", "aud": aud, "exp": 1, "jti": "j"}))
    }

    /// The token step as it reaches the AS through authtap, with a client assertion.
    fn through_proxy(aud: &str) -> Vec<B> {
        let mut c = Clean::new();
        c.token = c.token.edit_req_body(|b| {
            format!(
                "{}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
                b.replace("&client_id=client-1", ""),
                assertion(aud)
            )
        });
        c.token.0.request.client_url = Some(format!("{PROXY}/token"));
        c.steps()
    }

    #[test]
    fn fires_on_assertion_aud_rewritten() {
        let f = assert_fires("X-ASSERTION-AUD-REWRITTEN", through_proxy(PROXY));
        assert!(f.message.contains(ISSUER), "{}", f.message);
        assert_fires(
            "X-ASSERTION-AUD-REWRITTEN",
            through_proxy(&format!("{PROXY}/__authtap/o/https/auth.example.com/-")),
        );
    }

    #[test]
    fn fires_on_dpop_htu_rewritten() {
        let mut c = Clean::new();
        let proof = jwt(json!({"htu": format!("{PROXY}/token"), "htm": "POST", "jti": "j"}));
        c.token = c.token.req_header("dpop", &proof);
        c.token.0.request.client_url = Some(format!("{PROXY}/token"));
        assert_fires("X-ASSERTION-AUD-REWRITTEN", c.steps());
    }

    #[test]
    fn quiet_on_assertion_aud_rewritten() {
        // The client signed the AS's own issuer: nothing was rewritten under it.
        assert_quiet("X-ASSERTION-AUD-REWRITTEN", through_proxy(ISSUER));
        // No proxy in between (client_url absent): the same aud proves nothing.
        let mut c = Clean::new();
        c.token = c
            .token
            .edit_req_body(|b| format!("{b}&client_assertion={}", assertion(PROXY)));
        assert_quiet("X-ASSERTION-AUD-REWRITTEN", c.steps());
    }

    #[test]
    fn fires_on_callback_unrecorded() {
        let mut c = Clean::new();
        c.authorize.0.rewrites.push(Rewrite {
            direction: RewriteDirection::Response,
            location: crate::model::Rewrite::CALLBACK_NOT_BOUNCED.into(),
            from: String::new(),
            to: "client \"c\" did not register through this authtap run".into(),
        });
        let f = assert_fires("X-CALLBACK-UNRECORDED", c.steps());
        assert!(f.message.contains("did not register"), "{}", f.message);
    }

    #[test]
    fn quiet_on_callback_unrecorded() {
        // Other rewrites (the bounce itself, R7) say nothing about a lost callback.
        let mut c = Clean::new();
        c.authorize.0.rewrites.push(Rewrite {
            direction: RewriteDirection::Request,
            location: "query:redirect_uri".into(),
            from: REDIRECT.into(),
            to: "https://localhost:8443/__authtap/cb/x".into(),
        });
        assert_quiet("X-CALLBACK-UNRECORDED", c.steps());
    }

    #[test]
    fn fires_on_authtap_path() {
        let mut c = Clean::new();
        c.authorize.0.outcome = Outcome::Rejected;
        c.authorize.0.error = Some(ExchangeError {
            kind: ErrorKind::AuthtapPath,
            message: "/__authtap/authorize/http/127.0.0.1%3A39101/authorize is not a path".into(),
        });
        assert_fires("X-AUTHTAP-PATH", c.steps());
    }

    #[test]
    fn quiet_on_authtap_path() {
        assert_quiet("X-AUTHTAP-PATH", Clean::new().steps());
        // An upstream failure is not authtap's own.
        let mut c = Clean::new();
        c.prm = c.prm.no_response(ErrorKind::Connect);
        assert_quiet("X-AUTHTAP-PATH", c.steps());
    }
}
