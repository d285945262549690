//! The token endpoint: authorization_code with PKCE S256 (RFC 7636), `resource` (RFC 8707),
//! single-use codes; refresh_token with rotation and reuse detection. Errors follow RFC 6749
//! §5.2 (`invalid_client` is 401); every answer is `Cache-Control: no-store`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Method, Response, StatusCode, header};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::json;

use super::Fault;
use super::cors::{self, Policy};
use super::http::{self as h, Body};
use super::jwt::Claims;
use super::state::State;
use super::store::{self, AuthzRequest, RefreshGrant};

/// `/token`.
pub async fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let policy = Policy::Public {
        methods: "POST, OPTIONS",
    };
    if cors::is_preflight(req.method(), req.headers()) {
        return cors::preflight(policy, req.headers());
    }
    let headers = req.headers().clone();
    let mut resp = match token(state, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    };
    h::no_store(&mut resp);
    cors::apply(policy, &headers, &mut resp);
    resp
}

/// An RFC 6749 §5.2 error.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut resp = h::json(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            let scheme = if self.basic_challenge {
                "Basic realm=\"authtap-demo\""
            } else {
                "Bearer realm=\"authtap-demo\""
            };
            h::set(&mut resp, "www-authenticate", scheme);
        }
        resp
    }
}

type Pairs = Vec<(String, String)>;

async fn token(state: &State, req: Request<Incoming>) -> Result<Response<Body>, OAuthError> {
    if req.method() != Method::POST {
        return Err(OAuthError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            ..OAuthError::new("invalid_request", "use POST")
        });
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic);
    let body = h::read_body(req.into_body())
        .await
        .map_err(|_| OAuthError::new("invalid_request", "body too large"))?;
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let pairs = h::parse_form(&body);
    let get = |name: &str| -> Result<Option<&str>, OAuthError> {
        h::single(&pairs, name)
            .map_err(|n| OAuthError::new("invalid_request", format!("{n} sent more than once")))
    };
    let client_id = authenticate(state, basic, get("client_id")?, get("client_secret")?)?;
    match get("grant_type")? {
        Some("authorization_code") => authorization_code(state, &client_id, &pairs),
        Some("refresh_token") => refresh(state, &client_id, &pairs),
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported"),
        )),
        None => Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
}

/// Decodes `Authorization: Basic` into (id, secret), undoing the form-encoding of RFC 6749 §2.3.1.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unform = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unform(id)?, unform(secret)?))
}

fn authenticate(
    state: &State,
    basic: Option<(String, String)>,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<String, OAuthError> {
    let used_basic = basic.is_some();
    let invalid = |msg: &str| OAuthError {
        basic_challenge: used_basic,
        ..OAuthError::new("invalid_client", msg)
    };
    if used_basic && body_secret.is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "use one client authentication method, not Basic and client_secret",
        ));
    }
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, secret)), Some(body)) if body != id => {
            let _ = secret;
            return Err(invalid(
                "client_id in the body differs from the Basic credentials",
            ));
        }
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (id.to_string(), body_secret.map(str::to_string)),
        (None, None) => return Err(invalid("client authentication failed: no client_id")),
    };
    let store = state.store();
    let Some(client) = store.clients.get(&client_id) else {
        return Err(invalid("client authentication failed: unknown client"));
    };
    match (&client.client_secret, secret) {
        (None, _) => Ok(client_id),
        (Some(expected), Some(got)) if *expected == got => Ok(client_id),
        (Some(_), _) => Err(invalid(
            "client authentication failed: missing or wrong client secret",
        )),
    }
}

fn param<'a>(pairs: &'a Pairs, name: &str) -> Result<Option<&'a str>, OAuthError> {
    h::single(pairs, name)
        .map_err(|n| OAuthError::new("invalid_request", format!("{n} sent more than once")))
}

fn check_resource(state: &State, pairs: &Pairs) -> Result<(), OAuthError> {
    for (_, value) in pairs.iter().filter(|(k, _)| k == "resource") {
        if !state.urls.is_resource(value) {
            return Err(OAuthError::new(
                "invalid_target",
                format!(
                    "unknown resource {value}; this AS serves {}",
                    state.urls.mcp_url
                ),
            ));
        }
    }
    Ok(())
}

/// The `authorization_code` grant: redeems the code once, checks redirect URI, PKCE and
/// resource, and issues the tokens.
fn authorization_code(
    state: &State,
    client_id: &str,
    pairs: &Pairs,
) -> Result<Response<Body>, OAuthError> {
    let code = param(pairs, "code")?
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let now = h::now_secs();
    let grant = redeem_code(state, code)?;
    if grant.created + state.config.code_ttl.as_secs() as i64 <= now {
        return Err(OAuthError::new(
            "invalid_grant",
            "authorization code expired",
        ));
    }
    if grant.client_id != client_id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    check_redirect_uri(pairs, &grant)?;
    check_code_verifier(pairs, &grant)?;
    check_resource(state, pairs)?;
    let family = h::random_token(12);
    let wants_refresh = state
        .store()
        .clients
        .get(client_id)
        .is_some_and(|c| c.grant_types.iter().any(|g| g == "refresh_token"));
    state
        .store()
        .used_codes
        .insert(code.to_string(), (family.clone(), now));
    let refresh = RefreshGrant {
        client_id: client_id.to_string(),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        family,
        created: now,
    };
    issue(state, refresh, wants_refresh)
}

