//! A bearer token from the reference server's auto-approving authorization server, the way a
//! native client gets one: DCR (public client, loopback redirect), authorize with PKCE S256 and
//! `resource`, the code from the redirect, then the token request. Shared by the tests that
//! need a token and are not about the OAuth legs themselves.

use serde_json::{Value, json};

/// The redirect URI registered and used (nothing listens there: the code is read from the
/// authorize response's `Location`).
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Where the authorization server's endpoints are.
pub struct AsEndpoints {
    /// `registration_endpoint`.
    pub registration: String,
    /// `authorization_endpoint`.
    pub authorization: String,
    /// `token_endpoint`.
    pub token: String,
}

impl AsEndpoints {
    /// The reference server's endpoints under `base` (its AS and MCP share one origin).
    pub fn of_demo(base: &str) -> Self {
        Self {
            registration: format!("{base}/register"),
            authorization: format!("{base}/authorize"),
            token: format!("{base}/token"),
        }
    }

    /// The endpoints an AS metadata document names.
    pub fn from_metadata(asm: &Value) -> Self {
        let endpoint = |name: &str| {
            asm[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {asm}"))
                .to_string()
        };
        Self {
            registration: endpoint("registration_endpoint"),
            authorization: endpoint("authorization_endpoint"),
            token: endpoint("token_endpoint"),
        }
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A token for `resource` (with `scope`, when given) through DCR, authorize and token. `c`
/// must not follow redirects.
pub async fn token(
    c: &reqwest::Client,
    at: &AsEndpoints,
    resource: &str,
    scope: Option<&str>,
) -> String {
    let registration = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    let reg = json_of(
        c.post(&at.registration)
            .header("content-type", "application/json")
            .body(registration.to_string()),
    )
    .await;
    let client_id = reg["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no client_id in {reg}"));
    let verifier = "v".repeat(50);
    let challenge = authtap::parse::urls::pkce_s256(&verifier);
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "0123456789abcdef0123"),
        ("resource", resource),
    ];
    query.extend(scope.map(|s| ("scope", s)));
    let resp = c
        .get(format!("{}?{}", at.authorization, form(&query)))
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"));
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
        ("client_id", client_id),
        ("resource", resource),
    ]);
    let tok = json_of(
        c.post(&at.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await;
    tok["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tok}"))
        .to_string()
}

/// Sends `request` and parses the answer as JSON.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let bytes = request.send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}
