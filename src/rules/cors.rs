//! CORS-*: browser-client rules. They only apply when the request carries
//! `Origin` or is an `OPTIONS` preflight; server-side connectors send neither.

use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, DynRule, Out, Rule, RuleMeta};
use crate::rules::util::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &NoAcao,
    &PreflightFail,
    &AllowHeaders,
    &ExposeWwwAuth,
    &ExposeSession,
    &WildcardCredentials,
    &Methods,
];

const PRE: &[Phase] = &[Phase::Cors];

fn exposes(ex: &Exchange, header: &str) -> bool {
    let t = tokens(rh(ex, "access-control-expose-headers"));
    t.iter().any(|x| x == header || x == "*")
}

/// CORS-NO-ACAO.
pub struct NoAcao;
impl Rule for NoAcao {
    const META: RuleMeta = RuleMeta {
        id: "CORS-NO-ACAO",
        severity: Error,
        phase: Phase::Cors,
        on: API,
        who: &[Rs, As],
        breaks: "Browser, INSP",
        source: "Fetch standard (CORS protocol); routecraftjs/routecraft#320; getsentry/sentry-mcp#999",
        title: "A cross-origin request gets no matching Access-Control-Allow-Origin",
        fix: "Send `Access-Control-Allow-Origin: <origin>` (or `*` for public metadata) on PRM, ASM, registration, token and MCP responses, including errors.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let (Some(o), Some(_)) = (origin_hdr(ex), ex.response.as_ref()) else {
            return;
        };
        let acao = rh(ex, "access-control-allow-origin");
        if acao.is_none_or(|a| a.trim() != "*" && a.trim() != o) {
            out.push(
                &Self::META,
                format!(
                    "{} request from Origin {o} answered with Access-Control-Allow-Origin: {}",
                    cx.phase,
                    acao.unwrap_or("(none)")
                ),
            );
        }
    }
}

/// CORS-PREFLIGHT-FAIL.
pub struct PreflightFail;
impl Rule for PreflightFail {
    const META: RuleMeta = RuleMeta {
        id: "CORS-PREFLIGHT-FAIL",
        severity: Error,
        phase: Phase::Cors,
        on: PRE,
        who: &[Rs, As],
        breaks: "Browser, INSP",
        source: "envoyproxy/ai-gateway PR 2307; doobidoo/mcp-memory-service PR 877; hauptsacheNet/typo3-mcp-server#115",
        title: "A CORS preflight gets non-2xx, or 2xx without Allow-Methods/Allow-Headers",
        fix: "Answer OPTIONS before any auth middleware with 204 and Access-Control-Allow-Origin/-Methods/-Headers.",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(st) = status(ex) else { return };
        if !(200..300).contains(&st) {
            out.push(
                &Self::META,
                format!("preflight OPTIONS {} answered {st}", ex.request.url),
            );
            return;
        }
        let mut missing = Vec::new();
        if rh(ex, "access-control-allow-methods").is_none() {
            missing.push("Access-Control-Allow-Methods");
        }
        if qh(ex, "access-control-request-headers").is_some()
            && rh(ex, "access-control-allow-headers").is_none()
        {
            missing.push("Access-Control-Allow-Headers");
        }
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!("preflight answered {st} without {}", missing.join(" and ")),
            );
        }
    }
}

/// CORS-ALLOW-HEADERS.
pub struct AllowHeaders;
impl Rule for AllowHeaders {
    const META: RuleMeta = RuleMeta {
        id: "CORS-ALLOW-HEADERS",
        severity: Error,
        phase: Phase::Cors,
        on: PRE,
        who: &[Rs, As],
        breaks: "Browser (discovery retries without MCP-Protocol-Version; /mcp does not recover)",
        source: "Fetch standard; TS SDK fetchWithCorsRetry; open-metadata/OpenMetadata#30673",
        title: "The preflight asks for a header Access-Control-Allow-Headers does not cover",
        fix: "Allow authorization, content-type, mcp-protocol-version, mcp-session-id and last-event-id explicitly (`*` does not cover Authorization).",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if !ok(ex) {
            return;
        }
        let asked = tokens(qh(ex, "access-control-request-headers"));
        let allowed = tokens(rh(ex, "access-control-allow-headers"));
        let star = allowed.iter().any(|a| a == "*");
        let missing: Vec<&String> = asked
            .iter()
            .filter(|h| !allowed.contains(h) && (!star || h.as_str() == "authorization"))
            .collect();
        if !missing.is_empty() {
            out.push(
                &Self::META,
                format!(
                    "preflight asked for {missing:?}; Access-Control-Allow-Headers: {}",
                    rh(ex, "access-control-allow-headers").unwrap_or("(none)")
                ),
            );
        }
    }
}

