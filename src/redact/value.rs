//! The redacted form of one value: `redacted:sha256:<8 hex>` markers, JWTs with only their
//! signature replaced, and the hashes that let a redacted flow still be followed.

use sha2::{Digest, Sha256};

/// Prefix of every redacted value.
pub const MARKER_PREFIX: &str = "redacted:sha256:";

/// Lower-case hex of bytes (sha2 0.11 digests have no `LowerHex`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The first 8 hex digits of the SHA-256 of `value`.
pub fn hash8(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    hex(&digest[..4])
}

/// `redacted:sha256:<8 hex>` for `value`.
pub fn marker(value: &str) -> String {
    format!("{MARKER_PREFIX}{}", hash8(value))
}

/// Whether a value is already redacted (a marker, or a JWT whose signature is a marker).
pub fn is_redacted(value: &str) -> bool {
    value.starts_with(MARKER_PREFIX) || value.contains(&format!(".{MARKER_PREFIX}"))
}

/// The 8-hex hash a value stands for: the hash inside a marker, else the hash of the value.
/// Lets exporters correlate values whether or not the trace was redacted.
pub fn correlation_hash(value: &str) -> String {
    match value.find(MARKER_PREFIX) {
        Some(pos) => value[pos + MARKER_PREFIX.len()..].chars().take(8).collect(),
        None => hash8(value),
    }
}

/// The redacted form of one secret value: a marker, or for a JWT its header and payload
/// followed by a marker of the whole token.
pub fn redact_value(value: &str) -> String {
    if value.is_empty() || is_redacted(value) {
        return value.to_string();
    }
    let parts: Vec<&str> = value.split('.').collect();
    let looks_jwt = parts.len() == 3
        && parts.iter().take(2).all(|p| p.starts_with("eyJ"))
        && parts.iter().all(|p| {
            p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        });
    match (looks_jwt, parts.as_slice()) {
        (true, [header, payload, _]) => format!("{header}.{payload}.{}", marker(value)),
        _ => marker(value),
    }
}
