//! The authorization server's browser and registration endpoints: RFC 7591 dynamic client
//! registration (and RFC 7592 read), `/authorize` (auto-approve, an HTML consent form with
//! the `consent-307-after-post` fault, or a sign-in hop with `login_page`), and the locale
//! redirect fault. `/token` is in
//! [`super::token`].

use http::{Method, Response, StatusCode, header};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::cors::{self, Policy};
use super::http::{self as h, Body};
use super::metadata::SCOPE;
use super::state::State;
use super::store::{self, AuthzRequest, RegisteredClient};
use super::{Fault, token};
use crate::export::escape::html as escape_html;
use crate::parse::urls::{is_loopback_url, same_ignoring_loopback_port};

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

/// Dispatches the AS endpoints (path already stripped of a locale prefix).
pub async fn handle(state: &State, path: &str, req: Request<Incoming>) -> Response<Body> {
    match path {
        "/register" => register(state, req).await,
        "/authorize" => authorize(state, req).await,
        "/authorize/consent" => consent(state, req).await,
        "/authorize/login" => login(state, &req),
        "/token" => token::handle(state, req).await,
        p => match p.strip_prefix("/register/") {
            Some(id) => read_registration(state, id, &req),
            None => h::status(StatusCode::NOT_FOUND),
        },
    }
}

