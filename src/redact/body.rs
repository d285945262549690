//! Bodies that are not clean UTF-8, and base64 hidden inside text: redaction fails closed.
//!
//! A captured body is kept as `base64` when it is not valid UTF-8 (one Latin-1 byte is enough),
//! and base64 cannot be scanned. So before export such a body is either decoded leniently and
//! scanned like any text (valid UTF-8 runs kept, every other byte read as Latin-1, which keeps
//! every ASCII secret intact), or, when it looks binary (NUL or many control bytes), replaced
//! by a placeholder naming its type, size and a SHA-256 prefix, unless the user asked to keep
//! binary bodies (`--keep-binary`). A base64 payload that does not even decode is binary.
//!
//! Base64-looking strings inside text (a JSON field carrying an encoded blob) are decoded and
//! scanned too; when the decoded text holds a secret the whole string is replaced.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::ctx::Ctx;
use super::value::hex;

/// Bytes read leniently as text: valid UTF-8 runs as they are, other bytes as Latin-1.
/// `None` when the bytes look binary rather than text in some 8-bit encoding.
pub(crate) fn lenient_text(bytes: &[u8]) -> Option<String> {
    let controls = bytes
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c) || c == 0x7f)
        .count();
    if bytes.contains(&0) || controls * 20 > bytes.len() {
        return None;
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|&b| char::from(b)));
    }
    Some(out)
}

/// The placeholder that replaces a binary body in a redacted export.
pub(crate) fn placeholder(media_type: Option<&str>, bytes: Option<&[u8]>) -> String {
    let kind = media_type.unwrap_or("unknown type");
    match bytes {
        Some(bytes) => format!(
            "[binary body omitted by redaction: {kind}, {} bytes, sha256:{}; export with --keep-binary to include it]",
            bytes.len(),
            hex(&Sha256::digest(bytes)[..4])
        ),
        None => format!(
            "[binary body omitted by redaction: {kind}, undecodable base64; export with --keep-binary to include it]"
        ),
    }
}

/// Standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
}

/// Shortest string treated as a possible base64 payload.
const MIN_BASE64_LEN: usize = 16;

/// Whether a string could be a base64 payload worth decoding: long enough, only base64
/// characters, and not plain words (a digit, `+`, `/`, or upper and lower case mixed).
pub(crate) fn looks_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len() >= MIN_BASE64_LEN
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
        && (body
            .bytes()
            .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/'))
            || (body.bytes().any(|c| c.is_ascii_uppercase())
                && body.bytes().any(|c| c.is_ascii_lowercase())))
}

/// When `s` is base64 whose decoded text holds a secret (or a value already redacted
/// elsewhere), the replacement for the whole string.
pub(crate) fn base64_secret(ctx: &mut Ctx<'_>, s: &str, depth: u8) -> Option<String> {
    if depth >= 3 || !looks_base64(s) {
        return None;
    }
    let text = lenient_text(&decode_base64(s)?)?;
    let scrubbed = ctx.text_at(&text, depth + 1);
    (scrubbed != text).then(|| ctx.secret(s))
}

#[cfg(test)]
mod tests {
    use super::super::marker;
    use super::*;

    #[test]
    fn latin1_bytes_become_text_and_ascii_survives() {
        assert_eq!(
            lenient_text(b"code=abc&note=caf\xe9").as_deref(),
            Some("code=abc&note=caf\u{e9}")
        );
        let mut mixed = "d\u{e9}j\u{e0} ".as_bytes().to_vec();
        mixed.push(0xff);
        assert_eq!(
            lenient_text(&mixed).as_deref(),
            Some("d\u{e9}j\u{e0} \u{ff}")
        );
        assert_eq!(lenient_text(b"\x00\x01password=x"), None);
        assert_eq!(lenient_text(&[1, 2, 3, 4, b'a']), None);
    }

    #[test]
    fn placeholder_names_type_size_and_hash() {
        let p = placeholder(Some("application/octet-stream"), Some(b"abc"));
        assert!(
            p.contains("application/octet-stream, 3 bytes, sha256:ba7816bf"),
            "{p}"
        );
    }

    #[test]
    fn base64_shapes() {
        assert!(looks_base64("Y2xpZW50X3NlY3JldD1zM2NyM3Q="));
        assert!(!looks_base64("authorization_code"));
        assert!(!looks_base64("short1"));
        assert!(!looks_base64("has spaces in it 123"));
    }

    #[test]
    fn base64_holding_a_secret_is_replaced_whole() {
        use base64::engine::general_purpose::STANDARD;
        let blob = STANDARD.encode("client_secret=s3cr3t-value&x=1");
        let out = base64_secret(&mut Ctx::new(&[]), &blob, 0);
        assert_eq!(out, Some(marker(&blob)));
        let harmless = STANDARD.encode("hello there, nothing to see");
        assert_eq!(base64_secret(&mut Ctx::new(&[]), &harmless, 0), None);
    }
}
