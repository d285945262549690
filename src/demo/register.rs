//! The authorization server's registration endpoints: RFC 7591 dynamic client registration
//! (with the demo's DCR faults) and the RFC 7592 read of a registration.

use http::{Method, Response, StatusCode, header};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::Fault;
use super::cors::{self, Policy};
use super::http::{self as h, Body};
use super::state::State;
use super::store::{self, RegisteredClient};
use crate::parse::urls::is_loopback_url;

/// Optional string metadata echoed back at registration when present (RFC 7591 §2).
const ECHOED_STRINGS: &[&str] = &[
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "scope",
    "application_type",
    "jwks_uri",
];

const AUTH_METHODS: &[&str] = &["none", "client_secret_post", "client_secret_basic"];

/// An OAuth error response (`error`, `error_description`), never cached.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    let mut resp = h::json(
        status,
        &json!({"error": error, "error_description": description}),
    );
    h::no_store(&mut resp);
    resp
}

/// RFC 7591 dynamic client registration, with CORS for browser clients.
pub(super) async fn register(state: &State, req: Request<Incoming>) -> Response<Body> {
    let policy = Policy::Public {
        methods: "POST, OPTIONS",
    };
    if cors::is_preflight(req.method(), req.headers()) {
        return cors::preflight(policy, req.headers());
    }
    let headers = req.headers().clone();
    let mut resp = register_inner(state, req).await;
    cors::apply(policy, &headers, &mut resp);
    resp
}

async fn register_inner(state: &State, req: Request<Incoming>) -> Response<Body> {
    let meta = match registration_metadata(req).await {
        Ok(meta) => meta,
        Err(resp) => return *resp,
    };
    match accept_metadata(state, &meta) {
        Ok(accepted) => register_client(state, &meta, accepted),
        Err(resp) => *resp,
    }
}

/// The client metadata of a registration request: a POST of a JSON object.
async fn registration_metadata(
    req: Request<Incoming>,
) -> Result<Map<String, Value>, Box<Response<Body>>> {
    if req.method() != Method::POST {
        let mut resp = oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use POST",
        );
        h::set(&mut resp, "allow", "POST, OPTIONS");
        return Err(Box::new(resp));
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let body = h::read_body(req.into_body()).await.map_err(Box::new)?;
    if !is_json {
        return Err(Box::new(bad_metadata(
            "the registration request must be application/json",
        )));
    }
    let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(&body) else {
        return Err(Box::new(bad_metadata(
            "the registration request must be a JSON object",
        )));
    };
    Ok(meta)
}

/// An `invalid_client_metadata` error (RFC 7591 §3.2.2).
fn bad_metadata(msg: &str) -> Response<Body> {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", msg)
}

/// The registration as the AS accepts it.
struct Accepted {
    redirect_uris: Vec<String>,
    auth_method: String,
    grant_types: Vec<String>,
    response_types: Vec<String>,
}

/// Checks the metadata the AS acts on: redirect URIs, token endpoint auth method, grant and
/// response types.
fn accept_metadata(
    state: &State,
    meta: &Map<String, Value>,
) -> Result<Accepted, Box<Response<Body>>> {
    let bad = |msg: &str| Err(Box::new(bad_metadata(msg)));
    let redirect_uris: Vec<String> = match meta.get("redirect_uris") {
        Some(Value::Array(items)) if !items.is_empty() => {
            let uris: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if uris.len() != items.len() {
                return bad("redirect_uris must be strings");
            }
            uris
        }
        _ => return bad("redirect_uris is required and must be a non-empty array"),
    };
    if let Some(uri) = redirect_uris.iter().find(|u| !redirect_uri_acceptable(u)) {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("{uri} is neither https, loopback http, nor a private-use scheme"),
        )));
    }
    let auth_method = match meta.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "client_secret_basic".to_string(),
        Some(Value::String(m)) if AUTH_METHODS.contains(&m.as_str()) => m.clone(),
        Some(other) => return bad(&format!("unsupported token_endpoint_auth_method {other}")),
    };
    if auth_method == "client_secret_post" && state.fault(Fault::DcrRejectsSecretPost) {
        // better-auth: confidential registration needs a signed-in session.
        return bad(
            "client_secret_post requires an authenticated session; register a public client",
        );
    }
    let grant_types = match string_list(meta, "grant_types", &["authorization_code"]) {
        Some(g)
            if g.iter()
                .all(|t| t == "authorization_code" || t == "refresh_token")
                && g.iter().any(|t| t == "authorization_code") =>
        {
            g
        }
        _ => return bad("grant_types must contain authorization_code and may add refresh_token"),
    };
    let response_types = match string_list(meta, "response_types", &["code"]) {
        Some(r) if r == ["code"] => r,
        _ => return bad("response_types must be [\"code\"]"),
    };
    Ok(Accepted {
        redirect_uris,
        auth_method,
        grant_types,
        response_types,
    })
}