/// Fault `locale-redirect`: what next-intl style middleware does to `/authorize`, `/register`
/// and `/token` — 302 for the browser leg, 307 for the API POSTs.
pub fn locale_redirect(req: &Request<Incoming>) -> Response<Body> {
    let target = match req.uri().path_and_query() {
        Some(pq) => format!("/en{pq}"),
        None => "/en/".to_string(),
    };
    let code = if req.method() == Method::GET {
        StatusCode::FOUND
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut resp = h::redirect(code, &target);
    h::set(
        &mut resp,
        "set-cookie",
        "NEXT_LOCALE=en; Path=/; SameSite=lax",
    );
    resp
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    let mut resp = h::json(
        status,
        &json!({"error": error, "error_description": description}),
    );
    h::no_store(&mut resp);
    resp
}

async fn register(state: &State, req: Request<Incoming>) -> Response<Body> {
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
    if req.method() != Method::POST {
        let mut resp = oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use POST",
        );
        h::set(&mut resp, "allow", "POST, OPTIONS");
        return resp;
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let body = match h::read_body(req.into_body()).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let bad = |msg: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", msg);
    if !is_json {
        return bad("the registration request must be application/json");
    }
    let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(&body) else {
        return bad("the registration request must be a JSON object");
    };
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
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("{uri} is neither https, loopback http, nor a private-use scheme"),
        );
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
    let grant_types = match string_list(&meta, "grant_types", &["authorization_code"]) {
        Some(g)
            if g.iter()
                .all(|t| t == "authorization_code" || t == "refresh_token")
                && g.iter().any(|t| t == "authorization_code") =>
        {
            g
        }
        _ => return bad("grant_types must contain authorization_code and may add refresh_token"),
    };
    let response_types = match string_list(&meta, "response_types", &["code"]) {
        Some(r) if r == ["code"] => r,
        _ => return bad("response_types must be [\"code\"]"),
    };

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
    if let Some(contacts) = string_list(&meta, "contacts", &[]).filter(|c| !c.is_empty()) {
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

/// Exact string match, except that a loopback http URI may use any port (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, sent: &str) -> bool {
    let http = |u: &str| url::Url::parse(u).is_ok_and(|u| u.scheme() == "http");
    registered == sent
        || (http(registered) && http(sent) && same_ignoring_loopback_port(registered, sent))
}

fn read_registration(state: &State, id: &str, req: &Request<Incoming>) -> Response<Body> {
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

fn error_page(status: StatusCode, title: &str, detail: &str) -> Response<Body> {
    let page = format!(
        "<!doctype html><html><head><title>{t}</title></head><body><h1>{t}</h1><p>{d}</p></body></html>",
        t = escape_html(title),
        d = escape_html(detail)
    );
    let mut resp = h::html(status, page);
    h::no_store(&mut resp);
    resp
}

/// Appends parameters to a redirect URI without re-serialising it (byte-exact prefix).
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", ser.finish())
}

async fn authorize(state: &State, req: Request<Incoming>) -> Response<Body> {
    let pairs = match *req.method() {
        Method::GET => h::parse_form(req.uri().query().unwrap_or("").as_bytes()),
        Method::POST => match h::read_body(req.into_body()).await {
            Ok(b) => h::parse_form(&b),
            Err(resp) => return resp,
        },
        _ => {
            return error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "use GET",
            );
        }
    };
    let get = |name: &str| h::single(&pairs, name);
    let (client_id, redirect_uri, state_param) =
        match (get("client_id"), get("redirect_uri"), get("state")) {
            (Ok(c), Ok(r), Ok(s)) => (c, r, s),
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid request",
                    "a parameter was sent twice",
                );
            }
        };
    let Some(client_id) = client_id else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "client_id is required",
        );
    };
    let Some(client) = state.store().clients.get(client_id).cloned() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            &format!("client_id {client_id} is not registered"),
        );
    };
    let redirect = match redirect_uri {
        Some(r)
            if client
                .redirect_uris
                .iter()
                .any(|reg| redirect_uri_matches(reg, r)) =>
        {
            r.to_string()
        }
        Some(r) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect_uri",
                &format!("{r} is not registered for this client"),
            );
        }
        None if client.redirect_uris.len() == 1 => {
            client.redirect_uris.first().cloned().unwrap_or_default()
        }
        None => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "redirect_uri is required",
            );
        }
    };
    let iss = state.urls.self_issuer.as_str();
    let fail = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = state_param {
            params.push(("state", s));
        }
        params.push(("iss", iss));
        let mut resp = h::redirect(StatusCode::FOUND, &with_params(&redirect, &params));
        h::no_store(&mut resp);
        resp
    };
    let (Ok(response_type), Ok(challenge), Ok(method), Ok(scope)) = (
        get("response_type"),
        get("code_challenge"),
        get("code_challenge_method"),
        get("scope"),
    ) else {
        return fail("invalid_request", "a parameter was sent twice");
    };
    if response_type != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let Some(challenge) = challenge else {
        return fail("invalid_request", "PKCE code_challenge is required");
    };
    if method != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            "invalid_request",
            "code_challenge must be 43 base64url characters",
        );
    }
    let resources: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(bad) = resources.iter().find(|r| !state.urls.is_resource(r)) {
        return fail(
            "invalid_target",
            &format!(
                "unknown resource {bad}; this AS serves {}",
                state.urls.mcp_url
            ),
        );
    }
    let granted = match scope {
        None => SCOPE.to_string(),
        Some(s) => {
            let known: Vec<&str> = s
                .split(' ')
                .filter(|t| *t == SCOPE || *t == "offline_access")
                .collect();
            if known.is_empty()
                || s.split(' ')
                    .any(|t| !t.is_empty() && t != SCOPE && t != "offline_access")
            {
                return fail("invalid_scope", &format!("supported scopes: {SCOPE}"));
            }
            SCOPE.to_string()
        }
    };
    let request = AuthzRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect.clone(),
        redirect_uri_sent: redirect_uri.is_some(),
        state: state_param.map(str::to_string),
        code_challenge: challenge.to_string(),
        scope: granted,
        // The audience is the resource the client named (the same server under the loopback
        // name it used), or the canonical MCP URL when it named none.
        resource: resources
            .first()
            .map_or_else(|| state.urls.mcp_url.clone(), |r| (*r).to_string()),
        created: h::now_secs(),
    };
    if state.fault(Fault::Consent307AfterPost) {
        let ticket = h::random_token(24);
        store::insert_bounded(&mut state.store().consents, ticket.clone(), request);
        return consent_page(&client, &ticket);
    }
    if state.config.login_page {
        let ticket = h::random_token(24);
        store::insert_bounded(&mut state.store().consents, ticket.clone(), request);
        let mut resp = h::redirect(
            StatusCode::FOUND,
            &format!("/authorize/login?ticket={ticket}"),
        );
        h::no_store(&mut resp);
        return resp;
    }
    approve(state, request, StatusCode::FOUND)
}

