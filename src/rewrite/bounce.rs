//! The callback bounce: the authorization response comes back through authtap.
//!
//! A real authorization server shows its own login and consent pages (never proxied), then
//! redirects the browser to the client's `redirect_uri` with `code`, `state` and RFC 9207
//! `iss`. That `iss` is the upstream issuer, while the client was told the rewritten one, so
//! an `iss`-checking client would stop. With the bounce, the AS redirects to authtap instead:
//!
//! 1. registration (RFC 7591 request, JSON): for each client redirect URI `r` authtap adds its
//!    bounce URI `B(r)` ([`Rewriter::request_registration`]); the registration response the
//!    client sees has the `B(r)` entries removed again ([`Rewriter::strip_bounce_uris`]);
//! 2. authorize: `redirect_uri=r` becomes `B(r)`, but only for a client whose registration
//!    the AS accepted with `B(r)` (the rewriter learned it);
//! 3. the AS redirects the browser to `B(r)?code…&state…&iss…`: authtap records that request
//!    as the authorization response and sends the browser on to `r` with the same parameters,
//!    only `iss` mapped to the issuer the client knows ([`Rewriter::bounce_back`]);
//! 4. token: `redirect_uri=r` becomes `B(r)` for codes that came back through the bounce.
//!
//! `B(r)` is stateless and exactly reversible: `<base>/__authtap/cb/<base64url(r)>`, only
//! unreserved characters after the base, so URL normalizers leave it alone. For a loopback
//! `r` (a native client, RFC 8252 §7.3) the base is a plain-HTTP loopback listener of authtap
//! (`http://127.0.0.1:P`), since authorization servers refuse https-on-localhost redirect URIs
//! for native clients; otherwise it is the proxy base.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::{Rewriter, urls};
use crate::model::{Rewrite, RewriteDirection};

/// Path prefix of callback bounce URIs.
pub const BOUNCE_PREFIX: &str = "/__authtap/cb/";

/// An authorization response on its way back to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceBack {
    /// The client's own redirect URI.
    pub redirect_uri: String,
    /// `redirect_uri` with the parameters exactly as the AS sent them (what the rules judge).
    pub upstream_location: String,
    /// What the browser is sent to: the same, with `iss` mapped to the proxy issuer (R8).
    pub location: String,
}

/// Whether `uri` is an `http(s)` URL on a loopback host; the host as written.
fn loopback_host(uri: &str) -> Option<&str> {
    let (origin, _) = urls::split_origin(uri)?;
    let authority = origin.split_once("://")?.1;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    let host_lc = host.to_ascii_lowercase();
    (host_lc == "localhost" || host_lc == "127.0.0.1" || host_lc == "::1").then_some(host)
}

impl Rewriter {
    /// `B(r)`: authtap's bounce URI for the client redirect URI `r`, or `None` when `r` is
    /// not an absolute URL with a scheme (nothing to bounce) or rewriting is off.
    pub fn bounce_uri(&self, redirect_uri: &str) -> Option<String> {
        if !self.enabled || !redirect_uri.contains(':') || redirect_uri.contains('#') {
            return None;
        }
        let encoded = URL_SAFE_NO_PAD.encode(redirect_uri.as_bytes());
        let base = match (loopback_host(redirect_uri), self.loopback_bounce_port) {
            (Some(host), Some(port)) => {
                let host = if host.eq_ignore_ascii_case("localhost") {
                    "localhost"
                } else {
                    "127.0.0.1"
                };
                format!("http://{host}:{port}")
            }
            _ => self.proxy_base(),
        };
        Some(format!("{base}{BOUNCE_PREFIX}{encoded}"))
    }

