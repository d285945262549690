//! The views of an export a reader (or an attacker) could take, for the redaction canary test:
//! raw, HTML-unescaped, JSON string values, percent-decoded, and every base64-looking run
//! decoded every way that works (gunzipped when the bytes are gzip).

use std::io::Read;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| json_strings(i, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Every base64-looking run (12+ characters) decoded every way that works, gunzipped too.
fn base64_views(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/=-_".contains(c);
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 12) {
        let trimmed = run.trim_end_matches('=');
        for engine in [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            for candidate in [run, trimmed] {
                if let Ok(bytes) = engine.decode(candidate) {
                    if bytes.starts_with(&[0x1f, 0x8b]) {
                        let mut unzipped = Vec::new();
                        let _ = flate2::read::MultiGzDecoder::new(&bytes[..])
                            .read_to_end(&mut unzipped);
                        out.push(String::from_utf8_lossy(&unzipped).into_owned());
                    }
                    out.push(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
    }
    out
}

/// Every view of an export a reader (or an attacker) could take.
fn views(text: &str) -> Vec<String> {
    let mut base = vec![text.to_string(), html_unescape(text)];
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        json_strings(&v, &mut base);
    }
    let mut all = Vec::new();
    for b in base {
        let decoded = percent_decode(&b);
        all.extend(base64_views(&b));
        all.extend(base64_views(&decoded));
        all.push(decoded);
        all.push(b);
    }
    all
}

/// `(canary, format)` pairs found in the exports.
pub fn leaks(canaries: &[String], files: &[PathBuf]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let views = views(&text);
        for canary in canaries {
            // The tail catches a canary whose first characters were cut or redacted alone.
            let tail = &canary[6..];
            if views
                .iter()
                .any(|v| v.contains(canary.as_str()) || v.contains(tail))
            {
                found.push((canary.clone(), file.display().to_string()));
            }
        }
    }
    found
}