/// CORS-EXPOSE-WWW-AUTH.
pub struct ExposeWwwAuth;
impl Rule for ExposeWwwAuth {
    const META: RuleMeta = RuleMeta {
        id: "CORS-EXPOSE-WWW-AUTH",
        severity: Error,
        phase: Phase::Cors,
        on: &[],
        who: &[Rs],
        breaks: "Browser: cannot read the challenge, so no discovery",
        source: "Fetch standard (CORS-exposed response headers); modelcontextprotocol/modelcontextprotocol discussion #587",
        title: "A 401/403 to a cross-origin request does not expose WWW-Authenticate",
        fix: "Add `Access-Control-Expose-Headers: WWW-Authenticate` (plus Mcp-Session-Id) to MCP responses.",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if origin_hdr(ex).is_some()
            && matches!(status(ex), Some(401 | 403))
            && !exposes(ex, "www-authenticate")
        {
            out.push(
                &Self::META,
                format!(
                    "{} with Origin got {} but Access-Control-Expose-Headers: {}",
                    ex.request.method,
                    status(ex).unwrap_or(0),
                    rh(ex, "access-control-expose-headers").unwrap_or("(none)")
                ),
            );
        }
    }
}

/// CORS-EXPOSE-SESSION.
pub struct ExposeSession;
impl Rule for ExposeSession {
    const META: RuleMeta = RuleMeta {
        id: "CORS-EXPOSE-SESSION",
        severity: Error,
        phase: Phase::Cors,
        on: &[],
        who: &[Rs],
        breaks: "Browser: cannot echo the session, so the next request gets 400/404",
        source: "MCP 2025-11-25 Transports (session management); github-mcp-server CORS middleware",
        title: "Mcp-Session-Id is returned to a cross-origin request without being exposed",
        fix: "Add Mcp-Session-Id to Access-Control-Expose-Headers.",
    };
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if origin_hdr(ex).is_some()
            && rh(ex, "mcp-session-id").is_some()
            && !exposes(ex, "mcp-session-id")
        {
            out.push(
                &Self::META,
                format!(
                    "Mcp-Session-Id returned, Access-Control-Expose-Headers: {}",
                    rh(ex, "access-control-expose-headers").unwrap_or("(none)")
                ),
            );
        }
    }
}

/// CORS-WILDCARD-CREDENTIALS.
pub struct WildcardCredentials;
impl Rule for WildcardCredentials {
    const META: RuleMeta = RuleMeta {
        id: "CORS-WILDCARD-CREDENTIALS",
        severity: Error,
        phase: Phase::Cors,
        on: &[],
        who: &[Rs, As],
        breaks: "Browser (the response is rejected)",
        source: "Fetch standard",
        title: "Access-Control-Allow-Origin: * together with Allow-Credentials: true",
        fix: "Echo the request Origin instead of `*` when allowing credentials (or drop Allow-Credentials).",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if rh(ex, "access-control-allow-origin").is_some_and(|v| v.trim() == "*")
            && rh(ex, "access-control-allow-credentials")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            out.push(
                &Self::META,
                "Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true",
            );
        }
    }
}

