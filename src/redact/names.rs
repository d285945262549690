//! Which names mark a secret: header names, and parameter names used in query strings, form
//! bodies, JSON keys and cookie-like `name=value` text.
//!
//! The lists are the union of Google's and Cloudflare's HAR sanitizers, Chrome's sanitized
//! export, Dev Proxy and MCP Inspector (see `har-and-redaction.md` §3.5), plus the OAuth and MCP
//! names the design notes add. Matching is ASCII case-insensitive and treats `-` like `_`.

/// Headers whose whole value is a credential (after scheme handling for `authorization`).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "x_api_key",
    "api_key",
    "apikey",
    "x_auth_token",
    "x_csrf_token",
    "x_xsrf_token",
    "x_session_token",
    "mcp_session_id",
    "x_mcp_remote_auth",
    "x_amz_security_token",
    "x_goog_api_key",
    "x_client_data",
    "x_access_token",
    "x_refresh_token",
    "private_token",
];

/// Parameter and JSON key names whose value is a secret.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "code_challenge",
    "state",
    "client_secret",
    "registration_access_token",
    "assertion",
    "client_assertion",
    "subject_token",
    "actor_token",
    "password",
    "passwd",
    "pwd",
    "token",
    "api_key",
    "apikey",
    "secret",
    "authenticity_token",
    "csrf_token",
    "xsrf_token",
    "session_token",
    "device_code",
    "samlrequest",
    "samlresponse",
    "mcp_session_id",
    "session_id",
    "sessionid",
    "otp",
    "auth",
    "authorization",
    "cookie",
];

/// Suffixes that make a `…token…`/`…secret…` name metadata rather than a secret.
const METADATA_SUFFIXES: &[&str] = &[
    "_endpoint",
    "_method",
    "_methods",
    "_supported",
    "_type",
    "_types",
    "_uri",
    "_url",
    "_expires_at",
    "_expires_in",
    "_alg",
    "_values_supported",
    "_hint",
];

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// Whether a parameter or JSON key names a secret value.
pub fn is_secret_param(name: &str) -> bool {
    let n = normalize(name);
    if SECRET_PARAMS.contains(&n.as_str()) {
        return true;
    }
    let heuristic = n.contains("token") || n.contains("secret") || n.contains("password");
    heuristic && !METADATA_SUFFIXES.iter().any(|s| n.ends_with(s)) && !n.starts_with("token_")
}

/// Whether a numeric JSON value under this key is a secret too (not `code`: JSON-RPC error codes).
pub fn redacts_numbers(name: &str) -> bool {
    let n = normalize(name);
    n != "code" && n != "state" && is_secret_param(&n)
}

/// Parts of a header name that mark its value as a credential, in either direction
/// (`X-Upstream-Key`, `X-Session`, `X-Request-Signature`, `X-Auth-User`).
const SECRET_HEADER_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "auth",
    "session",
    "password",
    "passwd",
    "signature",
    "cookie",
    "credential",
];

/// Headers whose names match a secret part but whose values are diagnostic, not secret: the
/// challenge headers (only token-like parts inside them are redacted), CORS lists of header
/// names, GitHub's scope lists, and authtap's own markers.
fn is_diagnostic_header(n: &str) -> bool {
    matches!(
        n,
        "www_authenticate"
            | "proxy_authenticate"
            | "authentication_info"
            | "x_oauth_scopes"
            | "x_accepted_oauth_scopes"
    ) || n.starts_with("access_control_")
        || n.starts_with("x_authtap")
}

/// Whether a header's value is a credential as a whole: a known name, or any name holding a
/// secret part (see `SECRET_HEADER_PARTS`) that is not a diagnostic header.
pub fn is_secret_header(name: &str) -> bool {
    let n = normalize(name);
    if is_diagnostic_header(&n) {
        return false;
    }
    SECRET_HEADERS.contains(&n.as_str()) || SECRET_HEADER_PARTS.iter().any(|p| n.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_params_and_metadata_names() {
        for n in [
            "access_token",
            "Code",
            "code-verifier",
            "client_secret",
            "my_api_token",
            "PASSWORD",
        ] {
            assert!(is_secret_param(n), "{n}");
        }
        for n in [
            "token_endpoint",
            "token_type",
            "client_secret_expires_at",
            "code_challenge_method",
            "token_endpoint_auth_methods_supported",
            "client_id",
            "redirect_uri",
            "resource",
        ] {
            assert!(!is_secret_param(n), "{n}");
        }
    }

    #[test]
    fn secret_headers_never_www_authenticate() {
        assert!(is_secret_header("Authorization"));
        assert!(is_secret_header("Mcp-Session-Id"));
        assert!(is_secret_header("X-CSRF-Token"));
        assert!(!is_secret_header("WWW-Authenticate"));
        assert!(!is_secret_header("Access-Control-Allow-Headers"));
        assert!(!is_secret_header("content-type"));
        assert!(!is_secret_header("X-OAuth-Scopes"));
        assert!(!is_secret_header("x-authtap-error"));
        for n in [
            "X-Upstream-Key",
            "X-Session",
            "X-Request-Signature",
            "X-Auth-User",
            "X-Db-Password",
            "x-amz-credential",
        ] {
            assert!(is_secret_header(n), "{n}");
        }
    }
}
