//! The local certificate authority: load-or-create a name-constrained CA and sign leaves.

/// Why the CA could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Placeholder until the CA lands.
    #[error("not implemented")]
    NotImplemented,
}
