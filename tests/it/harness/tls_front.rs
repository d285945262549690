//! The TLS front of the tunnel form: what ngrok or cloudflared do for `authtap proxy
//! --plain-http --public-url https://…`, on loopback. It terminates TLS with a certificate from
//! its own throw-away authtap CA (so clients trust the front, not the proxy) and pipes the
//! decrypted bytes to the plain-HTTP proxy, one upstream connection per client connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use authtap::ca::LocalCa;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A running TLS front, stopped when dropped.
pub struct TlsFront {
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
    /// `https://localhost:PORT/`, the public URL of the tunnel.
    pub public_url: String,
    /// The CA certificate (PEM) clients must trust for the front.
    pub ca: PathBuf,
}

/// Starts a front on a free loopback port that forwards to `upstream` (which may start later).
pub fn start_tls_front(upstream: SocketAddr) -> TlsFront {
    authtap::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(&dir.path().join("front-ca")).unwrap();
    // The public URL's name only (`localhost`), as a tunnel's certificate names its host.
    let leaf = ca.issue_leaf_for(&["localhost"]).unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        runtime: Some(runtime),
        public_url: format!("https://localhost:{port}/"),
        ca: ca.cert_path(),
        _dir: dir,
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
