//! Byte-exact URL surgery for the rewriter: origins, foreign-origin paths, well-known paths,
//! header parameters and form values. Nothing here parses and re-serialises a URL.

/// Splits an absolute `http(s)` URL into its origin (`scheme://authority`) and the rest
/// (path, query, fragment). URLs with user info are not split (never rewritten).
pub fn split_origin(s: &str) -> Option<(&str, &str)> {
    let scheme_len = if s.starts_with("https://") {
        8
    } else if s.starts_with("http://") {
        7
    } else {
        return None;
    };
    let after = s.get(scheme_len..)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = after.get(..end)?;
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    let split = scheme_len + end;
    Some((s.get(..split)?, s.get(split..)?))
}

/// Marks an origin without an explicit port in its path form.
const NO_PORT: &str = "-";
/// Prefix of an IPv6 literal host in its path form (`[::1]` → `v6_--1`).
const IPV6_HOST: &str = "v6_";

/// `https://as.example:8443` → `https/as.example/8443`, `https://as.example` →
/// `https/as.example/-`, `http://[::1]:9` → `http/v6_--1/9`: the path form of a foreign
/// origin. Its segments hold only unreserved characters, so URL normalizers (which
/// percent-encode `:` in path segments, e.g. mcp-remote's) leave it alone, and the port is
/// spelled exactly as the origin spelled it, so the mapping is reversible byte for byte.
/// `None` for an origin that cannot be written so (user info, a host with other bytes).
pub fn encode_foreign(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("{IPV6_HOST}{}", inside.replace(':', "-")), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && !host.starts_with(IPV6_HOST)
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
        if !host_ok {
            return None;
        }
        (host.to_string(), port)
    };
    let port = match port {
        None => NO_PORT,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p,
        Some(_) => return None,
    };
    Some(format!("{scheme}/{host}/{port}"))
}

/// `https/as.example/8443/tenant?x` → `https://as.example:8443/tenant?x` (the inverse of
/// [`encode_foreign`] followed by the rest of the URL).
pub fn decode_foreign(rest: &str) -> Option<String> {
    let (scheme, after) = rest.split_once('/')?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let (host, after) = after.split_once('/')?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (port, tail) = after.split_at(end);
    let host = match host.strip_prefix(IPV6_HOST) {
        Some(v6) => format!("[{}]", v6.replace('-', ":")),
        None => host.to_string(),
    };
    let authority = match port {
        NO_PORT => host,
        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => format!("{host}:{p}"),
        _ => return None,
    };
    let origin = format!("{scheme}://{authority}");
    // Only what `encode_foreign` could have produced maps back.
    let head = rest.get(..rest.len() - tail.len())?;
    if encode_foreign(&origin)? != head {
        return None;
    }
    Some(format!("{origin}{tail}"))
}

/// `/.well-known/<name><rest>` → `(name, rest)`.
pub fn split_well_known(target: &str) -> Option<(&str, &str)> {
    let after = target.strip_prefix("/.well-known/")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let name = after.get(..end)?;
    if name.is_empty() {
        return None;
    }
    Some((name, after.get(end..)?))
}

/// Byte range of the value of `name=` in an auth-param list (`Bearer a="x", name="value"`),
/// inside the quotes when quoted.
pub fn find_param_value(header: &str, name: &str) -> Option<(usize, usize)> {
    let lower = header.to_ascii_lowercase();
    let needle = format!("{}=", name.to_ascii_lowercase());
    let mut from = 0;
    while let Some(pos) = lower.get(from..)?.find(&needle) {
        let at = from + pos;
        let boundary = at == 0 || lower[..at].ends_with([' ', ',', '\t']);
        let value_start = at + needle.len();
        if boundary {
            let rest = header.get(value_start..)?;
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"')?;
                return Some((value_start + 1, value_start + 1 + end));
            }
            let end = rest.find([',', ' ', '\t']).unwrap_or(rest.len());
            return Some((value_start, value_start + end));
        }
        from = value_start;
    }
    None
}

/// Decodes one `application/x-www-form-urlencoded` value.
pub fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(value.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Encodes one `application/x-www-form-urlencoded` value.
pub fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origins_exactly() {
        assert_eq!(
            split_origin("https://h.example"),
            Some(("https://h.example", ""))
        );
        assert_eq!(
            split_origin("https://h:8443/a?b"),
            Some(("https://h:8443", "/a?b"))
        );
        assert_eq!(split_origin("http://h?x"), Some(("http://h", "?x")));
        assert_eq!(split_origin("https://u@h/"), None);
        assert_eq!(split_origin("urn:x"), None);
    }

    #[test]
    fn round_trips_foreign_origins_without_colons() {
        for (origin, form) in [
            ("https://as.example:8443", "https/as.example/8443"),
            ("https://as.example", "https/as.example/-"),
            ("https://as.example:443", "https/as.example/443"),
            ("http://127.0.0.1:39101", "http/127.0.0.1/39101"),
            ("http://[::1]:9", "http/v6_--1/9"),
            ("http://[2001:db8::1]", "http/v6_2001-db8--1/-"),
        ] {
            let enc = encode_foreign(origin).unwrap();
            assert_eq!(enc, form);
            assert!(!enc.contains([':', '%', '[', ']']), "{enc}");
            assert_eq!(decode_foreign(&enc).unwrap(), origin);
            assert_eq!(
                decode_foreign(&format!("{enc}/t?x=1")).unwrap(),
                format!("{origin}/t?x=1")
            );
        }
        assert_eq!(
            decode_foreign("https/as.example/-?x").unwrap(),
            "https://as.example?x"
        );
        assert_eq!(decode_foreign("ftp/as.example/-"), None);
        assert_eq!(decode_foreign("https/as.example"), None);
        assert_eq!(decode_foreign("https/as.example/80x/t"), None);
        // The colon form a URL normalizer percent-encodes is not an authtap path.
        assert_eq!(decode_foreign("http/127.0.0.1%3A39101/authorize"), None);
        assert_eq!(encode_foreign("https://u@as.example"), None);
        assert_eq!(encode_foreign("https://as.example:"), None);
    }

    #[test]
    fn finds_quoted_and_bare_params() {
        let h = r#"Bearer error="invalid_token", resource_metadata="https://u/.well-known/oauth-protected-resource""#;
        let (s, e) = find_param_value(h, "resource_metadata").unwrap();
        assert_eq!(&h[s..e], "https://u/.well-known/oauth-protected-resource");
        let h = "Bearer resource_metadata=https://u/x, scope=a";
        let (s, e) = find_param_value(h, "resource_metadata").unwrap();
        assert_eq!(&h[s..e], "https://u/x");
        assert!(
            find_param_value("Bearer x_resource_metadata=\"a\"", "resource_metadata").is_none()
        );
    }

    #[test]
    fn splits_well_known() {
        assert_eq!(
            split_well_known("/.well-known/oauth-protected-resource/mcp"),
            Some(("oauth-protected-resource", "/mcp"))
        );
        assert_eq!(
            split_well_known("/.well-known/openid-configuration"),
            Some(("openid-configuration", ""))
        );
        assert_eq!(split_well_known("/mcp"), None);
    }
}