/// The sign-in page of `login_page`: signs in at once and redirects to the redirect URI.
fn login(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let pairs = h::parse_form(req.uri().query().unwrap_or("").as_bytes());
    let ticket = h::single(&pairs, "ticket")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    let request = state.store().consents.remove(&ticket);
    match (req.method(), request) {
        (&Method::GET, Some(request)) => approve(state, request, StatusCode::FOUND),
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "start the sign-in again",
        ),
    }
}

/// Issues a code and redirects back to the client.
fn approve(state: &State, request: AuthzRequest, status: StatusCode) -> Response<Body> {
    let code = h::random_token(32);
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s.as_str()));
    }
    params.push(("iss", state.urls.self_issuer.as_str()));
    let location = with_params(&request.redirect_uri, &params);
    store::insert_bounded(&mut state.store().codes, code.clone(), request);
    let mut resp = h::redirect(status, &location);
    h::no_store(&mut resp);
    resp
}

fn consent_page(client: &RegisteredClient, ticket: &str) -> Response<Body> {
    let name = client
        .document
        .get("client_name")
        .and_then(Value::as_str)
        .unwrap_or(&client.client_id);
    let page = format!(
        "<!doctype html><html><head><title>Authorize {n}</title></head><body>\
         <h1>Allow {n} to use the authtap demo MCP server?</h1>\
         <form method=\"post\" action=\"/authorize/consent\">\
         <input type=\"hidden\" name=\"ticket\" value=\"{t}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         </form></body></html>",
        n = escape_html(name),
        t = escape_html(ticket)
    );
    let mut resp = h::html(StatusCode::OK, page);
    h::no_store(&mut resp);
    resp
}

/// The consent form's POST target (fault `consent-307-after-post`): answered with a
/// method-preserving 307 to the redirect URI, so the browser re-POSTs to the callback.
async fn consent(state: &State, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::POST {
        return error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "submit the consent form",
        );
    }
    let pairs = match h::read_body(req.into_body()).await {
        Ok(b) => h::parse_form(&b),
        Err(resp) => return resp,
    };
    let ticket = h::single(&pairs, "ticket")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    let Some(request) = state.store().consents.remove(&ticket) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Consent expired",
            "start the sign-in again",
        );
    };
    if h::single(&pairs, "decision").ok().flatten() != Some("approve") {
        let mut params = vec![("error", "access_denied")];
        if let Some(s) = &request.state {
            params.push(("state", s.as_str()));
        }
        return h::redirect(
            StatusCode::SEE_OTHER,
            &with_params(&request.redirect_uri, &params),
        );
    }
    approve(state, request, StatusCode::TEMPORARY_REDIRECT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_port_exception_only() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:2/cb"
        ));
        assert!(redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:5555/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:1/other"
        ));
        assert!(!redirect_uri_matches(
            "https://claude.ai/cb",
            "https://claude.ai/cb/"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example:1/cb",
            "https://a.example:2/cb"
        ));
    }

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

    #[test]
    fn params_append_without_reserialising() {
        assert_eq!(
            with_params("https://claude.ai", &[("code", "a b")]),
            "https://claude.ai?code=a+b"
        );
        assert_eq!(
            with_params("http://x/cb?x=1", &[("state", "s")]),
            "http://x/cb?x=1&state=s"
        );
    }
}
