//! Serving TLS: the leaf chosen by SNI, and every handshake that fails turned into a record.
//!
//! [`tls_from_leaves`] builds the server config for the local CA: a [`SniLeafResolver`] hands
//! the `DNS:localhost` leaf to clients that send a server name and the leaf with IP SANs to
//! clients that connected to an IP literal (why: [`crate::ca`]). `accept` runs one handshake
//! with a deadline. A client that rejects the certificate never sends a request, so without
//! this it would be invisible: `accept` reads the `ClientHello` first (SNI, ALPN) and, when the
//! handshake then fails, returns a [`TlsHandshakeFailure`] naming the client, its SNI, the TLS
//! alert and what to do for that client. A client that completes the handshake for a name the
//! leaf does not cover and closes without a request (curl checks the host name only then) is
//! recorded too (`closed_without_request`). A client speaking plain HTTP to the TLS port gets
//! a `400` saying to use `https://`. Connections that close without sending a byte (port probes)
//! are not recorded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::ca::{Leaf, ServingLeaves};
use crate::model::{TlsFailureKind, TlsHandshakeFailure};

use super::error::Error;

/// ALPN protocols offered, in preference order.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Whose certificate the listener serves: it decides the advice a failed handshake gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateOrigin {
    /// Leaves signed by authtap's local CA, whose certificate is at this path.
    LocalCa {
        /// `ca.pem`, as configured (relative paths stay relative).
        ca_pem: PathBuf,
    },
    /// The user's own certificate (`--tls-cert`).
    UserFiles,
}

/// A TLS server config and what a failed handshake should advise.
#[derive(Debug, Clone)]
pub struct TlsServing {
    /// The rustls server config.
    pub config: Arc<ServerConfig>,
    /// Whose certificate it serves.
    pub origin: CertificateOrigin,
}

/// Picks the leaf per connection: SNI present → the DNS-only leaf, absent → the IP-SAN leaf.
#[derive(Debug)]
pub struct SniLeafResolver {
    for_sni: Arc<CertifiedKey>,
    for_address: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniLeafResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(if hello.server_name().is_some() {
            self.for_sni.clone()
        } else {
            self.for_address.clone()
        })
    }
}

/// The server config for the local CA's two leaves, chosen by SNI.
pub fn tls_from_leaves(leaves: ServingLeaves) -> Result<Arc<ServerConfig>, Error> {
    crate::install_crypto_provider();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let certified = |leaf: Leaf| {
        CertifiedKey::from_der(leaf.chain, leaf.key, &provider)
            .map(Arc::new)
            .map_err(Error::Tls)
    };
    let resolver = SniLeafResolver {
        for_sni: certified(leaves.for_sni)?,
        for_address: certified(leaves.for_address)?,
    };
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Adds authtap's ALPN protocols to a server config.
pub(super) fn with_alpn(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What the handshake learnt about the client before it failed.
#[derive(Debug, Default)]
struct Hello {
    sni: Option<String>,
    alpn: Vec<String>,
}

/// Who is handshaking, where and since when: what a failure record names besides the hello.
struct Attempt<'a> {
    at: OffsetDateTime,
    peer: SocketAddr,
    port: u16,
    origin: &'a CertificateOrigin,
}

impl Attempt<'_> {
    /// The failure record of this attempt, with the advice for its kind and alert.
    fn failure(
        &self,
        hello: Hello,
        kind: TlsFailureKind,
        alert: Option<String>,
        message: String,
    ) -> Option<TlsHandshakeFailure> {
        let advice = advice(
            self.origin,
            kind,
            alert.as_deref(),
            hello.sni.as_deref(),
            self.port,
        );
        Some(TlsHandshakeFailure {
            at: self.at,
            client_addr: self.peer.to_string(),
            sni: hello.sni,
            alpn: hello.alpn,
            kind,
            alert,
            message,
            advice,
        })
    }
}

/// Runs one server handshake within `timeout`. `Err(None)` means there is nothing worth
/// recording (the peer closed or idled without sending a byte).
pub(super) async fn accept(
    mut stream: TcpStream,
    peer: SocketAddr,
    serving: &TlsServing,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, Option<TlsHandshakeFailure>> {
    let attempt = Attempt {
        at: OffsetDateTime::now_utc(),
        peer,
        port: stream.local_addr().map_or(0, |a| a.port()),
        origin: &serving.origin,
    };
    let deadline = tokio::time::Instant::now() + timeout;

    let mut first = [0u8; 8];
    let peeked = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(n)) => n,
        Ok(Err(_)) | Err(_) => return Err(None),
    };
    if peeked == 0 {
        return Err(None);
    }
    if looks_like_http(&first[..peeked]) {
        answer_plain_http(&mut stream, attempt.port, deadline).await;
        return Err(attempt.failure(
            Hello::default(),
            TlsFailureKind::PlainHttp,
            None,
            "the client sent plain HTTP to the TLS port (answered 400)".into(),
        ));
    }

    let lazy = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let start = match tokio::time::timeout_at(deadline, lazy).await {
        Ok(Ok(start)) => start,
        Ok(Err(err)) => {
            let (kind, alert, message) = classify(&err);
            return Err(attempt.failure(Hello::default(), kind, alert, message));
        }
        Err(_) => return Err(None),
    };
    let hello = hello_of(&start.client_hello());
    match tokio::time::timeout_at(deadline, start.into_stream(serving.config.clone())).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(err)) => {
            let (kind, alert, message) = classify(&err);
            Err(attempt.failure(hello, kind, alert, message))
        }
        Err(_) => Err(attempt.failure(
            hello,
            TlsFailureKind::Timeout,
            None,
            format!("the handshake did not finish within {}s", timeout.as_secs()),
        )),
    }
}

