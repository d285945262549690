//! Discovery documents: RFC 9728 protected resource metadata (path-aware and root), RFC 8414
//! authorization server metadata, and the JWKS.

use http::{Method, Response, StatusCode};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::json;

use super::Fault;
use super::cors::{self, Policy};
use super::http::{self as h, Body};
use super::state::State;

/// The one scope the demo resource knows.
pub const SCOPE: &str = "mcp:tools";

fn well_known_policy(state: &State) -> Policy {
    if state.fault(Fault::NoCorsWellKnown) {
        Policy::Off
    } else {
        Policy::Public {
            methods: "GET, OPTIONS",
        }
    }
}

/// Common handling of a GET-only public document: preflight, method check, CORS, no-store.
fn document(
    state: &State,
    req: &Request<Incoming>,
    policy: Policy,
    body: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    let _ = state;
    if cors::is_preflight(req.method(), req.headers()) {
        return cors::preflight(policy, req.headers());
    }
    let mut resp = if req.method() == Method::GET || req.method() == Method::HEAD {
        let mut resp = body();
        h::no_store(&mut resp);
        resp
    } else {
        let mut resp = h::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "invalid_request", "error_description": "use GET"}),
        );
        h::set(&mut resp, "allow", "GET, HEAD, OPTIONS");
        resp
    };
    cors::apply(policy, req.headers(), &mut resp);
    resp
}

/// `/.well-known/oauth-protected-resource[/mcp]`.
pub fn protected_resource(state: &State, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if path != "/.well-known/oauth-protected-resource"
        && path != "/.well-known/oauth-protected-resource/mcp"
    {
        return h::json(StatusCode::NOT_FOUND, &json!({"error": "not_found"}));
    }
    let policy = well_known_policy(state);
    let is_get = req.method() == Method::GET;
    if state.fault(Fault::WafChallengePrm) && is_get {
        let mut resp = h::html(StatusCode::FORBIDDEN, cloudflare_challenge_page());
        h::set(&mut resp, "cf-mitigated", "challenge");
        h::set(&mut resp, "server", "cloudflare");
        h::set(
            &mut resp,
            "cache-control",
            "private, max-age=0, no-store, no-cache, must-revalidate",
        );
        return resp;
    }
    if state.fault(Fault::Prm401) && is_get {
        let mut resp = h::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "unauthorized", "error_description": "authentication required"}),
        );
        h::set(&mut resp, "www-authenticate", "Bearer realm=\"api\"");
        cors::apply(policy, req.headers(), &mut resp);
        return resp;
    }
    let reached = state.urls.as_reached(super::state::request_host(&req));
    document(state, &req, policy, || {
        let resource = if state.fault(Fault::ResourceMismatch) {
            format!("{}/v1/mcp", reached.mcp_origin)
        } else {
            reached.mcp_url.clone()
        };
        h::json(
            StatusCode::OK,
            &json!({
                "resource": resource,
                "authorization_servers": [state.urls.issuer],
                "scopes_supported": [SCOPE],
                "bearer_methods_supported": ["header"],
                "resource_name": "authtap demo MCP server",
            }),
        )
    })
}

/// The RFC 8414 document (also what the tests compare the PRM against).
pub fn authorization_server_document(state: &State) -> serde_json::Value {
    let base = &state.urls.as_origin;
    json!({
        "issuer": state.urls.self_issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "jwks_uri": format!("{base}/jwks"),
        "scopes_supported": [SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": "https://github.com/modelcontextprotocol/modelcontextprotocol",
    })
}

/// `/.well-known/oauth-authorization-server`.
pub fn authorization_server(state: &State, req: Request<Incoming>) -> Response<Body> {
    let policy = well_known_policy(state);
    document(state, &req, policy, || {
        h::json(StatusCode::OK, &authorization_server_document(state))
    })
}

/// `/jwks`.
pub fn jwks(state: &State, req: Request<Incoming>) -> Response<Body> {
    let policy = Policy::Public {
        methods: "GET, OPTIONS",
    };
    document(state, &req, policy, || {
        h::json(StatusCode::OK, &state.signer.jwks())
    })
}

fn cloudflare_challenge_page() -> String {
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
     <meta http-equiv=\"refresh\" content=\"390\"></head><body>\
     <div class=\"main-wrapper\"><h1>Checking if the site connection is secure</h1>\
     <noscript>Enable JavaScript and cookies to continue</noscript></div>\
     <script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f00000000000000\"></script>\
     </body></html>"
        .to_string()
}

/// The Vercel Security Checkpoint page (fault `vercel-checkpoint-mcp`).
pub fn vercel_checkpoint_page() -> String {
    "<!DOCTYPE html><html lang=\"en\"><head><title>Vercel Security Checkpoint</title></head>\
     <body><main><h1>We're verifying your browser</h1>\
     <p>Vercel Security Checkpoint</p><noscript>Please enable JavaScript to continue.</noscript>\
     </main><script src=\"/.well-known/vercel/security/static/challenge.v2.min.js\"></script></body></html>"
        .to_string()
}
