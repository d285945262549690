//! The forward-mode CA: signs leaves for the real host names a client asks a forward proxy for.
//!
//! A forward proxy must present a certificate for `mcp.example.com`, so this CA cannot carry
//! the loopback-only name constraints of [`super::LocalCa`]; it is therefore a separate CA that
//! is harmless in a different way:
//!
//! - **Ephemeral** ([`ForwardCa::ephemeral`], used by `authtap run`): generated at start, its key
//!   held only in memory and never written anywhere; only the certificate is written (mode
//!   0644) for the child process to trust. Once the run ends, nobody holds the key, so trusting
//!   the leftover certificate file grants nothing.
//! - **Persistent** ([`ForwardCa::load_or_create`], used by `authtap proxy --forward`):
//!   `forward-ca.pem` and `forward-ca-key.pem` in the certs directory, apart from the reverse
//!   CA's files. The key is created mode 0600 and refused when group or others can read it; its
//!   SHA-256 fingerprint is printed so the user knows exactly what they trust.
//!
//! Both sign per-host leaves on demand ([`ForwardCa::issue_leaf`]; callers cache them): one SAN
//! (the DNS name, or the IP address for IP literals), `serverAuth`, valid for at most
//! [`super::LEAF_VALIDITY_DAYS`] days (the CA/Browser Forum limit that browsers and Apple
//! clients enforce). The CA itself is `pathLen:0` with no name constraints, the shape that
//! OpenSSL, rustls, Go, browsers and BoringSSL all accept for DNS and IP-address leaves
//! (measured with `scripts/tls-ca-shapes.sh`; BoringSSL only objects to IP *constraints*).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::{Error, LEAF_VALIDITY_DAYS, Leaf, check_key_permissions, io_error, write_atomically};

/// File name of the persistent forward CA certificate inside the certs directory.
pub const FORWARD_CA_CERT_FILE: &str = "forward-ca.pem";
/// File name of the persistent forward CA key inside the certs directory.
pub const FORWARD_CA_KEY_FILE: &str = "forward-ca-key.pem";
/// Validity of the persistent forward CA.
const PERSISTENT_VALIDITY_DAYS: i64 = 825;
/// Validity of an ephemeral CA (a run rarely lasts a day; the margin covers clock skew).
const EPHEMERAL_VALIDITY_DAYS: i64 = 2;

/// Where the CA's key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardCaKind {
    /// Key only in this process's memory.
    Ephemeral,
    /// Key in a 0600 file next to the certificate.
    Persistent {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
        /// Whether this call created the files.
        created: bool,
    },
}

