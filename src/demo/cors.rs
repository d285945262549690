//! CORS for browser clients (MCP Inspector in direct mode, web IDEs).
//!
//! Public documents and OAuth endpoints (well-known, register, token, jwks) allow any origin
//! (`*`, no credentials). `/mcp` echoes allowed origins only (loopback web origins plus the
//! configured list), exposes `WWW-Authenticate`, `Mcp-Session-Id` and `MCP-Protocol-Version`,
//! and its preflight is answered before authentication.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use super::http::{self as h, Body};

/// Request headers browsers may send (preflight `Access-Control-Allow-Headers`).
pub const ALLOW_HEADERS: &str = "authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id, mcp-method, mcp-name";

/// Response headers browsers may read on `/mcp`.
pub const EXPOSE_MCP: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";

/// How an endpoint does CORS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Public endpoint: `*`.
    Public {
        /// Allowed methods for the preflight.
        methods: &'static str,
    },
    /// `/mcp`: echo an allowed origin; optionally hide `WWW-Authenticate` (fault).
    Mcp {
        /// Whether `WWW-Authenticate` is exposed.
        expose_www_authenticate: bool,
    },
    /// No CORS at all (fault `no-cors-well-known`).
    Off,
}

/// The request's `Origin`, if any.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN)?.to_str().ok()
}

/// Whether a web origin is loopback (`http(s)://localhost|127.x|[::1][:port]`).
pub fn is_loopback_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Answers a preflight under a policy.
pub fn preflight(policy: Policy, headers: &HeaderMap) -> Response<Body> {
    match policy {
        Policy::Off => {
            let mut resp = h::status(StatusCode::METHOD_NOT_ALLOWED);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            resp
        }
        Policy::Public { methods } => {
            let mut resp = h::status(StatusCode::NO_CONTENT);
            apply(policy, headers, &mut resp);
            h::set(&mut resp, "access-control-allow-methods", methods);
            h::set(&mut resp, "access-control-allow-headers", ALLOW_HEADERS);
            h::set(&mut resp, "access-control-max-age", "600");
            resp
        }
        Policy::Mcp { .. } => {
            let mut resp = h::status(StatusCode::NO_CONTENT);
            apply(policy, headers, &mut resp);
            h::set(
                &mut resp,
                "access-control-allow-methods",
                "GET, POST, DELETE, OPTIONS",
            );
            h::set(&mut resp, "access-control-allow-headers", ALLOW_HEADERS);
            h::set(&mut resp, "access-control-max-age", "600");
            resp
        }
    }
}

/// Adds the CORS response headers of a policy to an actual (non-preflight) response.
pub fn apply(policy: Policy, headers: &HeaderMap, resp: &mut Response<Body>) {
    match policy {
        Policy::Off => {}
        Policy::Public { .. } => {
            h::set(resp, "access-control-allow-origin", "*");
        }
        Policy::Mcp {
            expose_www_authenticate,
        } => {
            resp.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
            let Some(origin) = origin(headers) else {
                return;
            };
            h::set(resp, "access-control-allow-origin", origin);
            let expose = if expose_www_authenticate {
                EXPOSE_MCP
            } else {
                "Mcp-Session-Id, MCP-Protocol-Version"
            };
            h::set(resp, "access-control-expose-headers", expose);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        assert!(is_loopback_origin("http://localhost:6274"));
        assert!(is_loopback_origin("http://127.0.0.1:3000"));
        assert!(is_loopback_origin("http://[::1]:3000"));
        assert!(!is_loopback_origin("https://evil.example"));
        assert!(!is_loopback_origin("null"));
    }

    #[test]
    fn mcp_preflight_allows_auth_and_session_headers() {
        let mut req = HeaderMap::new();
        req.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:6274"),
        );
        let resp = preflight(
            Policy::Mcp {
                expose_www_authenticate: true,
            },
            &req,
        );
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let allow = resp.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        for h in [
            "authorization",
            "mcp-session-id",
            "mcp-protocol-version",
            "last-event-id",
        ] {
            assert!(allow.contains(h));
        }
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "http://localhost:6274"
        );
        assert!(
            preflight(Policy::Off, &req)
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
}
