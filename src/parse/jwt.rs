//! JWT decoding without verification: header and claims only, for correlation and hints.
//! Signatures are never checked or stored.

use base64::Engine as _;
use serde_json::{Map, Value};

/// A decoded (unverified) JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims set.
    pub claims: Map<String, Value>,
}

impl Jwt {
    /// Decodes a compact JWS (three base64url parts with JSON objects in the first two).
    pub fn decode(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, c, _sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Jwt {
            header: decode_part(h)?,
            claims: decode_part(c)?,
        })
    }

    /// `iss` claim.
    pub fn iss(&self) -> Option<&str> {
        self.claims.get("iss")?.as_str()
    }

    /// `aud` claim as a list (a string becomes one entry).
    pub fn aud(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A numeric claim (`exp`, `iat`, `nbf`) in seconds.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.claims.get(name)?.as_f64()
    }

    /// Granted scopes from `scope` (space-delimited) or `scp` (array or string).
    pub fn scopes(&self) -> Vec<String> {
        let v = self.claims.get("scope").or_else(|| self.claims.get("scp"));
        match v {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Header member as a string (`alg`, `typ`, `kid`).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name)?.as_str()
    }
}

fn decode_part(part: &str) -> Option<Map<String, Value>> {
    let trimmed = part.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn round_trips_claims() {
        let t = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"ES256","typ":"at+jwt"}"#),
            b64(r#"{"iss":"https://as","aud":["https://rs/mcp"],"exp":10,"scope":"a b"}"#)
        );
        let j = Jwt::decode(&t).unwrap();
        assert_eq!(j.iss(), Some("https://as"));
        assert_eq!(j.aud(), vec!["https://rs/mcp".to_string()]);
        assert_eq!(j.num("exp"), Some(10.0));
        assert_eq!(j.scopes(), vec!["a".to_string(), "b".to_string()]);
        assert_eq!(j.header_str("typ"), Some("at+jwt"));
    }

    #[test]
    fn rejects_opaque_tokens() {
        assert!(Jwt::decode("opaque-token").is_none());
        assert!(Jwt::decode("a.b.c").is_none());
        assert!(Jwt::decode("a.b.c.d").is_none());
    }
}
