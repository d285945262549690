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

/// `https://as.example:8443` → `https/as.example:8443` (the path form of a foreign origin).
pub fn encode_foreign(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    Some(format!("{scheme}/{authority}"))
}

/// `https/as.example:8443/tenant?x` → `https://as.example:8443/tenant?x`.
pub fn decode_foreign(rest: &str) -> Option<String> {
    let (scheme, after) = rest.split_once('/')?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = after.get(..end)?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{after}"))
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
    fn round_trips_foreign_origins() {
        let enc = encode_foreign("https://as.example:8443").unwrap();
        assert_eq!(enc, "https/as.example:8443");
        assert_eq!(
            decode_foreign(&format!("{enc}/t?x=1")).unwrap(),
            "https://as.example:8443/t?x=1"
        );
        assert_eq!(
            decode_foreign("https/as.example").unwrap(),
            "https://as.example"
        );
        assert_eq!(decode_foreign("ftp/as.example"), None);
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