/// Takes the authorization request behind `code` out of the store; a code used before revokes
/// the tokens it was redeemed for.
fn redeem_code(state: &State, code: &str) -> Result<AuthzRequest, OAuthError> {
    let mut store = state.store();
    match store.codes.remove(code) {
        Some(grant) => Ok(grant),
        None => {
            if let Some((family, _)) = store.used_codes.get(code).cloned() {
                store.revoke_family(&family);
                return Err(OAuthError::new(
                    "invalid_grant",
                    "authorization code already used; its tokens are revoked",
                ));
            }
            Err(OAuthError::new(
                "invalid_grant",
                "unknown or expired authorization code",
            ))
        }
    }
}

/// Requires the token request's `redirect_uri` to match the authorization request's (and to
/// be sent when it was sent there).
fn check_redirect_uri(pairs: &Pairs, grant: &AuthzRequest) -> Result<(), OAuthError> {
    match param(pairs, "redirect_uri")? {
        Some(r) if r == grant.redirect_uri => Ok(()),
        None if !grant.redirect_uri_sent => Ok(()),
        Some(r) => Err(OAuthError::new(
            "invalid_grant",
            format!("redirect_uri {r} differs from the authorization request"),
        )),
        None => Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri is required (it was sent to /authorize)",
        )),
    }
}

/// Requires a well-formed PKCE `code_verifier` whose S256 is the grant's code challenge.
fn check_code_verifier(pairs: &Pairs, grant: &AuthzRequest) -> Result<(), OAuthError> {
    let verifier = param(pairs, "code_verifier")?
        .ok_or_else(|| OAuthError::new("invalid_grant", "PKCE code_verifier is required"))?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(OAuthError::new(
            "invalid_grant",
            "code_verifier must be 43-128 unreserved characters",
        ));
    }
    if crate::parse::urls::pkce_s256(verifier) != grant.code_challenge {
        return Err(OAuthError::new(
            "invalid_grant",
            "PKCE verification failed: S256(code_verifier) != code_challenge",
        ));
    }
    Ok(())
}

fn refresh(state: &State, client_id: &str, pairs: &Pairs) -> Result<Response<Body>, OAuthError> {
    let presented = param(pairs, "refresh_token")?
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    let now = h::now_secs();
    check_resource(state, pairs)?;
    let grant = {
        let mut store = state.store();
        match store.refresh.remove(presented) {
            Some(grant) if grant.client_id == client_id => grant,
            Some(grant) => {
                store.refresh.insert(presented.to_string(), grant);
                return Err(OAuthError::new(
                    "invalid_grant",
                    "the refresh token was issued to another client",
                ));
            }
            None => {
                if let Some((family, _)) = store.rotated.get(presented).cloned() {
                    store.revoke_family(&family);
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "refresh token already used (rotated); the token family is revoked",
                    ));
                }
                return Err(OAuthError::new("invalid_grant", "unknown refresh token"));
            }
        }
    };
    store::insert_bounded(
        &mut state.store().rotated,
        presented.to_string(),
        (grant.family.clone(), now),
    );
    check_resource(state, pairs)?;
    if let Some(scope) = param(pairs, "scope")? {
        if scope
            .split(' ')
            .any(|s| !s.is_empty() && !grant.scope.split(' ').any(|g| g == s))
        {
            return Err(OAuthError::new(
                "invalid_scope",
                "a refresh cannot widen the granted scope",
            ));
        }
    }
    issue(
        state,
        RefreshGrant {
            created: now,
            ..grant
        },
        true,
    )
}

fn issue(
    state: &State,
    grant: RefreshGrant,
    with_refresh: bool,
) -> Result<Response<Body>, OAuthError> {
    let now = h::now_secs();
    let ttl = state.config.access_token_ttl.as_secs().max(1) as i64;
    let aud = if state.fault(Fault::TokenWrongAudience) {
        state.urls.issuer.clone()
    } else {
        grant.resource.clone()
    };
    let claims = Claims {
        iss: state.urls.self_issuer.clone(),
        sub: "demo-user".into(),
        aud,
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        iat: now,
        exp: now + ttl,
        jti: h::random_token(12),
    };
    let access = state.signer.sign(&claims).map_err(|_| OAuthError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        ..OAuthError::new("server_error", "signing failed")
    })?;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": grant.scope,
    });
    if with_refresh {
        let refresh = h::random_token(32);
        body["refresh_token"] = json!(refresh);
        store::insert_bounded(&mut state.store().refresh, refresh, grant);
    }
    Ok(h::json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_with_form_encoding() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aid:s%2Bcret"));
        assert_eq!(
            parse_basic(&header),
            Some(("my:id".into(), "s+cret".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn invalid_client_is_401_with_basic_challenge() {
        let err = OAuthError {
            basic_challenge: true,
            ..OAuthError::new("invalid_client", "x")
        };
        let resp = err.into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(
            OAuthError::new("invalid_grant", "x")
                .into_response()
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
}
