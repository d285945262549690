//! The phase classifier: an ordered list of steps, the first that recognises the exchange
//! wins — CORS, discovery, registration, authorization, callback, token, MCP transport, then
//! the 2025-03-26 default endpoints.

use crate::flow::state::Flow;
use crate::model::{Headers, Phase};
use crate::parse::urls;
use crate::parse::view::ExchangeView;

/// Classifies one exchange, using what every flow has already seen (known endpoints, the MCP
/// URL, `resource_metadata` URLs, redirect URIs).
pub fn classify(view: &ExchangeView<'_>, flows: &[Flow]) -> Phase {
    let facts = Facts::new(view, flows);
    cors(&facts)
        .or_else(|| discovery(&facts))
        .or_else(|| registration(&facts))
        .or_else(|| authorization(&facts))
        .or_else(|| callback(&facts))
        .or_else(|| token(&facts))
        .or_else(|| mcp_transport(&facts))
        .or_else(|| default_endpoint(&facts))
        .unwrap_or(Phase::Other)
}

/// What every step looks at.
struct Facts<'v, 'e> {
    view: &'v ExchangeView<'e>,
    flows: &'v [Flow],
    method: &'v str,
    url: &'e str,
    path: &'e str,
    body: &'e str,
    is_form: bool,
    /// The URL is (a trailing-slash twin of) a flow's MCP URL.
    is_mcp_url: bool,
}

impl<'v, 'e> Facts<'v, 'e> {
    fn new(view: &'v ExchangeView<'e>, flows: &'v [Flow]) -> Self {
        let url = view.base_url();
        Facts {
            view,
            flows,
            method: view.method(),
            url,
            path: view.path(),
            body: view.request_text().unwrap_or(""),
            is_form: view.request_media_type().as_deref()
                == Some("application/x-www-form-urlencoded"),
            is_mcp_url: flows.iter().any(|f| {
                f.mcp_url
                    .as_deref()
                    .is_some_and(|m| urls::same_mcp_url(m, url))
            }),
        }
    }