/// Answers a client speaking plain HTTP to the TLS port with a `400` saying to use `https://`,
/// then closes.
async fn answer_plain_http(stream: &mut TcpStream, port: u16, deadline: tokio::time::Instant) {
    let body = format!(
        "This port speaks HTTPS: use https://localhost:{port}/ (authtap proxy serves plain \
         HTTP only with --plain-http).\n"
    );
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout_at(deadline, stream.write_all(response.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// The SNI and ALPN protocols of a `ClientHello`.
fn hello_of(client_hello: &ClientHello<'_>) -> Hello {
    Hello {
        sni: client_hello.server_name().map(str::to_string),
        alpn: client_hello
            .alpn()
            .map(|protocols| {
                protocols
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The record for a connection that completed its handshake but closed without a request, when
/// the client asked for a name the local CA's leaf does not cover: it most likely rejected the
/// certificate after the handshake (Node and curl check the host name only then). Nothing for a
/// covered name (a browser's unused preconnect) or for the user's own certificate.
pub(super) fn closed_without_request(
    serving: &TlsServing,
    peer: SocketAddr,
    sni: Option<String>,
    at: OffsetDateTime,
    port: u16,
) -> Option<TlsHandshakeFailure> {
    let CertificateOrigin::LocalCa { .. } = serving.origin else {
        return None;
    };
    let name = sni.filter(|name| !is_localhost(name))?;
    let kind = TlsFailureKind::ClosedAfterHandshake;
    Some(TlsHandshakeFailure {
        at,
        client_addr: peer.to_string(),
        advice: advice(&serving.origin, kind, None, Some(&name), port),
        message: format!(
            "the client completed the handshake for {name} but closed without a request"
        ),
        sni: Some(name),
        alpn: Vec::new(),
        kind,
        alert: None,
    })
}

/// Whether the first bytes are an HTTP/1 request line rather than a TLS record.
fn looks_like_http(first: &[u8]) -> bool {
    let method_len = first.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method_len >= 3 && first.get(method_len) == Some(&b' ')
}

/// Sorts a handshake error into kind, alert name and a sentence.
pub(crate) fn classify(err: &std::io::Error) -> (TlsFailureKind, Option<String>, String) {
    let tls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::AlertReceived(alert)) => {
            let name = alert_name(u8::from(*alert));
            let message = format!("the client aborted the handshake with the TLS alert {name}");
            (TlsFailureKind::AlertReceived, Some(name), message)
        }
        Some(other) => (
            TlsFailureKind::Refused,
            None,
            format!("authtap refused the client's handshake: {other}"),
        ),
        None => match err.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => (
                TlsFailureKind::ClientClosed,
                None,
                "the client closed the connection during the handshake without a TLS alert".into(),
            ),
            _ => (
                TlsFailureKind::Refused,
                None,
                format!("the handshake failed: {err}"),
            ),
        },
    }
}

/// The RFC 8446 §6 (and RFC 7301 §3.2) name of a TLS alert.
pub fn alert_name(code: u8) -> String {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("alert_{other}"),
    };
    name.to_string()
}

/// Alerts a client sends when it will not accept the server's certificate.
fn is_certificate_alert(alert: &str) -> bool {
    matches!(
        alert,
        "bad_certificate"
            | "unsupported_certificate"
            | "certificate_revoked"
            | "certificate_expired"
            | "certificate_unknown"
            | "unknown_ca"
    )
}

/// What to do about a failed handshake, for the client that had it.
fn advice(
    origin: &CertificateOrigin,
    kind: TlsFailureKind,
    alert: Option<&str>,
    sni: Option<&str>,
    port: u16,
) -> String {
    let local = format!("https://localhost:{port}/");
    match kind {
        TlsFailureKind::PlainHttp => {
            return format!("Use {local}, or run the proxy with --plain-http.");
        }
        TlsFailureKind::Refused => {
            return "authtap offers TLS 1.2 and 1.3 with ALPN h2 and http/1.1; the client shares \
                    none of them (or sent a malformed ClientHello)."
                .into();
        }
        TlsFailureKind::Timeout => {
            return "The client stalled mid-handshake: a network middlebox, or a client waiting \
                    on a user prompt about the certificate."
                .into();
        }
        TlsFailureKind::AlertReceived if !alert.is_some_and(is_certificate_alert) => {
            return "The client aborted for a reason other than trust; authtap offers TLS 1.2 \
                    and 1.3 with ALPN h2 and http/1.1."
                .into();
        }
        TlsFailureKind::AlertReceived
        | TlsFailureKind::ClientClosed
        | TlsFailureKind::ClosedAfterHandshake => {}
    }
    let ca_pem = match origin {
        CertificateOrigin::UserFiles => {
            return "The client rejected the --tls-cert certificate: it must name the host the \
                    client connects to, and the client must trust its issuer."
                .into();
        }
        CertificateOrigin::LocalCa { ca_pem } => ca_pem.display().to_string(),
    };
    let trust = format!(
        "Make the client trust authtap's CA {ca_pem}: Node, Claude Code, MCP Inspector: \
         NODE_EXTRA_CA_CERTS={ca_pem}; Python, curl and other OpenSSL clients: \
         SSL_CERT_FILE={ca_pem} (curl --cacert {ca_pem}); browsers and desktop apps: the OS trust \
         store (`authtap ca` prints how)."
    );
    let closed = match kind {
        TlsFailureKind::ClientClosed => {
            "Clients that reject a certificate often close without an alert. "
        }
        TlsFailureKind::ClosedAfterHandshake => {
            "Clients that check the host name after the handshake close this way. "
        }
        _ => "",
    };
    match sni {
        None => format!(
            "{closed}The client connected to an IP address; Claude Code and other BoringSSL \
             clients cannot check the CA's IP-address constraints: connect to {local} instead. \
             {trust}"
        ),
        Some(name) if !is_localhost(name) => format!(
            "{closed}The client asked for {name}, but authtap's certificate covers only \
             localhost: connect to {local}, or serve your own certificate (--tls-cert) or plain \
             HTTP behind a TLS tunnel (--plain-http --public-url)."
        ),
        Some(_) => format!("{closed}{trust}"),
    }
}

fn is_localhost(name: &str) -> bool {
    name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_ca() -> CertificateOrigin {
        CertificateOrigin::LocalCa {
            ca_pem: PathBuf::from("certs/ca.pem"),
        }
    }

    #[test]
    fn names_alerts_as_rfc_8446() {
        assert_eq!(alert_name(48), "unknown_ca");
        assert_eq!(alert_name(42), "bad_certificate");
        assert_eq!(alert_name(46), "certificate_unknown");
        assert_eq!(alert_name(200), "alert_200");
    }

    #[test]
    fn tells_a_localhost_client_how_to_trust_the_ca() {
        let text = advice(
            &local_ca(),
            TlsFailureKind::AlertReceived,
            Some("unknown_ca"),
            Some("localhost"),
            8443,
        );
        assert!(text.contains("NODE_EXTRA_CA_CERTS=certs/ca.pem"), "{text}");
        assert!(text.contains("SSL_CERT_FILE=certs/ca.pem"), "{text}");
        assert!(text.contains("OS trust store"), "{text}");
    }

    #[test]
    fn sends_an_ip_literal_client_to_localhost() {
        let text = advice(
            &local_ca(),
            TlsFailureKind::AlertReceived,
            Some("bad_certificate"),
            None,
            8443,
        );
        assert!(text.contains("https://localhost:8443/"), "{text}");
        assert!(text.contains("BoringSSL"), "{text}");
    }

    #[test]
    fn names_the_host_a_client_asked_for() {
        let text = advice(
            &local_ca(),
            TlsFailureKind::ClientClosed,
            None,
            Some("mcp.example.com"),
            8443,
        );
        assert!(text.contains("asked for mcp.example.com"), "{text}");
        assert!(text.contains("without an alert"), "{text}");
    }

    #[test]
    fn non_trust_alert_gets_no_trust_advice() {
        let text = advice(
            &local_ca(),
            TlsFailureKind::AlertReceived,
            Some("protocol_version"),
            Some("localhost"),
            8443,
        );
        assert!(!text.contains("NODE_EXTRA_CA_CERTS"), "{text}");
    }

    #[test]
    fn user_certificate_advice_does_not_mention_the_local_ca() {
        let text = advice(
            &CertificateOrigin::UserFiles,
            TlsFailureKind::AlertReceived,
            Some("unknown_ca"),
            Some("mcp.example.com"),
            443,
        );
        assert!(text.contains("--tls-cert"), "{text}");
        assert!(!text.contains("authtap's CA"), "{text}");
    }

    #[test]
    fn recognises_plain_http_request_lines() {
        assert!(looks_like_http(b"GET / HT"));
        assert!(looks_like_http(b"POST /mc"));
        assert!(!looks_like_http(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01
        ]));
        assert!(!looks_like_http(b"GE"));
    }

    #[test]
    fn classifies_a_received_alert() {
        let err = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
        );
        let (kind, alert, message) = classify(&err);
        assert_eq!(kind, TlsFailureKind::AlertReceived);
        assert_eq!(alert.as_deref(), Some("unknown_ca"));
        assert!(message.contains("unknown_ca"), "{message}");
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(classify(&eof).0, TlsFailureKind::ClientClosed);
    }
}
