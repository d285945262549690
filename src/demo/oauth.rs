//! The authorization server's browser endpoints: `/authorize` (auto-approve, an HTML consent form with
//! the `consent-307-after-post` fault, or a sign-in hop with `login_page`), and the locale
//! redirect fault. Registration is in [`super::register`], `/token` in
//! [`super::token`].

use http::{Method, Response, StatusCode};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::Value;

use super::http::{self as h, Body};
use super::metadata::SCOPE;
use super::state::State;
use super::store::{self, AuthzRequest, RegisteredClient};
use super::{Fault, register, token};
use crate::export::escape::html as escape_html;
use crate::parse::urls::same_ignoring_loopback_port;

/// Dispatches the AS endpoints (path already stripped of a locale prefix).
pub async fn handle(state: &State, path: &str, req: Request<Incoming>) -> Response<Body> {
    match path {
        "/register" => register::register(state, req).await,
        "/authorize" => authorize(state, req).await,
        "/authorize/consent" => consent(state, req).await,
        "/authorize/login" => login(state, &req),
        "/token" => token::handle(state, req).await,
        p => match p.strip_prefix("/register/") {
            Some(id) => register::read_registration(state, id, &req),
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

/// Exact string match, except that a loopback http URI may use any port (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, sent: &str) -> bool {
    let http = |u: &str| url::Url::parse(u).is_ok_and(|u| u.scheme() == "http");
    registered == sent
        || (http(registered) && http(sent) && same_ignoring_loopback_port(registered, sent))
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
    let pairs = match authorize_params(req).await {
        Ok(pairs) => pairs,
        Err(resp) => return *resp,
    };
    let target = match answer_target(state, &pairs) {
        Ok(target) => target,
        Err(resp) => return *resp,
    };
    let request = match authz_request(state, &pairs, &target) {
        Ok(request) => request,
        Err((error, description)) => return target.error_redirect(state, error, &description),
    };
    if state.fault(Fault::Consent307AfterPost) {
        let ticket = h::random_token(24);
        store::insert_bounded(&mut state.store().consents, ticket.clone(), request);
        return consent_page(&target.client, &ticket);
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

/// The parameters of an authorization request: the query of a GET, the form of a POST.
async fn authorize_params(
    req: Request<Incoming>,
) -> Result<Vec<(String, String)>, Box<Response<Body>>> {
    match *req.method() {
        Method::GET => Ok(h::parse_form(req.uri().query().unwrap_or("").as_bytes())),
        Method::POST => h::read_body(req.into_body())
            .await
            .map(|b| h::parse_form(&b))
            .map_err(Box::new),
        _ => Err(Box::new(error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "use GET",
        ))),
    }
}

/// Where the answer to an authorization request goes, once its client and redirect URI are
/// known to be good (before that, errors are pages shown to the user, never redirects).
struct AnswerTarget {
    client: RegisteredClient,
    redirect: String,
    redirect_uri_sent: bool,
    state: Option<String>,
}

impl AnswerTarget {
    /// An error response sent to the client's redirect URI, with `state` and the RFC 9207 `iss`.
    fn error_redirect(&self, state: &State, error: &str, description: &str) -> Response<Body> {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &self.state {
            params.push(("state", s));
        }
        params.push(("iss", state.urls.self_issuer.as_str()));
        let mut resp = h::redirect(StatusCode::FOUND, &with_params(&self.redirect, &params));
        h::no_store(&mut resp);
        resp
    }
}

/// Checks `client_id` and `redirect_uri` (a registered client; a registered URI, which may
/// be left out when the client has only one).
fn answer_target(
    state: &State,
    pairs: &[(String, String)],
) -> Result<AnswerTarget, Box<Response<Body>>> {
    let get = |name: &str| h::single(pairs, name);
    let (Ok(client_id), Ok(redirect_uri), Ok(state_param)) =
        (get("client_id"), get("redirect_uri"), get("state"))
    else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "a parameter was sent twice",
        )));
    };
    let Some(client_id) = client_id else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "client_id is required",
        )));
    };
    let Some(client) = state.store().clients.get(client_id).cloned() else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            &format!("client_id {client_id} is not registered"),
        )));
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
            return Err(Box::new(error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect_uri",
                &format!("{r} is not registered for this client"),
            )));
        }
        None if client.redirect_uris.len() == 1 => {
            client.redirect_uris.first().cloned().unwrap_or_default()
        }
        None => {
            return Err(Box::new(error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "redirect_uri is required",
            )));
        }
    };
    Ok(AnswerTarget {
        client,
        redirect,
        redirect_uri_sent: redirect_uri.is_some(),
        state: state_param.map(str::to_string),
    })
}

/// Checks the rest of an authorization request (response type, PKCE S256, resource, scope);
/// `Err` is the OAuth error and its description for the redirect.
fn authz_request(
    state: &State,
    pairs: &[(String, String)],
    target: &AnswerTarget,
) -> Result<AuthzRequest, (&'static str, String)> {
    let fail = |error: &'static str, description: &str| Err((error, description.to_string()));
    let get = |name: &str| h::single(pairs, name);
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
    if let Some(s) = scope {
        let known = s.split(' ').any(|t| t == SCOPE || t == "offline_access");
        if !known
            || s.split(' ')
                .any(|t| !t.is_empty() && t != SCOPE && t != "offline_access")
        {
            return fail("invalid_scope", &format!("supported scopes: {SCOPE}"));
        }
    }
    Ok(AuthzRequest {
        client_id: target.client.client_id.clone(),
        redirect_uri: target.redirect.clone(),
        redirect_uri_sent: target.redirect_uri_sent,
        state: target.state.clone(),
        code_challenge: challenge.to_string(),
        scope: SCOPE.to_string(),
        // The audience is the resource the client named (the same server under the loopback
        // name it used), or the canonical MCP URL when it named none.
        resource: resources
            .first()
            .map_or_else(|| state.urls.mcp_url.clone(), |r| (*r).to_string()),
        created: h::now_secs(),
    })
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
