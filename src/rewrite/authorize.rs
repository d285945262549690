//! The authorization response (R8): recognising the AS's redirect to the client's
//! `redirect_uri` and rewriting only its RFC 9207 `iss` parameter.
//!
//! The rest of that `Location` (code, state, the redirect URI itself, parameter order and
//! percent-encoding) reaches the client byte for byte; only the value of `iss` is replaced.

use super::{Rewriter, urls};

/// The first value of `name` in a URL's query, form-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether `location` is a redirect to `redirect_uri`: it starts with it, and the next byte (if
/// any) begins the query or fragment.
pub fn is_redirect_to(location: &str, redirect_uri: &str) -> bool {
    if redirect_uri.is_empty() {
        return false;
    }
    match location.strip_prefix(redirect_uri) {
        Some(rest) => {
            rest.is_empty()
                || rest.starts_with(['?', '#'])
                || (redirect_uri.contains('?') && rest.starts_with('&'))
        }
        None => false,
    }
}

impl Rewriter {
    /// R8: in an authorization response `Location`, maps the `iss` value (query or fragment)
    /// from the upstream issuer to the proxy issuer, exactly as the ASM `issuer` was mapped
    /// (R5). Returns the new `Location`, or `None` when there is no `iss` to change.
    pub fn authorization_response_iss(&self, location: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let start = location.find(['?', '#'])?;
        let (head, params) = location.split_at(start);
        let mut out = String::with_capacity(location.len() + 64);
        out.push_str(head);
        let mut changed = false;
        // Walk the parameter list keeping every separator (`?`, `&`, `#`) where it was.
        let mut rest = params;
        while let Some(sep) = rest.chars().next() {
            out.push(sep);
            rest = rest.get(sep.len_utf8()..)?;
            let end = rest.find(['&', '#']).unwrap_or(rest.len());
            let (pair, tail) = rest.split_at(end);
            match pair.strip_prefix("iss=").and_then(|raw| self.map_iss(raw)) {
                Some(new) => {
                    out.push_str("iss=");
                    out.push_str(&new);
                    changed = true;
                }
                None => out.push_str(pair),
            }
            rest = tail;
        }
        changed.then_some(out)
    }

    /// The new raw (still encoded) `iss` value, keeping the upstream's choice of encoding.
    fn map_iss(&self, raw: &str) -> Option<String> {
        let decoded = urls::form_decode(raw);
        let mapped = self.any_to_proxy(&decoded)?;
        if mapped == decoded {
            return None;
        }
        if raw == decoded && !mapped.contains(['&', '#', '+', '%', ' ']) {
            Some(mapped)
        } else {
            Some(urls::form_encode(&mapped))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(upstream: &str) -> Rewriter {
        Rewriter::new(
            &url::Url::parse(upstream).unwrap(),
            &url::Url::parse("https://localhost:8443").unwrap(),
            true,
        )
    }

    #[test]
    fn rewrites_only_iss_keeping_encoding_and_order() {
        let r = rw("http://127.0.0.1:9000/mcp");
        let loc = "http://127.0.0.1:5555/cb?code=a%2Fb&state=s+1&iss=http%3A%2F%2F127.0.0.1%3A9000";
        assert_eq!(
            r.authorization_response_iss(loc).unwrap(),
            "http://127.0.0.1:5555/cb?code=a%2Fb&state=s+1&iss=https%3A%2F%2Flocalhost%3A8443"
        );
        // Unencoded iss stays unencoded; a foreign issuer maps like the ASM issuer (R5).
        let loc = "http://127.0.0.1:5555/cb?iss=https://as.example/t&code=x";
        let new = r.authorization_response_iss(loc).unwrap();
        assert_eq!(
            new,
            "http://127.0.0.1:5555/cb?iss=https://localhost:8443/__authtap/o/https/as.example/-/t&code=x"
        );
        assert_eq!(
            query_param(&new, "iss").unwrap(),
            r.any_to_proxy("https://as.example/t").unwrap()
        );
    }

    #[test]
    fn rewrites_iss_in_the_fragment_and_ignores_lookalikes() {
        let r = rw("https://real.example/mcp");
        let loc =
            "https://app/cb#code=x&iss=https%3A%2F%2Freal.example&xiss=https%3A%2F%2Freal.example";
        assert_eq!(
            r.authorization_response_iss(loc).unwrap(),
            "https://app/cb#code=x&iss=https%3A%2F%2Flocalhost%3A8443&xiss=https%3A%2F%2Freal.example"
        );
        assert_eq!(r.authorization_response_iss("https://app/cb?code=x"), None);
        assert_eq!(r.authorization_response_iss("https://app/cb"), None);
        assert_eq!(
            r.authorization_response_iss("https://app/cb?iss=urn%3Ax"),
            None
        );
    }

    #[test]
    fn disabled_rewriter_leaves_iss_alone() {
        let r = Rewriter::new(
            &url::Url::parse("https://real.example/mcp").unwrap(),
            &url::Url::parse("https://localhost:8443").unwrap(),
            false,
        );
        assert_eq!(
            r.authorization_response_iss("https://app/cb?iss=https://real.example"),
            None
        );
    }

    #[test]
    fn recognises_redirects_to_the_redirect_uri() {
        assert!(is_redirect_to(
            "http://127.0.0.1:5/cb?code=1",
            "http://127.0.0.1:5/cb"
        ));
        assert!(is_redirect_to(
            "http://127.0.0.1:5/cb",
            "http://127.0.0.1:5/cb"
        ));
        assert!(is_redirect_to(
            "https://app/cb?x=1&code=1",
            "https://app/cb?x=1"
        ));
        assert!(!is_redirect_to(
            "http://127.0.0.1:5/cbx?code=1",
            "http://127.0.0.1:5/cb"
        ));
        assert!(!is_redirect_to("https://as/login", ""));
        assert_eq!(
            query_param(
                "https://as/a?redirect_uri=http%3A%2F%2Fh%2Fcb&x=1",
                "redirect_uri"
            )
            .unwrap(),
            "http://h/cb"
        );
    }
}
