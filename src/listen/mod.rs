//! The accept loop: TLS (or plain HTTP) on the listen address, HTTP/1.1 and HTTP/2.

/// Why the listener could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Placeholder until the listener lands.
    #[error("not implemented")]
    NotImplemented,
}
