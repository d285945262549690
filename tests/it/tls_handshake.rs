//! TLS handshakes against the real proxy (issue #10): the leaf chosen by SNI, and the
//! `tls_handshake` record every failed handshake leaves — a client that rejects the certificate
//! never sends a request, so this record is the only trace of it.

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;

use authtap::model::{Record, TlsFailureKind, TlsHandshakeFailure};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::{TestProxy, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The failed handshakes of a trace.
fn failures(records: &[Record]) -> Vec<&TlsHandshakeFailure> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::TlsHandshake(h) => Some(h),
            _ => None,
        })
        .collect()
}

/// A rustls client config trusting `roots` only.
fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    authtap::install_crypto_provider();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

fn trusting_proxy_ca(tp: &TestProxy) -> rustls::RootCertStore {
    let ca = CertificateDer::from_pem_file(tp.proxy.ca_pem_path().unwrap()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    roots
}

/// One client handshake; returns the client's own address and the leaf it was served.
async fn handshake(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> (SocketAddr, Result<CertificateDer<'static>, std::io::Error>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let result = connector.connect(server_name, tcp).await.map(|mut tls| {
        let (_, conn) = tls.get_mut();
        conn.peer_certificates().unwrap()[0].clone().into_owned()
    });
    (local, result)
}

/// The SAN entries of a certificate as `DNS:…` / `IP:…`.
fn sans(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).unwrap();
    let san = parsed.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::IPAddress(ip) => match <[u8; 4]>::try_from(*ip) {
                Ok(v4) => format!("IP:{}", std::net::Ipv4Addr::from(v4)),
                Err(_) => format!("IP:{ip:?}"),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn client_without_the_ca_leaves_a_record_naming_the_alert_and_the_fix() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let addr = tp.proxy.local_addr();
    // Only the public web roots, like any client that was not told about authtap's CA.
    let public_roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (client, result) = handshake(addr, client_config(public_roots), "localhost").await;
    let err = result.unwrap_err();
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");

    let ca = tp.proxy.ca_pem_path().unwrap().display().to_string();
    let (records, dir) = tp.finish().await;
    let failures = failures(&records);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = failures[0];
    assert_eq!(failure.client_addr, client.to_string());
    assert_eq!(failure.sni.as_deref(), Some("localhost"));
    assert_eq!(failure.kind, TlsFailureKind::AlertReceived);
    assert_eq!(failure.alert.as_deref(), Some("unknown_ca"));
    assert_eq!(failure.alpn, ["h2", "http/1.1"]);
    assert!(
        failure.message.contains("unknown_ca"),
        "{}",
        failure.message
    );
    for fix in [
        format!("NODE_EXTRA_CA_CERTS={ca}"),
        format!("SSL_CERT_FILE={ca}"),
        "OS trust store".to_string(),
    ] {
        assert!(
            failure.advice.contains(&fix),
            "{fix} missing: {}",
            failure.advice
        );
    }
    assert!(
        support::exchanges(&records).is_empty(),
        "no request can have passed"
    );

    // `authtap lint` shows it too: a trace with no exchange must still explain itself.
    let lint = std::process::Command::new(env!("CARGO_BIN_EXE_authtap"))
        .arg("lint")
        .arg(dir.path().join("trace.jsonl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(
        text.contains(&format!("TLS handshake from {client} (localhost) failed"))
            && text.contains("unknown_ca")
            && text.contains("NODE_EXTRA_CA_CERTS="),
        "{text}"
    );
}

#[tokio::test]
async fn trusting_clients_pass_by_name_and_by_address_and_leave_no_record() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let addr = tp.proxy.local_addr();
    let config = client_config(trusting_proxy_ca(&tp));

    // SNI `localhost`: the DNS-only leaf (the shape BoringSSL accepts).
    let (_, by_name) = handshake(addr, config.clone(), "localhost").await;
    assert_eq!(sans(&by_name.unwrap()), ["DNS:localhost"]);
    // An IP literal sends no SNI: the leaf with the loopback addresses.
    let (_, by_address) = handshake(addr, config, "127.0.0.1").await;
    let address_sans = sans(&by_address.unwrap());
    assert!(
        address_sans.contains(&"IP:127.0.0.1".to_string()),
        "{address_sans:?}"
    );
    // A port probe (connect, close, no ClientHello) is not a TLS client.
    drop(TcpStream::connect(addr).await.unwrap());

    let (records, _dir) = tp.finish().await;
    assert!(failures(&records).is_empty(), "{:?}", failures(&records));
}

