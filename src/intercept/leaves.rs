//! Per-host TLS server configs signed by the forward CA, made on first use and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::ServerConfig;

use crate::ca::forward::ForwardCa;

/// ALPN protocols offered inside an intercepted tunnel, in preference order.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a leaf could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeafError {
    /// Signing failed.
    #[error("cannot sign a leaf for {host}")]
    Sign {
        /// The host.
        host: String,
        /// The cause.
        #[source]
        source: crate::ca::Error,
    },
    /// rustls refused the key or chain.
    #[error("cannot serve the leaf for {host}")]
    Tls {
        /// The host.
        host: String,
        /// The cause.
        #[source]
        source: rustls::Error,
    },
}

/// The forward CA and the server configs it has signed so far, by host.
#[derive(Debug)]
pub struct LeafCache {
    ca: Arc<ForwardCa>,
    configs: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl LeafCache {
    /// An empty cache over `ca`.
    pub fn new(ca: Arc<ForwardCa>) -> Self {
        Self {
            ca,
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The CA.
    pub fn ca(&self) -> &ForwardCa {
        &self.ca
    }

    /// The server config for `host` (a DNS name or an IP literal without brackets).
    pub fn config_for(&self, host: &str) -> Result<Arc<ServerConfig>, LeafError> {
        let mut configs = self
            .configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(config) = configs.get(host) {
            return Ok(config.clone());
        }
        let leaf = self.ca.issue_leaf(host).map_err(|source| LeafError::Sign {
            host: host.to_string(),
            source,
        })?;
        crate::install_crypto_provider();
        let tls = |source| LeafError::Tls {
            host: host.to_string(),
            source,
        };
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .map_err(tls)?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        let config = Arc::new(config);
        configs.insert(host.to_string(), config.clone());
        Ok(config)
    }

    /// How many hosts have a leaf.
    pub fn len(&self) -> usize {
        self.configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no leaf was made yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_config_per_host_reused() {
        let cache = LeafCache::new(Arc::new(ForwardCa::ephemeral().unwrap()));
        let a = cache.config_for("a.example.com").unwrap();
        let again = cache.config_for("a.example.com").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        cache.config_for("127.0.0.1").unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(a.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