    /// The client redirect URI a bounce URI stands for, and what follows `B(r)` in `s`
    /// (`""`, `?…` or `#…`). `None` when `s` is not one of authtap's bounce URIs.
    pub fn decode_bounce_uri<'a>(&self, s: &'a str) -> Option<(String, &'a str)> {
        let at = s.find(BOUNCE_PREFIX)?;
        let segment_start = at + BOUNCE_PREFIX.len();
        let after = s.get(segment_start..)?;
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let bytes = URL_SAFE_NO_PAD.decode(after.get(..end)?).ok()?;
        let redirect_uri = String::from_utf8(bytes).ok()?;
        let rest = after.get(end..)?;
        if rest.starts_with('/') {
            return None;
        }
        // Only a URI authtap itself would have made for this redirect URI counts.
        let made = self.bounce_uri(&redirect_uri)?;
        (s.get(..segment_start + end)? == made).then_some((redirect_uri, rest))
    }

    /// A request target under [`BOUNCE_PREFIX`] (`/__authtap/cb/<r>?…`, prefix already
    /// stripped to `<r>?…`): the client redirect URI and the parameters after it.
    pub(super) fn decode_bounce_target(rest: &str) -> Option<(String, &str)> {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let bytes = URL_SAFE_NO_PAD.decode(rest.get(..end)?).ok()?;
        let redirect_uri = String::from_utf8(bytes).ok()?;
        let params = rest.get(end..)?;
        (!params.starts_with('/')).then_some((redirect_uri, params))
    }

    /// Step 3 (module doc): the authorization response the AS sent to `B(r)`, as the browser
    /// must receive it at `r`. `params` is what followed `B(r)` (`?code=…`, `#…` or empty).
    /// The code is remembered so the token request's `redirect_uri` is mapped too.
    pub fn bounce_back(&self, redirect_uri: &str, params: &str) -> BounceBack {
        let params = match params.strip_prefix('?') {
            Some(query) if redirect_uri.contains('?') => format!("&{query}"),
            _ => params.to_string(),
        };
        let upstream_location = format!("{redirect_uri}{params}");
        if let Some(code) = super::query_param(&upstream_location, "code") {
            self.learned.bounced_code(&code);
        }
        let location = self
            .authorization_response_iss(&upstream_location)
            .unwrap_or_else(|| upstream_location.clone());
        BounceBack {
            redirect_uri: redirect_uri.to_string(),
            upstream_location,
            location,
        }
    }

    /// Step 1: a registration request (JSON) with `B(r)` added after the client's redirect
    /// URIs. `None` when there is nothing to add or the body is not a JSON object.
    pub fn request_registration(&self, body: &[u8]) -> Option<(Vec<u8>, Vec<Rewrite>)> {
        if !self.enabled {
            return None;
        }
        let doc: Value = serde_json::from_slice(body).ok()?;
        let uris: Vec<&str> = doc
            .get("redirect_uris")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let additions: Vec<String> = uris
            .iter()
            .filter(|r| self.decode_bounce_uri(r).is_none())
            .filter_map(|r| self.bounce_uri(r))
            .filter(|b| !uris.contains(&b.as_str()))
            .collect();
        if additions.is_empty() {
            return None;
        }
        let mut new_list: Vec<Value> = doc.get("redirect_uris")?.as_array()?.clone();
        new_list.extend(additions.into_iter().map(Value::String));
        let new_list = Value::Array(new_list);
        let (new_body, from) = replace_array(body, &doc, "redirect_uris", &new_list)?;
        let rewrite = Rewrite {
            direction: RewriteDirection::Request,
            location: "body:$.redirect_uris".into(),
            from,
            to: new_list.to_string(),
        };
        Some((new_body, vec![rewrite]))
    }

    /// Step 1, on the way back: removes `B(r)` entries from a registration response's
    /// `redirect_uris` and learns that the AS registered the client with them.
    pub fn strip_bounce_uris(&self, body: &[u8]) -> Option<(Vec<u8>, Vec<Rewrite>)> {
        if !self.enabled {
            return None;
        }
        let doc: Value = serde_json::from_slice(body).ok()?;
        let list = doc.get("redirect_uris")?.as_array()?;
        let client_id = doc.get("client_id").and_then(Value::as_str);
        let mut kept = Vec::with_capacity(list.len());
        let mut removed = false;
        for v in list {
            match v.as_str().and_then(|s| self.decode_bounce_uri(s)) {
                Some((redirect_uri, "")) => {
                    removed = true;
                    if let Some(client_id) = client_id {
                        self.learned.bounced_client(client_id, &redirect_uri);
                    }
                }
                _ => kept.push(v.clone()),
            }
        }
        if !removed {
            if let Some(client_id) = client_id {
                self.learned.registered_without_bounce(client_id);
            }
            return None;
        }
        let kept = Value::Array(kept);
        let (new_body, from) = replace_array(body, &doc, "redirect_uris", &kept)?;
        let rewrite = Rewrite {
            direction: RewriteDirection::Response,
            location: "body:$.redirect_uris".into(),
            from,
            to: kept.to_string(),
        };
        Some((new_body, vec![rewrite]))
    }
}

