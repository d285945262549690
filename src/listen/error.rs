//! Why the listener could not be set up.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the listener could not be set up (binding, certificate files, rustls).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate and key.
    #[error("TLS configuration rejected")]
    Tls(#[source] rustls::Error),
}