#[tokio::test]
async fn client_asking_for_another_host_is_told_the_certificate_covers_localhost() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let addr = tp.proxy.local_addr();
    let (_, result) = handshake(
        addr,
        client_config(trusting_proxy_ca(&tp)),
        "mcp.example.com",
    )
    .await;
    let err = result.unwrap_err();
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");

    let (records, _dir) = tp.finish().await;
    let failures = failures(&records);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].sni.as_deref(), Some("mcp.example.com"));
    assert_eq!(failures[0].alert.as_deref(), Some("bad_certificate"));
    assert!(
        failures[0].advice.contains("covers only localhost"),
        "{}",
        failures[0].advice
    );
}

/// Accepts any certificate during the handshake, like clients that check the host name only
/// afterwards (Node's `checkServerIdentity`, curl's own host check).
#[derive(Debug)]
struct NameCheckedLater(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NameCheckedLater {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[tokio::test]
async fn client_closing_after_the_handshake_for_another_host_is_recorded() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let addr = tp.proxy.local_addr();
    authtap::install_crypto_provider();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .unwrap()
        .clone();
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NameCheckedLater(provider)))
        .with_no_client_auth();
    // The handshake completes; the client then finds the name missing and closes.
    let (_, result) = handshake(addr, Arc::new(config.clone()), "mcp.example.com").await;
    result.unwrap();
    // Near miss: the same for localhost (a browser's unused preconnect) is not a failure.
    let (_, result) = handshake(addr, Arc::new(config), "localhost").await;
    result.unwrap();

    let (records, _dir) = tp.finish().await;
    let failures = failures(&records);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].kind, TlsFailureKind::ClosedAfterHandshake);
    assert_eq!(failures[0].sni.as_deref(), Some("mcp.example.com"));
    assert!(
        failures[0].advice.contains("covers only localhost"),
        "{}",
        failures[0].advice
    );
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_400_saying_https() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let mut tcp = TcpStream::connect(tp.proxy.local_addr()).await.unwrap();
    tcp.write_all(b"GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("use https://localhost:"), "{answer}");

    let (records, _dir) = tp.finish().await;
    let failures = failures(&records);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].kind, TlsFailureKind::PlainHttp);
    assert_eq!(failures[0].sni, None);
}

/// A child process killed (and reaped) when the guard drops, so a failing test leaves none.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_binary_prints_the_refused_handshake_and_the_fix_live() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("proxy.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_authtap"))
        .args([
            "proxy",
            "--upstream",
            up.url.as_str(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--certs-dir")
        .arg(dir.path().join("certs"))
        .arg("--trace")
        .arg(dir.path().join("t.jsonl"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let child = KillOnDrop(child);
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut port = None;
    for _ in 0..300 {
        port = read_log()
            .lines()
            .find(|l| l.contains("point your MCP client at"))
            .and_then(|l| l.split("https://localhost:").nth(1))
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse::<u16>().ok());
        if port.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let port = port.unwrap_or_else(|| panic!("no banner:\n{}", read_log()));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (_, result) = handshake(
        addr,
        client_config(rustls::RootCertStore::empty()),
        "localhost",
    )
    .await;
    assert!(result.is_err());

    let mut printed = String::new();
    for _ in 0..100 {
        printed = read_log();
        if printed.contains("NODE_EXTRA_CA_CERTS=") && printed.contains("TLS handshake from") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(child);
    let line = printed
        .lines()
        .find(|l| l.contains("TLS handshake from"))
        .unwrap_or_else(|| panic!("no live line for the refused handshake:\n{printed}"));
    assert!(
        line.contains("(localhost)") && line.contains("unknown_ca"),
        "{line}"
    );
    assert!(
        printed.contains("Make the client trust authtap's CA"),
        "no advice printed:\n{printed}"
    );
}