/// Replaces the value of the top-level array `key` in a JSON object text, keeping every other
/// byte; falls back to re-serialising the document when the array cannot be located exactly.
/// Returns the new text and the old array as compact JSON.
fn replace_array(body: &[u8], doc: &Value, key: &str, new: &Value) -> Option<(Vec<u8>, String)> {
    let old = doc.get(key)?.to_string();
    let new_text = new.to_string();
    let text = std::str::from_utf8(body).ok();
    let spliced = text.and_then(|text| {
        let (start, end) = array_span(text, key)?;
        let out = format!("{}{new_text}{}", text.get(..start)?, text.get(end..)?);
        let check: Value = serde_json::from_str(&out).ok()?;
        (check.get(key) == Some(new)).then_some(out.into_bytes())
    });
    let out = match spliced {
        Some(out) => out,
        None => {
            let mut doc = doc.clone();
            *doc.as_object_mut()?.get_mut(key)? = new.clone();
            serde_json::to_vec(&doc).ok()?
        }
    };
    Some((out, old))
}

/// Byte span `[start, end)` of the array value of the first `"key"` member in `text`,
/// skipping over JSON strings (redirect URIs may contain `]`).
fn array_span(text: &str, key: &str) -> Option<(usize, usize)> {
    let needle = serde_json::to_string(key).ok()?;
    let key_at = text.find(&needle)?;
    let after_key = key_at + needle.len();
    let colon = after_key + text.get(after_key..)?.find(':')?;
    let open = colon + 1 + text.get(colon + 1..)?.find(|c: char| !c.is_whitespace())?;
    if text.as_bytes().get(open) != Some(&b'[') {
        return None;
    }
    let (mut in_string, mut escaped, mut depth) = (false, false, 0usize);
    for (i, b) in text.bytes().enumerate().skip(open) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some((open, i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw() -> Rewriter {
        Rewriter::new(
            &url::Url::parse("https://real.example/mcp").unwrap(),
            &url::Url::parse("https://localhost:8443").unwrap(),
            true,
        )
        .with_loopback_bounce_port(Some(40000))
    }

    #[test]
    fn bounce_uris_are_exactly_reversible_and_normalizer_safe() {
        let r = rw();
        for (uri, base) in [
            (
                "https://claude.ai/api/mcp/auth_callback",
                "https://localhost:8443",
            ),
            ("http://127.0.0.1:5555/callback", "http://127.0.0.1:40000"),
            (
                "http://localhost:3030/callback?x=1",
                "http://localhost:40000",
            ),
            ("http://[::1]:9/cb", "http://127.0.0.1:40000"),
            ("com.example.app:/oauth2redirect", "https://localhost:8443"),
        ] {
            let b = r.bounce_uri(uri).unwrap();
            assert!(b.starts_with(&format!("{base}{BOUNCE_PREFIX}")), "{b}");
            let segment = b.rsplit('/').next().unwrap();
            assert!(
                segment
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                "{segment}"
            );
            assert_eq!(r.decode_bounce_uri(&b), Some((uri.to_string(), "")));
            let with = format!("{b}?code=x&state=y");
            assert_eq!(
                r.decode_bounce_uri(&with),
                Some((uri.to_string(), "?code=x&state=y"))
            );
        }
        // Someone else's URL under the same path is not a bounce URI.
        let foreign = r
            .bounce_uri("https://claude.ai/api/mcp/auth_callback")
            .unwrap()
            .replace("https://localhost:8443", "https://evil.example");
        assert_eq!(r.decode_bounce_uri(&foreign), None);
        assert_eq!(r.bounce_uri("no-scheme"), None);
    }

    #[test]
    fn bounces_back_with_only_iss_mapped_and_learns_the_code() {
        let r = rw();
        let back = r.bounce_back(
            "https://claude.ai/api/mcp/auth_callback",
            "?code=c%2F1&state=s&iss=https%3A%2F%2Freal.example",
        );
        assert_eq!(
            back.upstream_location,
            "https://claude.ai/api/mcp/auth_callback?code=c%2F1&state=s&iss=https%3A%2F%2Freal.example"
        );
        assert_eq!(
            back.location,
            "https://claude.ai/api/mcp/auth_callback?code=c%2F1&state=s&iss=https%3A%2F%2Flocalhost%3A8443"
        );
        assert!(r.learned.is_bounced_code("c/1"));
        // A redirect URI with its own query gets the parameters appended with `&`.
        let back = r.bounce_back("https://app/cb?x=1", "?error=access_denied&state=s");
        assert_eq!(
            back.location,
            "https://app/cb?x=1&error=access_denied&state=s"
        );
    }

    #[test]
    fn registration_request_gets_bounce_uris_and_the_response_loses_them() {
        let r = rw();
        let body = br#"{"client_name":"x","redirect_uris": ["http://127.0.0.1:5555/callback", "https://a/]cb"],"n":1.50}"#;
        let (new, rewrites) = r.request_registration(body).unwrap();
        let text = String::from_utf8(new).unwrap();
        let b1 = r.bounce_uri("http://127.0.0.1:5555/callback").unwrap();
        let b2 = r.bounce_uri("https://a/]cb").unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"client_name":"x","redirect_uris": ["http://127.0.0.1:5555/callback","https://a/]cb","{b1}","{b2}"],"n":1.50}}"#
            )
        );
        assert_eq!(rewrites[0].location, "body:$.redirect_uris");
        assert!(r.request_registration(text.as_bytes()).is_none());
        assert!(r.request_registration(br#"{"client_name":"x"}"#).is_none());

        let resp = format!(
            r#"{{"client_id":"c1","redirect_uris":["http://127.0.0.1:5555/callback","{b1}"],"x":2.0}}"#
        );
        let (new, rewrites) = r.strip_bounce_uris(resp.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(new).unwrap(),
            r#"{"client_id":"c1","redirect_uris":["http://127.0.0.1:5555/callback"],"x":2.0}"#
        );
        assert_eq!(rewrites[0].direction, RewriteDirection::Response);
        assert!(
            r.learned
                .is_bounced_client("c1", "http://127.0.0.1:5555/callback")
        );
        assert!(!r.learned.is_bounced_client("c1", "https://a/]cb"));
        assert!(
            r.strip_bounce_uris(br#"{"client_id":"c2","redirect_uris":["https://a/cb"]}"#)
                .is_none()
        );
        assert!(r.learned.is_registered_without_bounce("c2"));
    }

    #[test]
    fn disabled_rewriter_adds_nothing() {
        let r = Rewriter::new(
            &url::Url::parse("https://real.example/mcp").unwrap(),
            &url::Url::parse("https://localhost:8443").unwrap(),
            false,
        );
        assert!(
            r.request_registration(br#"{"redirect_uris":["https://a/cb"]}"#)
                .is_none()
        );
        assert_eq!(r.bounce_uri("https://a/cb"), None);
    }
}
