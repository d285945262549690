//! REFRESH-*: the token endpoint, refresh_token grant: rotation for public
//! clients, the resource parameter, widened scopes and refresh errors.

use serde_json::Value;

use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::urls;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[&NoRotation, &NoResource, &ScopeWidened, &Error_];

const REF: &[Phase] = &[Phase::Refresh];

/// This family's [`RuleMeta`] shorthand: phase Refresh, hook on REF.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Refresh, REF, $($rest)*)
    };
}

/// REFRESH-NO-ROTATION.
pub struct NoRotation;
impl Rule for NoRotation {
    const META: RuleMeta = meta!(
        "REFRESH-NO-ROTATION",
        Error,
        &[As],
        "security only; a replayed refresh token stays valid",
        "MCP 2025-06-18 \"Token Theft\"; OAuth 2.1 §4.3.1",
        "A public client's refresh response carries no new refresh_token (or the same one)",
        "Rotate refresh tokens for public clients: issue a new one with every refresh and invalidate the old."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let form = cx.view.form();
        let public = qh(ex, "authorization").is_none() && !form.has("client_secret");
        let Some(d) = token_response(cx.view) else {
            return;
        };
        if !public || qh(ex, "dpop").is_some() {
            return;
        }
        let presented = form.first("refresh_token").map(urls::secret_hash);
        match d
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(urls::secret_hash)
        {
            None => {
                out.push(
                    &Self::META,
                    "refresh response for a public client carries no new refresh_token",
                );
            }
            Some(h) if Some(&h) == presented.as_ref() => {
                out.push(
                    &Self::META,
                    "refresh response returned the same refresh_token (no rotation)",
                );
            }
            _ => {}
        }
    }
}

/// REFRESH-NO-RESOURCE.
pub struct NoResource;
impl Rule for NoResource {
    const META: RuleMeta = meta!(
        "REFRESH-NO-RESOURCE",
        Warning,
        &[Client],
        "the AS may mint a token for a default audience (anthropics/claude-code#73460)",
        "MCP 2025-11-25 Authorization \"Resource Parameter Implementation\"; RFC 8707 §2.2",
        "The refresh request lacks resource while the original exchange had one",
        "Send resource in refresh requests too."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let had = cx.flow.is_some_and(|f| {
            f.tokens
                .iter()
                .any(|t| t.grant == "authorization_code" && !t.resource.is_empty())
        });
        if had && ex.request.body.is_some() && !cx.view.form().has("resource") {
            out.push(
                &Self::META,
                "refresh request without resource (the code exchange had one)",
            );
        }
    }
}

/// REFRESH-SCOPE-WIDENED.
pub struct ScopeWidened;
impl Rule for ScopeWidened {
    const META: RuleMeta = meta!(
        "REFRESH-SCOPE-WIDENED",
        Info,
        &[Client],
        "AS invalid_scope; step-up needs a new authorization",
        "RFC 6749 §6",
        "The refresh request asks for scopes not granted originally",
        "Request at most the originally granted scopes on refresh; use a new authorization for more."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(asked) = cx.view.form().first("scope").map(str::to_owned) else {
            return;
        };
        let granted: Vec<String> = cx
            .flow
            .and_then(|f| {
                f.tokens
                    .iter()
                    .rev()
                    .find_map(|t| t.issued.as_ref()?.scope.clone())
            })
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if granted.is_empty() {
            return;
        }
        let extra: Vec<&str> = asked
            .split_whitespace()
            .filter(|s| !granted.iter().any(|g| g == s))
            .collect();
        if !extra.is_empty() {
            out.push(
                &Self::META,
                format!("refresh asks for {extra:?} beyond the granted {granted:?}"),
            );
        }
    }
}

/// REFRESH-ERROR.
pub struct Error_;
impl Rule for Error_ {
    const META: RuleMeta = meta!(
        "REFRESH-ERROR",
        Info,
        &[As],
        "—",
        "RFC 6749 §5.2",
        "The refresh failed with invalid_grant or invalid_client",
        "invalid_grant: re-authorize; 401 invalid_client: re-register (see X-REFRESH-RECOVERY)."
    );
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let e = json_obj(cx.view)
            .and_then(|d| d.get("error").and_then(Value::as_str).map(str::to_owned));
        if let Some(e) = e.filter(|e| e == "invalid_grant" || e == "invalid_client") {
            out.push(
                &Self::META,
                format!("refresh failed: {} {e}", status(ex).unwrap_or(0)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;
    use serde_json::json;

    fn refresh(body: &str, resp: serde_json::Value, status: u16) -> Vec<B> {
        let mut s = Clean::new().steps();
        s.push(
            post_form(&format!("{ISSUER}/token"), body)
                .at(20.0)
                .status(status)
                .resp_header("cache-control", "no-store")
                .resp_json(&resp.to_string()),
        );
        s
    }
    fn good() -> String {
        format!(
            "grant_type=refresh_token&refresh_token=rt-1&client_id=client-1&resource={}",
            enc(MCP)
        )
    }

    #[test]
    fn fires_on_no_rotation() {
        assert_fires(
            "REFRESH-NO-ROTATION",
            refresh(
                &good(),
                json!({"access_token":"a2","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}),
                200,
            ),
        );
    }
    #[test]
    fn quiet_on_no_rotation() {
        assert_quiet(
            "REFRESH-NO-ROTATION",
            refresh(
                &good(),
                json!({"access_token":"a2","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-2"}),
                200,
            ),
        );
    }
    #[test]
    fn fires_on_no_resource() {
        assert_fires(
            "REFRESH-NO-RESOURCE",
            refresh(
                "grant_type=refresh_token&refresh_token=rt-1&client_id=client-1",
                json!({"error":"invalid_grant"}),
                400,
            ),
        );
    }
    #[test]
    fn quiet_on_no_resource() {
        assert_quiet(
            "REFRESH-NO-RESOURCE",
            refresh(&good(), json!({"error":"invalid_grant"}), 400),
        );
    }
    #[test]
    fn fires_on_scope_widened() {
        assert_fires(
            "REFRESH-SCOPE-WIDENED",
            refresh(
                &format!("{}&scope=mcp+admin", good()),
                json!({"error":"invalid_scope"}),
                400,
            ),
        );
    }
    #[test]
    fn quiet_on_scope_widened() {
        assert_quiet(
            "REFRESH-SCOPE-WIDENED",
            refresh(
                &format!("{}&scope=mcp", good()),
                json!({"error":"invalid_scope"}),
                400,
            ),
        );
    }
    #[test]
    fn fires_on_error() {
        assert_fires(
            "REFRESH-ERROR",
            refresh(&good(), json!({"error":"invalid_grant"}), 400),
        );
    }
    #[test]
    fn quiet_on_error() {
        assert_quiet("REFRESH-ERROR", Clean::new().steps());
    }
}
