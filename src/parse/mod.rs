//! Pure, I/O-free parsers for what crosses the wire in an MCP OAuth flow: `WWW-Authenticate`
//! challenges, JWTs (decoded, never verified), form and query strings, JSON metadata helpers and
//! byte-exact URL comparison. Lenient by design: they keep the bad input so rules can judge it.
//! Flow state and rules live in `flow` and `rules`; nothing here knows about exchanges.

pub mod form;
pub mod jwt;
pub mod metadata;
pub mod urls;
pub mod www_authenticate;

#[cfg(test)]
mod sans_io_test;