/// A forward-mode CA (see the module docs).
pub struct ForwardCa {
    kind: ForwardCaKind,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for ForwardCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardCa")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ForwardCa {
    /// A fresh CA whose key never leaves this process.
    pub fn ephemeral() -> Result<Self, Error> {
        let crypto = |source| Error::Crypto {
            dir: PathBuf::from("(memory)"),
            source,
        };
        let key = KeyPair::generate().map_err(crypto)?;
        let params = ca_params(
            "authtap run ephemeral CA (key in memory only)",
            EPHEMERAL_VALIDITY_DAYS,
        );
        let cert = params.self_signed(&key).map_err(crypto)?;
        Ok(Self {
            kind: ForwardCaKind::Ephemeral,
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads `forward-ca.pem` and `forward-ca-key.pem` from `dir`, creating both when neither
    /// exists. A key readable by group or others is refused.
    pub fn load_or_create(dir: &Path) -> Result<Self, Error> {
        let cert_path = dir.join(FORWARD_CA_CERT_FILE);
        let key_path = dir.join(FORWARD_CA_KEY_FILE);
        let crypto = |source| Error::Crypto {
            dir: dir.to_path_buf(),
            source,
        };
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                check_key_permissions(&key_path)?;
                let key_pem = std::fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
                let cert_pem = std::fs::read_to_string(&cert_path).map_err(io_error(&cert_path))?;
                let key = KeyPair::from_pem(&key_pem).map_err(crypto)?;
                let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(crypto)?;
                let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
                    .map_err(|_| crypto(rcgen::Error::CouldNotParseCertificate))?;
                Ok(Self {
                    kind: ForwardCaKind::Persistent {
                        cert_path,
                        key_path,
                        created: false,
                    },
                    cert_pem,
                    cert_der,
                    issuer,
                })
            }
            (false, false) => {
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
                let key = KeyPair::generate().map_err(crypto)?;
                let params = ca_params("authtap forward-proxy CA", PERSISTENT_VALIDITY_DAYS);
                let cert = params.self_signed(&key).map_err(crypto)?;
                // Key first: a crash in between leaves `Incomplete`, never a CA without key.
                write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                let cert_pem = cert.pem();
                write_atomically(&cert_path, cert_pem.as_bytes(), 0o644)?;
                Ok(Self {
                    kind: ForwardCaKind::Persistent {
                        cert_path,
                        key_path,
                        created: true,
                    },
                    cert_pem,
                    cert_der: cert.der().clone(),
                    issuer: Issuer::new(params, key),
                })
            }
            (true, false) => Err(Error::Incomplete {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(Error::Incomplete {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    /// Where the key lives.
    pub fn kind(&self) -> &ForwardCaKind {
        &self.kind
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 fingerprint of the certificate, upper-case colon hex.
    pub fn fingerprint_sha256(&self) -> String {
        super::colon_hex(&Sha256::digest(self.cert_der.as_ref()))
    }

    /// Base64 of the SHA-256 of the CA's SubjectPublicKeyInfo: the value Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub fn spki_sha256_base64(&self) -> String {
        use base64::Engine as _;
        let spki = self.issuer.key().subject_public_key_info();
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&spki))
    }

    /// Signs a fresh leaf for one host: a DNS name, or an IP address literal.
    pub fn issue_leaf(&self, host: &str) -> Result<Leaf, Error> {
        let crypto = |source| Error::Crypto {
            dir: PathBuf::from("(forward CA)"),
            source,
        };
        let key = KeyPair::generate().map_err(crypto)?;
        let mut params = CertificateParams::new(vec![host.to_string()]).map_err(crypto)?;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(1);
        params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS) - Duration::minutes(2);
        params.distinguished_name.push(DnType::CommonName, host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).map_err(crypto)?;
        Ok(Leaf {
            chain: vec![cert.der().clone(), self.cert_der.clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

fn ca_params(common_name: &str, validity_days: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + Duration::days(validity_days);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "authtap");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn verify(ca: &ForwardCa, host: &str) -> Result<(), String> {
        crate::install_crypto_provider();
        let leaf = ca.issue_leaf(host).map_err(|e| e.to_string())?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca.cert_der().clone())
            .map_err(|e| e.to_string())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder(roots.into())
            .build()
            .map_err(|e| e.to_string())?;
        let name =
            rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        verifier
            .verify_server_cert(
                &leaf.chain[0],
                &leaf.chain[1..],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn ephemeral_leaves_verify_for_dns_names_and_ip_literals() {
        let ca = ForwardCa::ephemeral().unwrap();
        assert_eq!(ca.kind(), &ForwardCaKind::Ephemeral);
        verify(&ca, "mcp.example.com").unwrap();
        verify(&ca, "127.0.0.1").unwrap();
        verify(&ca, "::1").unwrap();
    }

    #[test]
    fn a_leaf_is_valid_only_for_its_own_host() {
        let ca = ForwardCa::ephemeral().unwrap();
        let leaf = ca.issue_leaf("a.example.com").unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder(roots.into())
            .build()
            .unwrap();
        let other = rustls_pki_types::ServerName::try_from("b.example.com").unwrap();
        let result = verifier.verify_server_cert(
            &leaf.chain[0],
            &leaf.chain[1..],
            &other,
            &[],
            rustls_pki_types::UnixTime::now(),
        );
        assert!(result.is_err());
    }

    #[test]
    fn two_ephemeral_cas_differ() {
        let a = ForwardCa::ephemeral().unwrap();
        let b = ForwardCa::ephemeral().unwrap();
        assert_ne!(a.fingerprint_sha256(), b.fingerprint_sha256());
        assert_ne!(a.spki_sha256_base64(), b.spki_sha256_base64());
    }

    #[test]
    fn persistent_ca_is_created_0600_reloaded_and_refused_when_readable() {
        let dir = std::env::temp_dir().join(format!("authtap-fwdca-{}", rand::random::<u64>()));
        let created = ForwardCa::load_or_create(&dir).unwrap();
        let key = dir.join(FORWARD_CA_KEY_FILE);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            created.kind(),
            ForwardCaKind::Persistent { created: true, .. }
        ));
        // Separate from the reverse CA's files.
        assert!(!dir.join(super::super::CA_CERT_FILE).exists());
        let loaded = ForwardCa::load_or_create(&dir).unwrap();
        assert_eq!(created.fingerprint_sha256(), loaded.fingerprint_sha256());
        verify(&loaded, "auth.example.org").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = ForwardCa::load_or_create(&dir).unwrap_err();
        assert!(matches!(refused, Error::KeyPermissions { .. }), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
