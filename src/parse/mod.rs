//! Pure, I/O-free parsers for what crosses the wire in an MCP OAuth flow: `WWW-Authenticate`
//! challenges, JWTs (decoded, never verified), form and query strings, JSON metadata helpers and
//! byte-exact URL comparison. Lenient by design: they keep the bad input so rules can judge it.
//! [`view::ExchangeView`] applies them to one recorded exchange, once, for everything above.
//! Flow state and rules live in `flow` and `rules`.

pub mod form;
pub mod jwt;
pub mod metadata;
pub mod sse;
pub mod urls;
pub mod view;
pub mod www_authenticate;

/// Whether a value was replaced by authtap's export redaction (a `redacted:sha256:<hash>`
/// marker, or a JWT whose signature is one). Redacted values still correlate but cannot be
/// checked for content (PKCE, formats). The one definition lives in `redact`.
pub use crate::redact::is_redacted;
