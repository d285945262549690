//! Pattern scrubbing of free text: JSON `"key": value` pairs, `name=value` pairs (query
//! strings, form bodies, fragments, HTML links), `user:pass@` in URLs, `Bearer`/`Basic`
//! credentials, JWTs, provider tokens by shape (the `shapes` module), base64 JSON strings that
//! decode to a secret (the `body` module), and every secret value already seen elsewhere in
//! the trace.
//!
//! The scanners work on text rather than parsed documents so that evidence keeps its exact
//! formatting (a float `client_secret_expires_at` stays a float) and so that truncated bodies,
//! SSE streams and HTML pages are covered by the same code. All delimiters are ASCII, so every
//! slice boundary is a char boundary.

use super::body::base64_secret;
use super::ctx::Ctx;
use super::names::{is_secret_param, redacts_numbers};
use super::shapes;
use super::value::is_redacted;

/// Scrubs one text through every scanner, in order. `b64_depth` counts base64 layers already
/// decoded to reach this text (bounded in [`base64_secret`]).
pub(crate) fn scrub(ctx: &mut Ctx<'_>, s: &str, b64_depth: u8) -> String {
    let s = json_keys(ctx, s, 0, b64_depth);
    let s = params(ctx, &s);
    let s = userinfo(ctx, &s);
    let s = auth_schemes(ctx, &s);
    let s = jwts(ctx, &s);
    let s = shapes::scrub(ctx, &s);
    known(ctx, &s)
}

/// Index after the closing quote of the JSON string starting at `start` (which holds `"`).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn decode_json_string(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.trim_matches('"').to_string())
}

fn json_quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Redacts the values of secret keys in JSON-looking text, recursing into strings that hold
/// escaped JSON (MCP tool results often do), and replaces base64 strings that decode to a
/// secret.
fn json_keys(ctx: &mut Ctx<'_>, s: &str, depth: u8, b64_depth: u8) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let Some(end) = string_end(b, i) else { break };
        let after = skip_ws(b, end);
        if after < b.len() && b[after] == b':' {
            let key = decode_json_string(&s[i..end]);
            let v = skip_ws(b, after + 1);
            if is_secret_param(&key) && v < b.len() {
                if let Some((vend, replacement)) = secret_json_value(ctx, s, v, &key) {
                    out.push_str(&s[last..v]);
                    out.push_str(&replacement);
                    last = vend;
                    i = vend;
                    continue;
                }
            }
            i = v;
            continue;
        }
        let raw = &s[i..end];
        if depth < 4 && raw.contains("\\\"") {
            let decoded = decode_json_string(raw);
            let scrubbed = json_keys(ctx, &decoded, depth + 1, b64_depth);
            if scrubbed != decoded {
                out.push_str(&s[last..i]);
                out.push_str(&json_quote(&scrubbed));
                last = end;
            }
        } else if let Some(replacement) = (raw.len() > 16)
            .then(|| base64_secret(ctx, &decode_json_string(raw), b64_depth))
            .flatten()
        {
            out.push_str(&s[last..i]);
            out.push_str(&json_quote(&replacement));
            last = end;
        }
        i = end;
    }
    out.push_str(&s[last..]);
    out
}

/// The end of the value at `v` and its redacted replacement, for strings, numbers and arrays
/// of scalars under a secret key.
fn secret_json_value(ctx: &mut Ctx<'_>, s: &str, v: usize, key: &str) -> Option<(usize, String)> {
    let b = s.as_bytes();
    match b[v] {
        b'"' => {
            let vend = string_end(b, v)?;
            let value = decode_json_string(&s[v..vend]);
            if value.is_empty() || is_redacted(&value) {
                return None;
            }
            Some((vend, json_quote(&ctx.secret(&value))))
        }
        b'-' | b'0'..=b'9' if redacts_numbers(key) => {
            let mut e = v + 1;
            while e < b.len() && matches!(b[e], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                e += 1;
            }
            Some((e, json_quote(&ctx.secret(&s[v..e]))))
        }
        b'[' => {
            let mut out = String::from("[");
            let mut i = v + 1;
            let mut last = i;
            while i < b.len() {
                match b[i] {
                    b']' => {
                        out.push_str(&s[last..=i]);
                        return Some((i + 1, out));
                    }
                    b'"' => {
                        let e = string_end(b, i)?;
                        let value = decode_json_string(&s[i..e]);
                        out.push_str(&s[last..i]);
                        out.push_str(&json_quote(&ctx.secret(&value)));
                        i = e;
                        last = e;
                    }
                    b'{' | b'[' => return None,
                    _ => i += 1,
                }
            }
            None
        }
        _ => None,
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'
}

fn is_boundary(c: u8) -> bool {
    c < 0x20
        || matches!(
            c,
            b'?' | b'&'
                | b';'
                | b' '
                | b'\t'
                | b'\n'
                | b'\r'
                | b'"'
                | b'\''
                | b'#'
                | b','
                | b'('
                | b'{'
                | b'['
                | b'/'
                | b'>'
                | b'|'
        )
}

fn ends_value(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b'&' | b'"' | b'\'' | b'<' | b'>' | b'#' | b',' | b';' | b')' | b']' | b'}' | b'\\'
        )
}