/// Registers the client and answers with its registration document (with the demo's DCR
/// faults applied).
fn register_client(state: &State, meta: &Map<String, Value>, accepted: Accepted) -> Response<Body> {
    let Accepted {
        redirect_uris,
        auth_method,
        grant_types,
        response_types,
    } = accepted;
    let now = h::now_secs();
    let client_id = format!("demo-client-{}", h::random_token(12));
    let secret = (auth_method != "none").then(|| h::random_token(32));
    let mut doc = Map::new();
    doc.insert("client_id".into(), json!(client_id));
    if state.fault(Fault::DcrFloatExpiry) {
        // A JavaScript `Date.now() / 1000` leaking into the response.
        doc.insert("client_id_issued_at".into(), json!(now as f64 + 0.371));
        doc.insert(
            "client_secret".into(),
            json!(secret.clone().unwrap_or_else(|| h::random_token(32))),
        );
        doc.insert(
            "client_secret_expires_at".into(),
            json!((now + 30 * 86_400) as f64 + 0.371),
        );
    } else {
        doc.insert("client_id_issued_at".into(), json!(now));
        if let Some(secret) = &secret {
            doc.insert("client_secret".into(), json!(secret));
            doc.insert("client_secret_expires_at".into(), json!(0));
        }
    }
    doc.insert("redirect_uris".into(), json!(redirect_uris));
    doc.insert("grant_types".into(), json!(grant_types));
    doc.insert("response_types".into(), json!(response_types));
    doc.insert("token_endpoint_auth_method".into(), json!(auth_method));
    for key in ECHOED_STRINGS {
        if let Some(Value::String(v)) = meta.get(*key) {
            doc.insert((*key).into(), json!(v));
        }
    }
    if let Some(contacts) = string_list(meta, "contacts", &[]).filter(|c| !c.is_empty()) {
        doc.insert("contacts".into(), json!(contacts));
    }
    if state.fault(Fault::DcrNullOptional) {
        for key in ["client_uri", "logo_uri", "software_id", "software_version"] {
            doc.entry(key).or_insert(Value::Null);
        }
    }
    let registration_access_token = h::random_token(32);
    doc.insert(
        "registration_client_uri".into(),
        json!(format!("{}/register/{client_id}", state.urls.as_origin)),
    );
    doc.insert(
        "registration_access_token".into(),
        json!(registration_access_token),
    );
    let document = Value::Object(doc);
    let client = RegisteredClient {
        client_id: client_id.clone(),
        client_secret: secret,
        redirect_uris,
        grant_types,
        document: document.clone(),
        registration_access_token,
        created: now,
    };
    store::insert_bounded(&mut state.store().clients, client_id, client);
    let mut resp = h::json(StatusCode::CREATED, &document);
    h::no_store(&mut resp);
    resp
}

/// A list of strings from the metadata, or the default when absent. `None` when malformed.
fn string_list(meta: &Map<String, Value>, key: &str, default: &[&str]) -> Option<Vec<String>> {
    match meta.get(key) {
        None | Some(Value::Null) => Some(default.iter().map(|s| s.to_string()).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => None,
    }
}

/// https, loopback http, or a private-use scheme (RFC 8252 §7.1); never a fragment or a
/// script/data scheme.
fn redirect_uri_acceptable(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => is_loopback_url(uri),
        "javascript" | "data" | "vbscript" | "file" | "ftp" | "ws" | "wss" => false,
        _ => true,
    }
}

pub(super) fn read_registration(
    state: &State,
    id: &str,
    req: &Request<Incoming>,
) -> Response<Body> {
    if req.method() != Method::GET {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "only GET is supported",
        );
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let store = state.store();
    match (store.clients.get(id), presented) {
        (Some(client), Some(tok)) if tok == client.registration_access_token => {
            let mut resp = h::json(StatusCode::OK, &client.document);
            h::no_store(&mut resp);
            resp
        }
        _ => {
            let mut resp = oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "unknown client or token",
            );
            h::set(
                &mut resp,
                "www-authenticate",
                "Bearer error=\"invalid_token\"",
            );
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_schemes() {
        assert!(redirect_uri_acceptable(
            "https://claude.ai/api/mcp/auth_callback"
        ));
        assert!(redirect_uri_acceptable(
            "http://localhost:6274/oauth/callback"
        ));
        assert!(redirect_uri_acceptable("com.example.app:/callback"));
        assert!(!redirect_uri_acceptable("http://evil.example/cb"));
        assert!(!redirect_uri_acceptable("javascript:alert(1)"));
        assert!(!redirect_uri_acceptable("https://a.example/cb#frag"));
    }
}
