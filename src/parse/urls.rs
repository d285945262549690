//! URL facts the rules need, computed on the exact strings that were sent: byte comparison
//! with a label for *how* two URLs differ, well-known URL construction (RFC 9728 §3.1,
//! RFC 8414 §3.1), host classification (loopback, private) and the PKCE S256 transform.

use base64::Engine as _;
use sha2::Digest as _;

/// How two URLs that are not byte-identical differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlDiff {
    /// Byte-identical.
    Same,
    /// Only a trailing `/` differs.
    TrailingSlash,
    /// Only case or a default port differs (equal after URL normalisation).
    Normalization,
    /// Same origin, different path (or query).
    Path,
    /// Different scheme, host or port.
    Origin,
}

impl UrlDiff {
    /// A short label for messages.
    pub fn label(self) -> &'static str {
        match self {
            UrlDiff::Same => "identical",
            UrlDiff::TrailingSlash => "differs only by a trailing slash",
            UrlDiff::Normalization => "differs only by case or default port",
            UrlDiff::Path => "different path",
            UrlDiff::Origin => "different origin",
        }
    }
}

/// Compares two URL strings byte for byte and labels the difference.
pub fn compare(a: &str, b: &str) -> UrlDiff {
    if a == b {
        return UrlDiff::Same;
    }
    if a.trim_end_matches('/') == b.trim_end_matches('/') {
        return UrlDiff::TrailingSlash;
    }
    let (Ok(ua), Ok(ub)) = (url::Url::parse(a), url::Url::parse(b)) else {
        return UrlDiff::Origin;
    };
    if ua == ub || a.eq_ignore_ascii_case(b) {
        return UrlDiff::Normalization;
    }
    if ua.origin() != ub.origin() {
        return UrlDiff::Origin;
    }
    let (pa, pb) = (
        ua.path().trim_end_matches('/'),
        ub.path().trim_end_matches('/'),
    );
    if pa == pb && ua.query() == ub.query() {
        // e.g. `https://h` vs `https://h/` after normalisation, or percent-encoding
        return UrlDiff::Normalization;
    }
    if pa.eq_ignore_ascii_case(pb) && ua.query() == ub.query() {
        return UrlDiff::Normalization;
    }
    UrlDiff::Path
}

/// Whether two MCP URLs name the same endpoint for flow keying: identical, or trailing-slash
/// twins (a `/mcp` → `/mcp/` redirect keeps the flow; the redirect itself is a finding).
pub fn same_mcp_url(a: &str, b: &str) -> bool {
    a == b || a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `scheme://host[:port]` of a URL, normalised (lower-case, default port dropped).
pub fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{}://{}:{}", u.scheme(), host, p),
        None => format!("{}://{}", u.scheme(), host),
    })
}

/// The URL without query and fragment, as written.
pub fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// The path of a URL as written (after the authority, before `?`/`#`); `""` for a bare origin.
pub fn raw_path(url: &str) -> &str {
    let base = without_query(url);
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let rest = base.get(after_scheme..).unwrap_or("");
    match rest.find('/') {
        Some(i) => rest.get(i..).unwrap_or(""),
        None => "",
    }
}

/// The host of a URL (lower-case, IPv6 in brackets), if it parses.
pub fn host(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(str::to_ascii_lowercase)
}

/// Whether a host is loopback (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") || h == "::1" {
        return true;
    }
    match url::Host::parse(&h) {
        Ok(url::Host::Ipv4(a)) => a.octets()[0] == 127,
        _ => false,
    }
}

/// Whether a URL parses and its host is loopback.
pub fn is_loopback_url(url: &str) -> bool {
    host(url).is_some_and(|h| is_loopback_host(&h))
}

/// Whether two redirect URIs match exactly, or are both loopback and differ only in the port
/// (RFC 8252 §7.3).
pub fn same_ignoring_loopback_port(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if !(is_loopback_url(a) && is_loopback_url(b)) {
        return false;
    }
    let strip = |u: &str| {
        url::Url::parse(u).ok().map(|mut x| {
            let _ = x.set_port(None);
            x.to_string()
        })
    };
    strip(a) == strip(b)
}

/// Why a host is not publicly reachable, if it is not: loopback, RFC 1918, CGNAT, link-local,
/// an internal name (`*.internal`, `*.svc`, `*.local`, a bare hostname).
pub fn private_host_kind(host: &str) -> Option<&'static str> {
    if is_loopback_host(host) {
        return Some("loopback");
    }
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    match url::Host::parse(&h) {
        Ok(url::Host::Ipv4(a)) => {
            let o = a.octets();
            match (o[0], o[1]) {
                (10, _) | (192, 168) => Some("RFC 1918 private"),
                (172, b) if (16..32).contains(&b) => Some("RFC 1918 private"),
                (100, b) if (64..128).contains(&b) => Some("CGNAT 100.64/10"),
                (169, 254) => Some("link-local"),
                _ => None,
            }
        }
        Ok(url::Host::Ipv6(a)) => {
            let s = a.segments();
            if s[0] & 0xfe00 == 0xfc00 {
                Some("IPv6 unique-local")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("IPv6 link-local")
            } else {
                None
            }
        }
        _ => {
            if h.ends_with(".internal")
                || h.ends_with(".svc")
                || h.ends_with(".local")
                || h.ends_with(".cluster.local")
            {
                Some("internal name")
            } else if !h.contains('.') {
                Some("bare hostname")
            } else {
                None
            }
        }
    }
}

/// Whether a URL is `http:` to a non-loopback host.
pub fn is_insecure_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        && host(url).is_some_and(|h| !is_loopback_host(&h))
}