fn form_decode(raw: &str) -> String {
    let plus = raw.replace('+', " ");
    url::form_urlencoded::parse(format!("x={plus}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or(plus)
}

/// Redacts `name=value` where `name` is a secret parameter: query strings, fragments, form
/// bodies, cookie-style text, links in HTML. Values are hashed after form decoding, so a code
/// hashes the same in a `Location` URL and in a token request body.
fn params(ctx: &mut Ctx<'_>, s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'=' {
            i += 1;
            continue;
        }
        let mut n = i;
        while n > 0 && is_name_byte(b[n - 1]) {
            n -= 1;
        }
        let name_ok = n < i && (n == 0 || is_boundary(b[n - 1])) && is_secret_param(&s[n..i]);
        let mut e = i + 1;
        while e < b.len() && !ends_value(b[e]) {
            e += 1;
        }
        let raw = &s[i + 1..e];
        if name_ok && !raw.is_empty() && !raw.starts_with("redacted") && n >= last {
            out.push_str(&s[last..=i]);
            out.push_str(&ctx.secret(&form_decode(raw)));
            last = e;
            i = e;
            continue;
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}

/// Redacts the password (or a lone token) in `scheme://user:pass@host` URLs.
fn userinfo(ctx: &mut Ctx<'_>, s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("://") {
        let start = pos + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let auth_end = tail
            .find(|c: char| c.is_whitespace() || "/?#\"'<>\\".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..auth_end];
        if let Some(at) = authority.rfind('@') {
            let info = &authority[..at];
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (Some(u), p),
                None => (None, info),
            };
            if !pass.is_empty() && !pass.starts_with("redacted") {
                let decoded = url::form_urlencoded::parse(format!("x={pass}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| pass.to_string());
                if let Some(u) = user {
                    out.push_str(u);
                    out.push(':');
                }
                out.push_str(&ctx.secret(&decoded));
                out.push_str(&authority[at..]);
                rest = &tail[auth_end..];
                continue;
            }
        }
        out.push_str(authority);
        rest = &tail[auth_end..];
    }
    out.push_str(rest);
    out
}

fn is_token68(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Redacts `Bearer <token>` and `Basic <credentials>` anywhere in text, leaving auth-params
/// (`Bearer realm="…", error="…"`) alone so `WWW-Authenticate` stays readable.
fn auth_schemes(ctx: &mut Ctx<'_>, s: &str) -> String {
    let b = s.as_bytes();
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        let scheme_len = if lower.as_bytes()[i..].starts_with(b"bearer ") {
            6
        } else if lower.as_bytes()[i..].starts_with(b"basic ") {
            5
        } else {
            i += 1;
            continue;
        };
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let v = skip_ws(b, i + scheme_len);
        let mut e = v;
        while e < b.len() && is_token68(b[e]) {
            e += 1;
        }
        let token = &s[v..e];
        // `realm="…"` is an auth-param; `Bearer abc…"` closing a JSON string is a credential.
        let name = token.trim_end_matches('=');
        let quoted_param = token.ends_with('=')
            && e < b.len()
            && b[e] == b'"'
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
        let is_param = name.contains('=') || quoted_param;
        let already = s[v..].starts_with("redacted") || token.contains("redacted");
        if token.len() >= 8 && !is_param && !already {
            out.push_str(&s[last..v]);
            out.push_str(&ctx.secret(token));
            last = e;
        }
        i = e.max(i + 1);
    }
    out.push_str(&s[last..]);
    out
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Replaces JWTs (JWS: keeps header and payload, hashes the whole token in place of the
/// signature; JWE: keeps only the header).
fn jwts(ctx: &mut Ctx<'_>, s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while let Some(off) = s[i..].find("eyJ") {
        let start = i + off;
        if start > 0 && is_b64url(b[start - 1]) {
            i = start + 3;
            continue;
        }
        let mut segs = Vec::new();
        let mut p = start;
        loop {
            let seg_start = p;
            while p < b.len() && is_b64url(b[p]) {
                p += 1;
            }
            segs.push((seg_start, p));
            if p < b.len() && b[p] == b'.' && segs.len() < 5 {
                p += 1;
            } else {
                break;
            }
        }
        let end = p;
        let signature_ok = segs.len() >= 3
            && segs
                .get(2)
                .is_some_and(|&(a, z)| z - a >= 8 && &s[a..z] != "redacted")
            && !(end < b.len() && b[end] == b':');
        if signature_ok && segs.len() != 4 {
            out.push_str(&s[last..start]);
            out.push_str(&ctx.secret(&s[start..end]));
            last = end;
        }
        i = end.max(start + 3);
    }
    out.push_str(&s[last..]);
    out
}

/// Replaces every secret value already redacted somewhere in the trace.
fn known(ctx: &mut Ctx<'_>, s: &str) -> String {
    let mut out = s.to_string();
    for (value, replacement) in ctx.known {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), replacement);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Ctx, marker};
    use super::*;

    fn run(s: &str) -> String {
        scrub(&mut Ctx::new(&[]), s, 0)
    }

    #[test]
    fn json_secret_keys_keep_formatting_and_numbers() {
        let out = run(
            r#"{"access_token": "AT1", "expires_in": 3600, "client_secret_expires_at": 1.5e9, "error": {"code": -32600}}"#,
        );
        assert_eq!(
            out,
            format!(
                r#"{{"access_token": "{}", "expires_in": 3600, "client_secret_expires_at": 1.5e9, "error": {{"code": -32600}}}}"#,
                marker("AT1")
            )
        );
    }

    #[test]
    fn json_nested_arrays_and_escaped_json() {
        let out = run(r#"{"a":{"password":["p1","p2"]},"text":"{\"refresh_token\":\"RT9\"}"}"#);
        assert!(
            !out.contains("p1") && !out.contains("p2") && !out.contains("RT9"),
            "{out}"
        );
        assert!(out.contains(&marker("RT9")), "{out}");
    }

    #[test]
    fn params_in_urls_forms_and_html() {
        let out = run("https://c/cb?code=abc%2Fd&state=S1#x");
        assert_eq!(
            out,
            format!(
                "https://c/cb?code={}&state={}#x",
                marker("abc/d"),
                marker("S1")
            )
        );
        let out = run("grant_type=authorization_code&code=abc%2Fd&redirect_uri=x");
        assert!(out.contains(&marker("abc/d")));
        let out = run(r#"<a href="/cb?x=1&amp;state=ZZZZ">"#);
        assert!(!out.contains("ZZZZ"), "{out}");
        assert_eq!(
            run("token_type=Bearer&expires_in=3"),
            "token_type=Bearer&expires_in=3"
        );
    }

    #[test]
    fn userinfo_bearer_basic_and_jwt() {
        assert_eq!(
            run("https://me:s3cret@h/p"),
            format!("https://me:{}@h/p", marker("s3cret"))
        );
        let out = run("Authorization: Bearer tok_1234567890");
        assert_eq!(
            out,
            format!("Authorization: Bearer {}", marker("tok_1234567890"))
        );
        let wa = r#"Bearer realm="mcp", error="invalid_token", resource_metadata="https://x/.well-known/oauth-protected-resource""#;
        assert_eq!(run(wa), wa);
        let quoted = r#"{"text":"sent Bearer tok_1234567890"}"#;
        assert_eq!(
            run(quoted),
            format!(r#"{{"text":"sent Bearer {}"}}"#, marker("tok_1234567890"))
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.SIGNATURE_abcdefgh";
        let out = run(&format!("data: {jwt}\n"));
        assert_eq!(
            out,
            format!(
                "data: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.{}\n",
                marker(jwt)
            )
        );
        assert_eq!(run(&out), out, "idempotent");
    }

    #[test]
    fn known_values_are_replaced_anywhere() {
        let known = vec![("CANARYVALUE".to_string(), marker("CANARYVALUE"))];
        let out = scrub(&mut Ctx::new(&known), "<p>your code CANARYVALUE</p>", 0);
        assert_eq!(out, format!("<p>your code {}</p>", marker("CANARYVALUE")));
    }
}
