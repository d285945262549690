//! Forwarding: the hyper service that sends each request upstream and streams it back.

/// Why the upstream client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Placeholder until forwarding lands.
    #[error("not implemented")]
    NotImplemented,
}