/// The explicit port of a URL other than 443 (for https) or 80 (for http), if any.
pub fn non_default_port(url: &str) -> Option<u16> {
    url::Url::parse(url).ok()?.port()
}

/// RFC 9728 §3.1 well-known PRM URLs for a resource: (path-inserted, root). The first is
/// `None` when the resource has no path.
pub fn prm_well_known(resource: &str) -> Option<(Option<String>, String)> {
    let o = origin(resource)?;
    let path = raw_path(resource).trim_end_matches('/');
    let root = format!("{o}/.well-known/oauth-protected-resource");
    let inserted = (!path.is_empty()).then(|| format!("{root}{path}"));
    Some((inserted, root))
}

/// The resource identifier a well-known PRM URL was built from (inverse of
/// [`prm_well_known`]): `https://h/.well-known/oauth-protected-resource/v1/mcp` → `https://h/v1/mcp`.
pub fn resource_from_prm_url(url: &str) -> Option<String> {
    let o = origin(url)?;
    let rest = raw_path(url).strip_prefix("/.well-known/oauth-protected-resource")?;
    Some(format!("{o}{rest}"))
}

/// RFC 8414 §3.1 / OIDC candidate metadata URLs for an issuer, in MCP [11-25] order.
pub fn asm_candidates(issuer: &str) -> Vec<String> {
    let Some(o) = origin(issuer) else {
        return Vec::new();
    };
    let path = raw_path(issuer).trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{o}/.well-known/oauth-authorization-server"),
            format!("{o}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{o}/.well-known/oauth-authorization-server{path}"),
            format!("{o}/.well-known/openid-configuration{path}"),
            format!("{o}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// The issuer a client derived to build this ASM URL (inverse of [`asm_candidates`]).
pub fn issuer_from_asm_url(url: &str) -> Option<String> {
    let o = origin(url)?;
    let path = raw_path(url);
    for wk in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        if let Some(rest) = path.strip_prefix(wk) {
            return Some(format!("{o}{rest}"));
        }
    }
    let prefix = path.strip_suffix("/.well-known/openid-configuration")?;
    Some(format!("{o}{prefix}"))
}

/// `BASE64URL(SHA256(verifier))`, the PKCE S256 challenge (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The short hash a secret is correlated by (8 hex digits of its SHA-256), equal for the raw
/// value and its redacted export form, so raw and exported traces name the same token.
pub fn secret_hash(secret: &str) -> String {
    crate::redact::correlation_hash(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_url_differences() {
        assert_eq!(compare("https://h/mcp", "https://h/mcp"), UrlDiff::Same);
        assert_eq!(
            compare("https://h/mcp/", "https://h/mcp"),
            UrlDiff::TrailingSlash
        );
        assert_eq!(compare("https://h", "https://h/"), UrlDiff::TrailingSlash);
        assert_eq!(
            compare("https://H/mcp", "https://h/mcp"),
            UrlDiff::Normalization
        );
        assert_eq!(
            compare("https://h:443/mcp", "https://h/mcp"),
            UrlDiff::Normalization
        );
        assert_eq!(compare("https://h/a", "https://h/b"), UrlDiff::Path);
        assert_eq!(compare("https://h/a", "https://www.h/a"), UrlDiff::Origin);
    }

    #[test]
    fn loopback_redirects_match_across_ports_only() {
        assert!(same_ignoring_loopback_port("https://a/cb", "https://a/cb"));
        assert!(same_ignoring_loopback_port(
            "http://127.0.0.1:3000/cb",
            "http://127.0.0.1:51234/cb"
        ));
        assert!(!same_ignoring_loopback_port(
            "http://127.0.0.1:3000/cb",
            "http://127.0.0.1:3000/other"
        ));
        assert!(!same_ignoring_loopback_port(
            "https://a:8443/cb",
            "https://a:9443/cb"
        ));
    }

    #[test]
    fn round_trips_well_known_urls() {
        let (ins, root) = prm_well_known("https://api.example.com/v1/mcp").unwrap();
        assert_eq!(
            ins.as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource/v1/mcp")
        );
        assert_eq!(
            root,
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            resource_from_prm_url(ins.as_deref().unwrap()).as_deref(),
            Some("https://api.example.com/v1/mcp")
        );
        let c = asm_candidates("https://auth.example.com/tenant1");
        assert_eq!(c.len(), 3);
        for u in &c {
            assert_eq!(
                issuer_from_asm_url(u).as_deref(),
                Some("https://auth.example.com/tenant1")
            );
        }
        assert_eq!(
            asm_candidates("https://a.example/")[0],
            "https://a.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            issuer_from_asm_url("https://a.example/.well-known/oauth-authorization-server")
                .as_deref(),
            Some("https://a.example")
        );
    }

    #[test]
    fn classifies_hosts() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_url("http://localhost:8080/cb"));
        assert!(!is_loopback_url("https://example.com/cb"));
        assert!(!is_loopback_url("not a url"));
        assert_eq!(private_host_kind("10.1.2.3"), Some("RFC 1918 private"));
        assert_eq!(private_host_kind("100.64.1.1"), Some("CGNAT 100.64/10"));
        assert_eq!(private_host_kind("auth.svc"), Some("internal name"));
        assert_eq!(private_host_kind("api.example.com"), None);
        assert!(is_insecure_http("http://api.example.com/x"));
        assert!(!is_insecure_http("http://127.0.0.1:8080/x"));
        assert!(!is_insecure_http("https://api.example.com"));
        assert_eq!(raw_path("https://h"), "");
        assert_eq!(raw_path("https://h/a/b?x#y"), "/a/b");
    }

    #[test]
    fn matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(secret_hash("x").len(), 8);
        assert_eq!(secret_hash("x"), secret_hash(&crate::redact::marker("x")));
    }
}
