//! Header plumbing: hop-by-hop stripping (RFC 9110 §7.6.1) and conversion to record lines.

use http::header::{self, HeaderMap, HeaderName};

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1, RFC 9112 §6.1,
/// RFC 7235 for the proxy authentication pair).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// Removes hop-by-hop headers and every header named in `Connection`. `TE: trailers` is kept
/// (it is the one TE value HTTP/2 allows and gRPC-style peers need).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let keep_te_trailers = headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    });
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if keep_te_trailers {
        headers.insert(header::TE, http::HeaderValue::from_static("trailers"));
    }
}

/// `HTTP/1.1`, `HTTP/2.0`, …
pub fn version_label(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret-hop".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert("proxy-authorization", "Basic x".parse().unwrap());
        h.insert("proxy-connection", "keep-alive".parse().unwrap());
        h.insert("te", "gzip".parse().unwrap());
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        strip_hop_by_hop(&mut h);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["authorization", "content-type"]);
    }

    #[test]
    fn keeps_te_trailers_only() {
        let mut h = HeaderMap::new();
        h.insert("te", "trailers, deflate".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.get("te").unwrap(), "trailers");
    }
}
