//! Unit tests of the local CA: persistence, file modes, name constraints under rustls.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};

use super::*;

fn verify(ca: &LocalCa, leaf: &Leaf, name: &str) -> Result<(), rustls::Error> {
    verify_at(ca, leaf, name, UnixTime::now())
}

fn verify_at(ca: &LocalCa, leaf: &Leaf, name: &str, now: UnixTime) -> Result<(), rustls::Error> {
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    verifier
        .verify_server_cert(&leaf.chain[0], &leaf.chain[1..], &server_name, &[], now)
        .map(|_| ())
}

#[test]
fn creates_then_reloads_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    assert!(ca.was_created());
    let mode = std::fs::metadata(ca.key_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let again = LocalCa::load_or_create(dir.path()).unwrap();
    assert!(!again.was_created());
    assert_eq!(ca.fingerprint_sha256(), again.fingerprint_sha256());
    assert_eq!(ca.fingerprint_sha256().len(), 32 * 3 - 1);
    // A leaf signed by the reloaded CA verifies against the original certificate.
    let leaves = again.issue_serving_leaves().unwrap();
    verify(&ca, &leaves.for_sni, "localhost").unwrap();
}

#[test]
fn accepts_address_leaf_for_localhost_and_loopback_ips() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let leaves = ca.issue_serving_leaves().unwrap();
    for name in ["localhost", "127.0.0.1", "::1"] {
        verify(&ca, &leaves.for_address, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    verify(&ca, &leaves.for_sni, "localhost").unwrap();
    // The SNI leaf is for names only: an IP-literal client gets the other leaf.
    let err = verify(&ca, &leaves.for_sni, "127.0.0.1").unwrap_err();
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
}

/// The leaf's SANs as `DNS:…` / `IP:…` strings.
fn sans(leaf: &Leaf) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf.chain[0]).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::IPAddress(ip) => format!("IP:{}", hex(ip)),
            other => format!("{other:?}"),
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn sni_leaf_carries_no_ip_san() {
    // BoringSSL rejects an IP SAN under a CA with IP name constraints
    // (UNSUPPORTED_CONSTRAINT_TYPE); the leaf for SNI clients must name DNS:localhost only.
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let leaves = ca.issue_serving_leaves().unwrap();
    assert_eq!(sans(&leaves.for_sni), vec!["DNS:localhost".to_string()]);
    assert_eq!(
        sans(&leaves.for_address),
        vec![
            "DNS:localhost".to_string(),
            "IP:7f000001".to_string(),
            format!("IP:{}", hex(&std::net::Ipv6Addr::LOCALHOST.octets())),
        ]
    );
}

#[test]
fn ca_constrains_both_dns_names_and_ip_addresses() {
    // Constraints apply per name form (RFC 5280 §4.2.1.10): without an IP subtree a leaked key
    // could sign certificates for any IP address.
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
    let constraints = cert.name_constraints().unwrap().unwrap();
    let permitted: Vec<String> = constraints
        .value
        .permitted_subtrees
        .as_ref()
        .unwrap()
        .iter()
        .map(|subtree| match &subtree.base {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::IPAddress(ip) => format!("IP:{}", hex(ip)),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        permitted,
        vec![
            "DNS:localhost".to_string(),
            "IP:7f000001ffffffff".to_string(),
            format!(
                "IP:{}{}",
                hex(&std::net::Ipv6Addr::LOCALHOST.octets()),
                "ff".repeat(16)
            ),
        ]
    );
    assert!(constraints.value.excluded_subtrees.is_none());
}

#[test]
fn rejects_leaf_for_other_name_by_name_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let leaf = ca.issue_leaf_for(&["evil.example"]).unwrap();
    let err = verify(&ca, &leaf, "evil.example").unwrap_err();
    assert!(
        format!("{err:?}").contains("NameConstraintViolation"),
        "{err:?}"
    );
    let leaf = ca.issue_leaf_for(&["10.0.0.1"]).unwrap();
    let err = verify(&ca, &leaf, "10.0.0.1").unwrap_err();
    assert!(
        format!("{err:?}").contains("NameConstraintViolation"),
        "{err:?}"
    );
}

#[test]
fn leaf_validity_is_at_most_397_days() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let leaf = ca.issue_serving_leaves().unwrap().for_sni;
    let at = |days: i64| {
        let t = OffsetDateTime::now_utc() + Duration::days(days);
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.unix_timestamp() as u64))
    };
    verify_at(&ca, &leaf, "localhost", at(396)).unwrap();
    let err = verify_at(&ca, &leaf, "localhost", at(LEAF_VALIDITY_DAYS)).unwrap_err();
    assert!(format!("{err:?}").contains("Expired"), "{err:?}");
}

#[test]
fn rejects_group_readable_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    std::fs::set_permissions(ca.key_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = LocalCa::load_or_create(dir.path()).unwrap_err();
    assert!(
        matches!(err, Error::KeyPermissions { mode: 0o640, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"));
}

#[test]
fn rejects_half_present_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    std::fs::remove_file(ca.key_path()).unwrap();
    let err = LocalCa::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err:?}");
}

#[test]
fn formats_colon_hex() {
    assert_eq!(colon_hex(&[0xab, 0x01, 0xff]), "AB:01:FF");
}
