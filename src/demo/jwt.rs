//! ES256 JWT access tokens (RFC 9068 profile) for the reference server, and their JWKS.
//!
//! The key pair is generated per server start (aws-lc-rs, P-256) and never leaves memory. The
//! resource server side validates the signature, `typ`, `iss`, `aud`, `exp` and `iat`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Issuer: the AS issuer identifier.
    pub iss: String,
    /// Subject: the (demo) user.
    pub sub: String,
    /// Audience: the canonical MCP URL the token is for.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-delimited granted scopes.
    pub scope: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

/// Why a token was rejected (the text goes into `error_description`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or undecodable JSON.
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    /// Header `alg`/`typ`/`kid` not ours.
    #[error("the access token header is not ES256 / at+jwt with this server's key id")]
    Header,
    /// Signature does not verify.
    #[error("the access token signature is invalid")]
    Signature,
    /// Expired (or issued in the future).
    #[error("the access token expired")]
    Expired,
    /// Wrong issuer.
    #[error("the access token was issued by {0}, not by this server's authorization server")]
    Issuer(String),
    /// Wrong audience.
    #[error("the access token audience {0} is not this resource")]
    Audience(String),
}

/// Key failure at start-up (the system RNG or key generation failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot generate the demo token signing key")]
pub struct KeyError;

/// An ES256 signing key with its key id.
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

impl Signer {
    /// Generates a fresh P-256 key.
    pub fn generate() -> Result<Self, KeyError> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| KeyError)?;
        let kid = URL_SAFE_NO_PAD.encode(sha2_prefix(key.public_key().as_ref()));
        Ok(Self {
            key,
            kid,
            rng: SystemRandom::new(),
        })
    }

    /// Signs claims into a compact JWT with `typ: at+jwt`.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let header = Header {
            alg: "ES256".into(),
            typ: "at+jwt".into(),
            kid: self.kid.clone(),
        };
        let header = serde_json::to_vec(&header).map_err(|_| KeyError)?;
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError)?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| KeyError)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        let point = self.key.public_key().as_ref();
        // Uncompressed P-256 point: 0x04 || X (32) || Y (32).
        let (x, y) = match point.get(1..33).zip(point.get(33..65)) {
            Some(xy) => xy,
            None => (&[][..], &[][..]),
        };
        serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    /// Verifies a token: signature, header, then `exp`/`iat` against `now`, `iss` and `aud`.
    pub fn verify(
        &self,
        token: &str,
        iss: &str,
        aud: &str,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(h)?;
        if header.alg != "ES256" || header.typ != "at+jwt" || header.kid != self.kid {
            return Err(TokenError::Header);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let input_len = h.len() + 1 + p.len();
        let input = token.get(..input_len).ok_or(TokenError::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref())
            .verify(input.as_bytes(), &sig)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = decode_json(p)?;
        if claims.exp <= now || claims.iat > now + 60 {
            return Err(TokenError::Expired);
        }
        if claims.iss != iss {
            return Err(TokenError::Issuer(claims.iss));
        }
        if claims.aud != aud {
            return Err(TokenError::Audience(claims.aud));
        }
        Ok(claims)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

fn sha2_prefix(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .take(12)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "http://127.0.0.1:1".into(),
            sub: "demo-user".into(),
            aud: "http://127.0.0.1:1/mcp".into(),
            client_id: "c".into(),
            scope: "mcp:tools".into(),
            iat: now,
            exp: now + 60,
            jti: "j".into(),
        }
    }

    #[test]
    fn signs_and_verifies_round_trip() {
        let signer = Signer::generate().unwrap();
        let token = signer.sign(&claims(1000)).unwrap();
        let got = signer.verify(&token, "http://127.0.0.1:1", "http://127.0.0.1:1/mcp", 1001);
        assert_eq!(got, Ok(claims(1000)));
        let jwks = signer.jwks();
        assert_eq!(jwks["keys"][0]["x"].as_str().unwrap().len(), 43);
    }

    #[test]
    fn rejects_tampered_expired_and_wrong_audience() {
        let signer = Signer::generate().unwrap();
        let token = signer.sign(&claims(1000)).unwrap();
        let (iss, aud) = ("http://127.0.0.1:1", "http://127.0.0.1:1/mcp");
        assert_eq!(
            signer.verify(&token, iss, aud, 2000),
            Err(TokenError::Expired)
        );
        assert!(matches!(
            signer.verify(&token, iss, "x", 1001),
            Err(TokenError::Audience(_))
        ));
        assert!(matches!(
            signer.verify(&token, "y", aud, 1001),
            Err(TokenError::Issuer(_))
        ));
        let mut forged = claims(1000);
        forged.scope = "admin".into();
        let other = Signer::generate().unwrap().sign(&forged).unwrap();
        let spliced = format!(
            "{}.{}",
            token
                .rsplit_once('.')
                .unwrap()
                .0
                .rsplit_once('.')
                .unwrap()
                .0,
            other.split_once('.').unwrap().1
        );
        assert_eq!(
            signer.verify(&spliced, iss, aud, 1001),
            Err(TokenError::Signature)
        );
        assert_eq!(
            signer.verify("a.b", iss, aud, 1001),
            Err(TokenError::Malformed)
        );
    }
}
