//! The phase classifier (first match wins), plus the "callback view": the
//! authorization response as carried by a redirect `Location` (reverse mode with an
//! auto-approving AS) or by the browser's request to the `redirect_uri`.

use crate::flow::state::Flow;
use crate::model::Phase;
use crate::model::{Exchange, Headers};
use crate::parse::form::Pairs;
use crate::parse::urls;

/// Classifies one exchange, using what every flow has already seen (known endpoints, the MCP
/// URL, `resource_metadata` URLs, redirect URIs).
pub fn classify(ex: &Exchange, flows: &[Flow]) -> Phase {
    let req = &ex.request;
    let method = req.method.to_ascii_uppercase();
    let url = urls::without_query(&req.url);
    let path = urls::raw_path(&req.url);
    let query = Pairs::from_url_query(&req.url);
    let body = req.body_text().unwrap_or("");
    let is_form = req.media_type().as_deref() == Some("application/x-www-form-urlencoded");

    // 1. CORS preflight.
    if method == "OPTIONS" && req.header("access-control-request-method").is_some() {
        return Phase::Cors;
    }
    // 2. PRM.
    let known_rm = flows
        .iter()
        .flat_map(|f| f.challenges.iter())
        .any(|c| c.resource_metadata.as_deref() == Some(req.url.as_str()));
    if (method == "GET" || method == "HEAD")
        && (known_rm || path.starts_with("/.well-known/oauth-protected-resource"))
    {
        return Phase::DiscoveryPrm;
    }
    // 3. ASM (well-known forms, or a candidate URL built from a PRM-named issuer).
    if (method == "GET" || method == "HEAD")
        && (path.starts_with("/.well-known/oauth-authorization-server")
            || path.starts_with("/.well-known/openid-configuration")
            || path.ends_with("/.well-known/openid-configuration")
            || flows.iter().any(|f| {
                f.prm_auth_servers()
                    .iter()
                    .any(|i| urls::asm_candidates(i).iter().any(|c| c == url))
            }))
    {
        return Phase::DiscoveryAs;
    }
    let endpoint = |name: &str| {
        flows.iter().any(|f| {
            f.asm_str(name)
                .is_some_and(|e| urls::without_query(e) == url)
        })
    };
    // 4. Registration (DCR, or the AS fetching a CIMD client_id URL).
    let json_redirects = body.contains("redirect_uris");
    if method == "POST"
        && (endpoint("registration_endpoint") || (path.ends_with("/register") && json_redirects))
    {
        return Phase::Registration;
    }
    if method == "GET"
        && flows.iter().flat_map(|f| f.authorizes.iter()).any(|a| {
            a.client_id
                .as_deref()
                .is_some_and(|c| c.starts_with("https://") && c == req.url)
        })
    {
        return Phase::Registration;
    }
    // 5. Authorize (including the AS's own login/consent POSTs between authorize and callback).
    if endpoint("authorization_endpoint") || query.has("response_type") {
        return Phase::Authorize;
    }
    let is_mcp_url = flows.iter().any(|f| {
        f.mcp_url
            .as_deref()
            .is_some_and(|m| crate::flow::correlate::same_mcp_url(m, url))
    });
    let jsonrpc_body = body.contains("\"jsonrpc\"");
    if method == "POST"
        && !is_mcp_url
        && !jsonrpc_body
        && (is_form || body.is_empty())
        && !body.contains("grant_type=")
        && in_consent_chain(ex, flows)
    {
        return Phase::Authorize;
    }
    // 6. Callback: a redirect to a known redirect_uri, or a request to it with code/error + state.
    if let Some(loc) = ex
        .response
        .as_ref()
        .filter(|r| (300..400).contains(&r.status))
        .and_then(|r| r.header("location"))
    {
        if flows
            .iter()
            .any(|f| f.knows_redirect_uri(urls::without_query(loc)))
        {
            return Phase::Callback;
        }
    }
    if (query.has("code") || query.has("error"))
        && query.has("state")
        && (flows.iter().any(|f| f.knows_redirect_uri(url))
            || flows.iter().all(|f| f.mcp_url.as_deref() != Some(url)))
    {
        return Phase::Callback;
    }
    // 7. Token / refresh.
    let form = if is_form || body.contains("grant_type=") {
        Pairs::parse(body)
    } else {
        Pairs::default()
    };
    if method == "POST"
        && (endpoint("token_endpoint")
            || form.has("grant_type")
            || (path.ends_with("/token") && is_form))
    {
        return if form.first("grant_type") == Some("refresh_token") {
            Phase::Refresh
        } else {
            Phase::Token
        };
    }
    // 8. MCP transport.
    let accept_sse = req
        .header("accept")
        .is_some_and(|a| a.contains("text/event-stream"));
    // The request body may be missing from the capture (an upstream that answers 401 before
    // reading it), so the response counts too: a JSON-RPC body or a Bearer challenge.
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
    if is_mcp_url
        || (method == "POST" && (jsonrpc_body || accept_sse || resp_jsonrpc || bearer_challenge))
        || (method == "GET" && accept_sse)
        || req.header("mcp-session-id").is_some()
        || req.header("mcp-protocol-version").is_some() && !path.starts_with("/.well-known/")
    {
        return Phase::McpTransport;
    }
    // Until an ASM is known: the 2025-03-26 default endpoints (inferred).
    if method == "GET" && path.ends_with("/authorize") {
        return Phase::Authorize;
    }
    if method == "POST" && path.ends_with("/register") {
        return Phase::Registration;
    }
    Phase::Other
}

