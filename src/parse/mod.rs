//! Pure, I/O-free parsers for what crosses the wire in an MCP OAuth flow: `WWW-Authenticate`
//! challenges, JWTs (decoded, never verified), form and query strings, JSON metadata helpers and
//! byte-exact URL comparison. Lenient by design: they keep the bad input so rules can judge it.
//! Flow state and rules live in `flow` and `rules`; nothing here knows about exchanges.

pub mod form;
pub mod jwt;
pub mod metadata;
pub mod urls;
pub mod www_authenticate;

/// Whether a value was replaced by authtap's export redaction (`redacted:sha256:<hash>`, or a
/// JWT whose signature is such a marker). Redacted values still correlate (equal secrets give
/// equal markers) but cannot be checked for content (PKCE, formats).
pub fn is_redacted(value: &str) -> bool {
    value.contains("redacted:sha256:")
}

#[cfg(test)]
mod sans_io_test;
