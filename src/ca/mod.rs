//! The local certificate authority: load or create a name-constrained CA and sign leaves.
//!
//! The CA lives in a directory (`certs/` by default) as `ca.pem` (the certificate users trust)
//! and `ca-key.pem` (the private key, mode 0600, created with that mode atomically). Its name
//! constraints (RFC 5280 §4.2.1.10) permit only the DNS name `localhost` and the addresses
//! `127.0.0.1/32` and `::1/128`, so even a leaked key cannot forge a certificate that a client
//! accepts for a real host — by name *or* by IP address. Both name forms must be constrained:
//! constraints apply per name form, so a CA constrained to DNS names only would still sign
//! valid certificates for every IP address.
//!
//! # Two leaves, chosen by SNI
//!
//! BoringSSL's certificate verifier (Claude Code's Bun runtime; not Chromium's own verifier)
//! does not implement IP-address name constraints: it rejects a chain as
//! `UNSUPPORTED_CONSTRAINT_TYPE` when the CA constrains IP addresses *and* the leaf carries an
//! IP SAN, but accepts the same CA when the leaf names only `DNS:localhost`. So instead of
//! weakening the CA, [`LocalCa::issue_serving_leaves`] signs two leaves at every start and
//! [`crate::listen`] picks one per connection from the TLS server name indication:
//!
//! | client connects to | sends SNI | gets the leaf | accepted by |
//! |---|---|---|---|
//! | `https://localhost:PORT` | `localhost` | `DNS:localhost` | every verifier, BoringSSL included |
//! | `https://127.0.0.1:PORT`, `https://[::1]:PORT` | none (RFC 6066 §3) | `DNS:localhost`, `IP:127.0.0.1`, `IP:::1` | OpenSSL, rustls, Go, browsers; not BoringSSL's legacy verifier |
//!
//! That is why authtap always tells clients to use `localhost`. A BoringSSL client pointed at an
//! IP literal fails its handshake, and the listener records that failure with this advice.
//! Leaves are valid 397 days at most and never touch the disk.
//!
//! The alternatives, measured with `scripts/tls-ca-shapes.sh` (curl and Python on OpenSSL 3,
//! Node 20, Go 1.19, Chromium 156, Claude Code 2.1.332): every stack accepts every shape except
//! Claude Code on an IP-SAN leaf under IP constraints; but under a CA constrained to DNS names
//! only, or not constrained at all, a leaf for `IP:203.0.113.7` signed with the CA's key is
//! accepted for `https://203.0.113.7/` — a leaked key could impersonate any site reached by IP
//! address. Keeping both constraint forms and choosing the leaf by SNI is the only shape that
//! every stack accepts for `localhost` while a leaked key forges nothing.

pub mod forward;

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// File name of the CA certificate inside the certs directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the certs directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// Names of the leaf served to clients that send a server name (SNI): DNS only, which every
/// verifier accepts under the CA's constraints.
pub const SNI_LEAF_NAMES: [&str; 1] = ["localhost"];
/// Names of the leaf served to clients that send no SNI (they connected to an IP literal).
pub const ADDRESS_LEAF_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Longest leaf validity (the CA/Browser Forum limit, also enforced by Apple clients).
pub const LEAF_VALIDITY_DAYS: i64 = 397;
const CA_VALIDITY_DAYS: i64 = 3650;

/// Why the CA could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing or creating a file failed.
    #[error("cannot access {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read by other users.
    #[error(
        "CA key {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}` \
         or delete the certs directory to create a fresh CA"
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Exactly one of the certificate and key files exists.
    #[error(
        "{present} exists but {missing} does not; delete {present} to create a fresh CA, or \
         restore {missing}"
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// The stored certificate or key does not parse, or signing failed.
    #[error("CA material in {dir} is unusable")]
    Crypto {
        /// The certs directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
}