    fn is_get(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// Whether some flow's ASM names this URL (without query) as endpoint `name`.
    fn is_endpoint(&self, name: &str) -> bool {
        self.flows.iter().any(|f| {
            f.asm_str(name)
                .is_some_and(|e| urls::without_query(e) == self.url)
        })
    }
}

/// Step 1: a CORS preflight.
fn cors(x: &Facts<'_, '_>) -> Option<Phase> {
    let req = &x.view.exchange().request;
    (x.method == "OPTIONS" && req.header("access-control-request-method").is_some())
        .then_some(Phase::Cors)
}

/// Step 2–3: PRM, then ASM (well-known forms, or a candidate URL built from a PRM-named issuer).
fn discovery(x: &Facts<'_, '_>) -> Option<Phase> {
    if !x.is_get() {
        return None;
    }
    let full_url = x.view.url();
    let known_rm = x
        .flows
        .iter()
        .flat_map(|f| f.challenges.iter())
        .any(|c| c.resource_metadata.as_deref() == Some(full_url));
    if known_rm || x.path.starts_with("/.well-known/oauth-protected-resource") {
        return Some(Phase::DiscoveryPrm);
    }
    let asm = x
        .path
        .starts_with("/.well-known/oauth-authorization-server")
        || x.path.starts_with("/.well-known/openid-configuration")
        || x.path.ends_with("/.well-known/openid-configuration")
        || x.flows.iter().any(|f| {
            f.prm_auth_servers()
                .iter()
                .any(|i| urls::asm_candidates(i).iter().any(|c| c == x.url))
        });
    asm.then_some(Phase::DiscoveryAs)
}

/// Step 4, registration: DCR, or the AS fetching a CIMD `client_id` URL.
fn registration(x: &Facts<'_, '_>) -> Option<Phase> {
    let json_redirects = x.body.contains("redirect_uris");
    if x.method == "POST"
        && (x.is_endpoint("registration_endpoint")
            || (x.path.ends_with("/register") && json_redirects))
    {
        return Some(Phase::Registration);
    }
    let full_url = x.view.url();
    let cimd = x.method == "GET"
        && x.flows.iter().flat_map(|f| f.authorizes.iter()).any(|a| {
            a.client_id
                .as_deref()
                .is_some_and(|c| c.starts_with("https://") && c == full_url)
        });
    cimd.then_some(Phase::Registration)
}

/// Step 5: authorization, including the AS's own login/consent POSTs between authorize and
/// callback.
fn authorization(x: &Facts<'_, '_>) -> Option<Phase> {
    if x.is_endpoint("authorization_endpoint") || x.view.query().has("response_type") {
        return Some(Phase::Authorize);
    }
    let consent = x.method == "POST"
        && !x.is_mcp_url
        && !x.body.contains("\"jsonrpc\"")
        && (x.is_form || x.body.is_empty())
        && !x.body.contains("grant_type=")
        && in_consent_chain(x);
    consent.then_some(Phase::Authorize)
}

/// A POST to the authorization endpoint's origin while an authorize of some flow is still
/// waiting for its callback.
fn in_consent_chain(x: &Facts<'_, '_>) -> bool {
    let Some(origin) = x.view.origin() else {
        return false;
    };
    x.flows.iter().any(|f| {
        let open = f.authorizes.len() > f.callbacks.len();
        let same = f
            .asm_str("authorization_endpoint")
            .and_then(urls::origin)
            .is_some_and(|o| o == origin);
        let not_api = ["token_endpoint", "registration_endpoint"]
            .iter()
            .all(|n| f.asm_str(n).is_none_or(|e| urls::without_query(e) != x.url));
        open && same && not_api
    })
}

/// Step 6, callback: a redirect to a known redirect URI, or a request to it with code/error and
/// state.
fn callback(x: &Facts<'_, '_>) -> Option<Phase> {
    if let Some(loc) = x.view.redirect_location() {
        if x.flows
            .iter()
            .any(|f| f.knows_redirect_uri(urls::without_query(loc)))
        {
            return Some(Phase::Callback);
        }
    }
    let query = x.view.query();
    let response = (query.has("code") || query.has("error"))
        && query.has("state")
        && (x.flows.iter().any(|f| f.knows_redirect_uri(x.url))
            || x.flows.iter().all(|f| f.mcp_url.as_deref() != Some(x.url)));
    response.then_some(Phase::Callback)
}

/// Step 7: token or refresh.
fn token(x: &Facts<'_, '_>) -> Option<Phase> {
    if x.method != "POST" {
        return None;
    }
    let form = (x.is_form || x.body.contains("grant_type=")).then(|| x.view.form());
    let grant = form.and_then(|f| f.first("grant_type"));
    let is_token = x.is_endpoint("token_endpoint")
        || form.is_some_and(|f| f.has("grant_type"))
        || (x.path.ends_with("/token") && x.is_form);
    is_token.then_some(if grant == Some("refresh_token") {
        Phase::Refresh
    } else {
        Phase::Token
    })
}

/// Step 8: MCP transport. The request body may be missing from the capture (an upstream that
/// answers 401 before reading it), so the response counts too: a JSON-RPC body or a Bearer
/// challenge.
fn mcp_transport(x: &Facts<'_, '_>) -> Option<Phase> {
    let ex = x.view.exchange();
    let req = &ex.request;
    let accept_sse = req
        .header("accept")
        .is_some_and(|a| a.contains("text/event-stream"));
    let jsonrpc_body = x.body.contains("\"jsonrpc\"");
    let resp_jsonrpc = ex
        .response
        .as_ref()
        .and_then(|r| r.body_text())
        .is_some_and(|b| b.contains("\"jsonrpc\""));
    let bearer_challenge = ex.response.as_ref().is_some_and(|r| {
        r.status == 401
            && r.header_all("www-authenticate")
                .any(|v| v.to_ascii_lowercase().contains("resource_metadata"))
    });
    let mcp = x.is_mcp_url
        || (x.method == "POST" && (jsonrpc_body || accept_sse || resp_jsonrpc || bearer_challenge))
        || (x.method == "GET" && accept_sse)
        || req.header("mcp-session-id").is_some()
        || req.header("mcp-protocol-version").is_some() && !x.path.starts_with("/.well-known/");
    mcp.then_some(Phase::McpTransport)
}

/// Until an ASM is known: the 2025-03-26 default endpoints (inferred).
fn default_endpoint(x: &Facts<'_, '_>) -> Option<Phase> {
    if x.method == "GET" && x.path.ends_with("/authorize") {
        return Some(Phase::Authorize);
    }
    (x.method == "POST" && x.path.ends_with("/register")).then_some(Phase::Registration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testkit::*;

    #[test]
    fn classifies_by_path_method_and_body() {
        let flows = Vec::new();
        let cases = [
            (
                options("https://h/mcp").req_header("access-control-request-method", "POST"),
                Phase::Cors,
            ),
            (
                get("https://h/.well-known/oauth-protected-resource/mcp"),
                Phase::DiscoveryPrm,
            ),
            (
                get("https://h/.well-known/oauth-authorization-server"),
                Phase::DiscoveryAs,
            ),
            (
                get("https://h/tenant/.well-known/openid-configuration"),
                Phase::DiscoveryAs,
            ),
            (
                post_json(
                    "https://h/register",
                    r#"{"redirect_uris":["https://c/cb"]}"#,
                ),
                Phase::Registration,
            ),
            (
                get("https://h/oauth/authorize?response_type=code&client_id=c"),
                Phase::Authorize,
            ),
            (
                post_form(
                    "https://h/oauth/token",
                    "grant_type=authorization_code&code=x",
                ),
                Phase::Token,
            ),
            (
                post_form(
                    "https://h/oauth/token",
                    "grant_type=refresh_token&refresh_token=x",
                ),
                Phase::Refresh,
            ),
            (
                post_json(
                    "https://h/mcp",
                    r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#,
                ),
                Phase::McpTransport,
            ),
            (get("https://h/cb?code=abc&state=xyz"), Phase::Callback),
            (get("https://h/favicon.ico"), Phase::Other),
        ];
        for (ex, want) in cases {
            let ex = ex.build();
            assert_eq!(
                classify(&ExchangeView::new(&ex), &flows),
                want,
                "{}",
                ex.request.url
            );
        }
    }
}