/// A POST to the authorization endpoint's origin while an authorize of some flow is still
/// waiting for its callback.
fn in_consent_chain(ex: &Exchange, flows: &[Flow]) -> bool {
    let Some(origin) = urls::origin(&ex.request.url) else {
        return false;
    };
    flows.iter().any(|f| {
        let open = f.authorizes.len() > f.callbacks.len();
        let same = f
            .asm_str("authorization_endpoint")
            .and_then(urls::origin)
            .is_some_and(|o| o == origin);
        let not_api = ["token_endpoint", "registration_endpoint"].iter().all(|n| {
            f.asm_str(n)
                .is_none_or(|e| urls::without_query(e) != urls::without_query(&ex.request.url))
        });
        open && same && not_api
    })
}

/// The authorization response carried by an exchange.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallbackView {
    /// The callback URL (the `Location`, or the request URL).
    pub url: String,
    /// Query parameters of the callback URL.
    pub query: Pairs,
    /// Fragment parameters of the callback URL.
    pub fragment: Pairs,
    /// Seen as a redirect `Location` (true) or as the request to the redirect URI (false).
    pub via_location: bool,
    /// Status of the redirect, when via `Location`.
    pub redirect_status: Option<u16>,
}

impl CallbackView {
    /// First query value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.query.first(name)
    }
}

/// Finds the authorization response in an exchange: a 3xx `Location` to a known redirect URI
/// or carrying `code`/`error` with `state`, or the request to a redirect URI itself.
pub fn callback_view(ex: &Exchange, phase: Phase, flows: &[Flow]) -> Option<CallbackView> {
    if let Some(resp) = ex
        .response
        .as_ref()
        .filter(|r| (300..400).contains(&r.status))
    {
        if let Some(loc) = resp.header("location") {
            let q = Pairs::from_url_query(loc);
            let f = Pairs::from_url_fragment(loc);
            let known = flows
                .iter()
                .any(|fl| fl.knows_redirect_uri(urls::without_query(loc)));
            let shaped = (q.has("code") || q.has("error") || f.has("access_token"))
                && (q.has("state") || f.has("state"));
            let from_authorize = matches!(phase, Phase::Authorize | Phase::Callback);
            if known || (shaped && from_authorize) {
                return Some(CallbackView {
                    url: loc.to_string(),
                    query: q,
                    fragment: f,
                    via_location: true,
                    redirect_status: Some(resp.status),
                });
            }
        }
    }
    if phase == Phase::Callback
        && !ex
            .response
            .as_ref()
            .is_some_and(|r| (300..400).contains(&r.status))
    {
        return Some(CallbackView {
            url: ex.request.url.clone(),
            query: Pairs::from_url_query(&ex.request.url),
            fragment: Pairs::from_url_fragment(&ex.request.url),
            via_location: false,
            redirect_status: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testkit::*;

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
            assert_eq!(classify(&ex, &flows), want, "{}", ex.request.url);
        }
    }

    #[test]
    fn finds_callback_in_authorize_redirect() {
        let ex = get(
            "https://as/authorize?response_type=code&state=s&redirect_uri=http://127.0.0.1:9/cb",
        )
        .status(302)
        .resp_header(
            "location",
            "http://127.0.0.1:9/cb?code=c1&state=s&iss=https%3A%2F%2Fas",
        )
        .build();
        let v = callback_view(&ex, Phase::Authorize, &[]).unwrap();
        assert!(v.via_location);
        assert_eq!(v.get("iss"), Some("https://as"));
    }
}