/// CORS-METHODS.
pub struct Methods;
impl Rule for Methods {
    const META: RuleMeta = RuleMeta {
        id: "CORS-METHODS",
        severity: Warning,
        phase: Phase::Cors,
        on: PRE,
        who: &[Rs],
        breaks: "Browser (SSE stream, session DELETE)",
        source: "MCP 2025-11-25 Transports; hauptsacheNet/typo3-mcp-server#115",
        title: "A preflight for GET/DELETE on the MCP URL is not allowed",
        fix: "Allow GET, POST, DELETE and OPTIONS on the MCP URL.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some(m) = qh(ex, "access-control-request-method").map(str::to_ascii_uppercase) else {
            return;
        };
        let on_mcp = cx.flow.and_then(|f| f.mcp_url.as_deref()) == Some(cx.view.base_url());
        if !on_mcp || !(m == "GET" || m == "DELETE") || !ok(ex) {
            return;
        }
        let allowed = tokens(rh(ex, "access-control-allow-methods"));
        if !allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&m) || a == "*")
        {
            out.push(
                &Self::META,
                format!(
                    "preflight for {m} answered with Access-Control-Allow-Methods: {}",
                    rh(ex, "access-control-allow-methods").unwrap_or("(none)")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    fn browser(mut c: Clean) -> Clean {
        c.challenge = c
            .challenge
            .req_header("origin", "http://localhost:6274")
            .resp_header("access-control-allow-origin", "*")
            .resp_header(
                "access-control-expose-headers",
                "WWW-Authenticate, Mcp-Session-Id",
            );
        c.prm = c
            .prm
            .req_header("origin", "http://localhost:6274")
            .resp_header("access-control-allow-origin", "*");
        c
    }
    fn preflight() -> B {
        options(MCP)
            .req_header("origin", "http://localhost:6274")
            .req_header("access-control-request-method", "POST")
            .req_header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .status(204)
            .resp_header("access-control-allow-origin", "http://localhost:6274")
            .resp_header("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")
            .resp_header(
                "access-control-allow-headers",
                "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id",
            )
    }
    fn with_preflight(p: B) -> Vec<B> {
        let mut s = vec![p];
        s.extend(Clean::new().steps());
        s
    }

    #[test]
    fn fires_on_no_acao() {
        let mut c = browser(Clean::new());
        c.prm = c.prm.no_resp_header("access-control-allow-origin");
        assert_fires("CORS-NO-ACAO", c.steps());
    }
    #[test]
    fn quiet_on_no_acao() {
        assert_quiet("CORS-NO-ACAO", browser(Clean::new()).steps());
    }
    #[test]
    fn fires_on_preflight_fail() {
        assert_fires(
            "CORS-PREFLIGHT-FAIL",
            with_preflight(preflight().status(401)),
        );
    }
    #[test]
    fn quiet_on_preflight_fail() {
        assert_quiet("CORS-PREFLIGHT-FAIL", with_preflight(preflight()));
    }
    #[test]
    fn fires_on_allow_headers() {
        assert_fires(
            "CORS-ALLOW-HEADERS",
            with_preflight(preflight().set_resp_header("access-control-allow-headers", "*")),
        );
    }
    #[test]
    fn quiet_on_allow_headers() {
        assert_quiet("CORS-ALLOW-HEADERS", with_preflight(preflight()));
    }
    #[test]
    fn fires_on_expose_www_auth() {
        let mut c = browser(Clean::new());
        c.challenge = c.challenge.no_resp_header("access-control-expose-headers");
        assert_fires("CORS-EXPOSE-WWW-AUTH", c.steps());
    }
    #[test]
    fn quiet_on_expose_www_auth() {
        assert_quiet("CORS-EXPOSE-WWW-AUTH", browser(Clean::new()).steps());
    }
    #[test]
    fn fires_on_expose_session() {
        let mut c = Clean::new();
        c.init = c
            .init
            .req_header("origin", "http://localhost:6274")
            .resp_header("access-control-allow-origin", "*");
        assert_fires("CORS-EXPOSE-SESSION", c.steps());
    }
    #[test]
    fn quiet_on_expose_session() {
        let mut c = Clean::new();
        c.init = c
            .init
            .req_header("origin", "http://localhost:6274")
            .resp_header("access-control-allow-origin", "*")
            .resp_header("access-control-expose-headers", "Mcp-Session-Id");
        assert_quiet("CORS-EXPOSE-SESSION", c.steps());
    }
    #[test]
    fn fires_on_wildcard_credentials() {
        let mut c = browser(Clean::new());
        c.prm = c
            .prm
            .resp_header("access-control-allow-credentials", "true");
        assert_fires("CORS-WILDCARD-CREDENTIALS", c.steps());
    }
    #[test]
    fn quiet_on_wildcard_credentials() {
        assert_quiet("CORS-WILDCARD-CREDENTIALS", browser(Clean::new()).steps());
    }
    #[test]
    fn fires_on_methods() {
        let mut s = Clean::new().steps();
        s.push(
            preflight()
                .set_resp_header("access-control-request-method", "DELETE")
                .set_resp_header("access-control-allow-methods", "POST")
                .at(9.0),
        );
        s.last_mut()
            .unwrap()
            .0
            .request
            .headers
            .retain(|h| h.name != "access-control-request-method");
        let last = s
            .pop()
            .unwrap()
            .req_header("access-control-request-method", "DELETE");
        s.push(last);
        assert_fires("CORS-METHODS", s);
    }
    #[test]
    fn quiet_on_methods() {
        let mut s = Clean::new().steps();
        s.push(preflight().at(9.0));
        assert_quiet("CORS-METHODS", s);
    }
}