/// A loaded (or freshly created) local CA.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    created: bool,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// A leaf certificate chain and its key, ready for a rustls `ServerConfig`.
#[derive(Debug)]
pub struct Leaf {
    /// Leaf first, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

/// The two leaves the listener chooses between by SNI (see the module docs).
#[derive(Debug)]
pub struct ServingLeaves {
    /// For clients that sent a server name: [`SNI_LEAF_NAMES`].
    pub for_sni: Leaf,
    /// For clients that sent none (IP literals): [`ADDRESS_LEAF_NAMES`].
    pub for_address: Leaf,
}

impl LocalCa {
    /// Loads the CA from `dir`, creating the directory and a new CA if neither file exists.
    pub fn load_or_create(dir: &Path) -> Result<Self, Error> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(dir, &cert_path, &key_path),
            (false, false) => Self::create(dir, &cert_path, &key_path),
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

    fn load(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        check_key_permissions(key_path)?;
        let key_pem = std::fs::read_to_string(key_path).map_err(io_error(key_path))?;
        let cert_pem = std::fs::read_to_string(cert_path).map_err(io_error(cert_path))?;
        let crypto = |source| Error::Crypto {
            dir: dir.to_path_buf(),
            source,
        };
        let key = KeyPair::from_pem(&key_pem).map_err(crypto)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(crypto)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| crypto(rcgen::Error::CouldNotParseCertificate))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            cert_pem,
            cert_der,
            issuer,
            created: false,
        })
    }

    fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let crypto = |source| Error::Crypto {
            dir: dir.to_path_buf(),
            source,
        };
        let key = KeyPair::generate().map_err(crypto)?;
        let params = ca_params();
        let cert = params.self_signed(&key).map_err(crypto)?;
        // Key first: a crash in between leaves an `Incomplete` error, never a CA without key.
        write_atomically(key_path, key.serialize_pem().as_bytes(), 0o600)?;
        let cert_pem = cert.pem();
        write_atomically(cert_path, cert_pem.as_bytes(), 0o644)?;
        let cert_der = cert.der().clone();
        let issuer = Issuer::new(params, key);
        Ok(Self {
            dir: dir.to_path_buf(),
            cert_pem,
            cert_der,
            issuer,
            created: true,
        })
    }

    /// Whether this call created the CA (it did not exist before).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Path of the CA certificate users must trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// Path of the CA private key.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(CA_KEY_FILE)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 fingerprint of the certificate as upper-case colon hex (`AB:CD:…`).
    pub fn fingerprint_sha256(&self) -> String {
        colon_hex(&Sha256::digest(self.cert_der.as_ref()))
    }

    /// Signs the two fresh leaves served by the listener.
    pub fn issue_serving_leaves(&self) -> Result<ServingLeaves, Error> {
        Ok(ServingLeaves {
            for_sni: self.issue_leaf_for(&SNI_LEAF_NAMES)?,
            for_address: self.issue_leaf_for(&ADDRESS_LEAF_NAMES)?,
        })
    }

    /// Signs a fresh leaf for the given DNS names or IP addresses. Names outside the CA's
    /// constraints are signed too, but no verifier will accept them (used by tests).
    pub fn issue_leaf_for(&self, names: &[&str]) -> Result<Leaf, Error> {
        let crypto = |source| Error::Crypto {
            dir: self.dir.clone(),
            source,
        };
        let key = KeyPair::generate().map_err(crypto)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(crypto)?;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(1);
        params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS) - Duration::minutes(2);
        params
            .distinguished_name
            .push(DnType::CommonName, "authtap localhost");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).map_err(crypto)?;
        let key_der = PrivatePkcs8KeyDer::from(key.serialize_der());
        Ok(Leaf {
            chain: vec![cert.der().clone(), self.cert_der.clone()],
            key: PrivateKeyDer::Pkcs8(key_der),
        })
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "authtap local CA (localhost only)");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "authtap");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 1], 32)),
            GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                128,
            )),
        ],
        excluded_subtrees: vec![],
    });
    params.subject_alt_names = Vec::<SanType>::new();
    params
}

/// Refuses a key file that group or others may read or write.
pub fn check_key_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Writes `bytes` to a temporary file created with `mode`, syncs it and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_error(&tmp))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Io { path: tmp, source });
    }
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Io { path, source }
}

pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests;
