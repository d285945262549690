//! Turns a [`RawCapture`] into the record's [`BodyCapture`]: decompress, then UTF-8 or base64.
//!
//! Runs on the recorder, never on the data path. Only the copy is decoded; the client and the
//! upstream always get the bytes as they were. Decompression output is capped (a small
//! compressed body may expand enormously), and a body cut by the capture cap is decoded as
//! far as it goes.

use std::io::Read;

use base64::Engine as _;

use super::RawCapture;
use crate::model::BodyCapture;

/// Converts a capture to its record form. `content_encoding` is the header value, if any;
/// `max_decoded` bounds the decompressed size.
pub fn to_body_capture(
    raw: RawCapture,
    content_encoding: Option<&str>,
    max_decoded: usize,
) -> Option<BodyCapture> {
    if raw.wire_size == 0 && raw.bytes.is_empty() {
        return None;
    }
    let mut capture = BodyCapture {
        wire_size: raw.wire_size,
        truncated: raw.truncated,
        ..BodyCapture::default()
    };
    let encoding = content_encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity");
    let bytes = match encoding {
        None => raw.bytes,
        Some(enc) => match decompress(&enc, &raw.bytes, max_decoded, raw.truncated) {
            Ok((decoded, cut)) => {
                capture.decoded_from = Some(enc);
                capture.truncated |= cut;
                decoded
            }
            Err(message) => {
                capture.decode_error = Some(message);
                capture.base64 = Some(base64::engine::general_purpose::STANDARD.encode(&raw.bytes));
                return Some(capture);
            }
        },
    };
    match String::from_utf8(bytes) {
        Ok(text) => capture.text = Some(text),
        Err(err) => {
            let bytes = err.into_bytes();
            // A capture cut inside a multi-byte character is still text.
            match std::str::from_utf8(&bytes) {
                Err(e) if capture.truncated && e.error_len().is_none() => {
                    let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                    capture.text = Some(String::from_utf8_lossy(valid).into_owned());
                }
                _ => {
                    capture.base64 = Some(base64::engine::general_purpose::STANDARD.encode(&bytes))
                }
            }
        }
    }
    Some(capture)
}

/// Decompresses `bytes` (`gzip`, `deflate`, `br`); returns the output and whether it was cut (at `max` or because the
/// input was truncated).
pub fn decompress(
    encoding: &str,
    bytes: &[u8],
    max: usize,
    input_truncated: bool,
) -> Result<(Vec<u8>, bool), String> {
    let mut out = Vec::new();
    // Stacked encodings ("gzip, br") are rare; decode only the single-coding case.
    let reader: Box<dyn Read + '_> = match encoding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
        "deflate" => {
            // RFC 9110 deflate is zlib-wrapped; some servers send raw deflate.
            if looks_like_zlib(bytes) {
                Box::new(flate2::read::ZlibDecoder::new(bytes))
            } else {
                Box::new(flate2::read::DeflateDecoder::new(bytes))
            }
        }
        "br" => Box::new(brotli::Decompressor::new(bytes, 4096)),
        other => {
            return Err(format!(
                "content-encoding `{other}` is not decoded by authtap"
            ));
        }
    };
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    match reader.take(limit).read_to_end(&mut out) {
        Ok(_) => {
            let cut = out.len() > max;
            out.truncate(max);
            Ok((out, cut))
        }
        // A truncated capture ends mid-stream: keep what decoded so far.
        Err(_) if input_truncated && !out.is_empty() => Ok((out, true)),
        Err(err) => Err(format!("cannot decode {encoding} body: {err}")),
    }
}

fn looks_like_zlib(bytes: &[u8]) -> bool {
    match (bytes.first(), bytes.get(1)) {
        (Some(&cmf), Some(&flg)) => {
            cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn raw(bytes: &[u8]) -> RawCapture {
        RawCapture {
            bytes: bytes.to_vec(),
            wire_size: bytes.len() as u64,
            ..Default::default()
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn decodes_gzip_and_keeps_wire_size() {
        let body = gzip(br#"{"ok":true}"#);
        let cap = to_body_capture(raw(&body), Some("gzip"), 1024).unwrap();
        assert_eq!(cap.text.as_deref(), Some(r#"{"ok":true}"#));
        assert_eq!(cap.decoded_from.as_deref(), Some("gzip"));
        assert_eq!(cap.wire_size, body.len() as u64);
    }

    #[test]
    fn decodes_deflate_and_brotli() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zlib text").unwrap();
        let cap = to_body_capture(raw(&z.finish().unwrap()), Some("deflate"), 1024).unwrap();
        assert_eq!(cap.text.as_deref(), Some("zlib text"));

        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(b"brotli text").unwrap();
        }
        let cap = to_body_capture(raw(&br), Some("br"), 1024).unwrap();
        assert_eq!(cap.text.as_deref(), Some("brotli text"));
    }

    #[test]
    fn caps_decompression_bombs() {
        let body = gzip(&vec![b'a'; 100_000]);
        let cap = to_body_capture(raw(&body), Some("gzip"), 1000).unwrap();
        assert_eq!(cap.text.as_ref().unwrap().len(), 1000);
        assert!(cap.truncated);
    }

    #[test]
    fn non_utf8_goes_to_base64() {
        let cap = to_body_capture(raw(&[0xff, 0x00, 0xfe]), None, 1024).unwrap();
        assert_eq!(cap.base64.as_deref(), Some("/wD+"));
        assert!(cap.text.is_none());
    }

    #[test]
    fn undecodable_body_is_kept_raw_with_reason() {
        let cap = to_body_capture(raw(b"not gzip"), Some("gzip"), 1024).unwrap();
        assert!(cap.decode_error.is_some());
        assert!(cap.base64.is_some());
    }

    #[test]
    fn truncated_mid_character_is_still_text() {
        let mut r = raw("héllo".as_bytes());
        r.bytes.truncate(2);
        r.truncated = true;
        let cap = to_body_capture(r, None, 1024).unwrap();
        assert_eq!(cap.text.as_deref(), Some("h"));
    }

    #[test]
    fn empty_body_has_no_capture() {
        assert!(to_body_capture(RawCapture::default(), None, 1024).is_none());
    }
}
