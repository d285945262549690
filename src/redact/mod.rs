//! Redaction of traces before export: the one place where secrets are removed.
//!
//! Every exporter (HAR, Markdown, HTML) renders a trace that went through [`redact_records`]
//! first, so nothing written to disk bypasses this module. Secrets are found by *name*
//! (headers, cookies, query strings, form and JSON bodies, recursively; see [`names`]) and by
//! *pattern* (JWTs anywhere, `Bearer`/`Basic` credentials, `user:pass@` in URLs, provider
//! tokens such as `ghp_…` or `sk-ant-…`; see the `text` and `shapes` modules). Header names are
//! judged by pattern in both directions (`*key*`, `*token*`, `*secret*`, `*auth*`, …).
//!
//! Redaction fails closed (the `body` module): a body that is not clean UTF-8 is decoded
//! leniently and scanned, a binary body is replaced by a placeholder (type, size, SHA-256
//! prefix) unless [`Policy::keep_binary`], and base64 strings inside JSON are decoded and
//! replaced when they hold a secret. Nothing leaves in a form that was not scanned. Each secret value becomes `redacted:sha256:<8 hex>`, the first 4 bytes of
//! the SHA-256 of the exact (decoded) value, so an authorization code can still be followed
//! from the callback `Location` to the token request, and an access token from the token
//! response to the MCP `Authorization` header. JWTs keep their header and payload (`iss`,
//! `aud`, `exp` and `scope` are diagnostic); only the signature is replaced.
//!
//! Redaction runs in two passes: the first collects every value redacted by name or pattern,
//! the second redacts again and also replaces those values wherever else they appear (a code
//! echoed in an HTML page, a state quoted in a finding message). `WWW-Authenticate` is never
//! blanked; only token-like parts inside it are.

mod body;
mod ctx;
pub mod names;
mod shapes;
mod text;
mod value;

use ctx::Ctx;
pub use ctx::Policy;
pub use value::{MARKER_PREFIX, correlation_hash, hash8, hex, is_redacted, marker, redact_value};

use crate::model::{
    BodyCapture, Exchange, FlowFindings, Header, Headers, Mark, Record, RequestRecord,
    ResponseRecord, SessionRecord,
};

impl Ctx<'_> {
    fn text(&mut self, s: &str) -> String {
        text::scrub(self, s, 0)
    }

    /// Scrubs text reached by decoding `b64_depth` layers of base64.
    pub(crate) fn text_at(&mut self, s: &str, b64_depth: u8) -> String {
        text::scrub(self, s, b64_depth)
    }

    fn header(&mut self, h: &Header) -> Header {
        let name = h.name.to_ascii_lowercase();
        let value = match name.as_str() {
            "authorization" | "proxy-authorization" => match h.value.trim().split_once(' ') {
                Some((scheme, cred)) if !cred.trim().is_empty() => {
                    format!("{scheme} {}", self.secret(cred.trim()))
                }
                _ => self.secret(h.value.trim()),
            },
            "cookie" => h
                .value
                .split(';')
                .map(|part| self.cookie_pair(part.trim()))
                .collect::<Vec<_>>()
                .join("; "),
            "set-cookie" => {
                let (pair, attrs) = h.value.split_once(';').unwrap_or((&h.value, ""));
                let pair = self.cookie_pair(pair.trim());
                if attrs.is_empty() {
                    pair
                } else {
                    format!("{pair};{}", self.text(attrs))
                }
            }
            n if names::is_secret_header(n) => self.secret(h.value.trim()),
            _ => self.text(&h.value),
        };
        Header {
            name: h.name.clone(),
            value,
        }
    }

    fn cookie_pair(&mut self, pair: &str) -> String {
        match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() => format!("{name}={}", self.secret(value)),
            _ => pair.to_string(),
        }
    }

    fn headers(&mut self, headers: &[Header]) -> Vec<Header> {
        headers.iter().map(|h| self.header(h)).collect()
    }

    /// A body in a form whose secrets were scanned (see the module docs): text scrubbed (a
    /// body that is one base64 blob holding a secret replaced whole), non-UTF-8 text decoded
    /// leniently and scrubbed, binary replaced by a placeholder unless the policy keeps it.
    fn body(&mut self, body: &BodyCapture, media_type: Option<&str>) -> BodyCapture {
        let mut out = BodyCapture {
            text: body
                .text
                .as_ref()
                .map(|t| body::base64_secret(self, t, 0).unwrap_or_else(|| self.text(t))),
            decode_error: body.decode_error.as_ref().map(|t| self.text(t)),
            ..body.clone()
        };
        let mut original = body.text.as_ref().map(|t| t.as_bytes().to_vec());
        if let Some(b64) = &body.base64 {
            let bytes = body::decode_base64(b64);
            match bytes.as_deref().and_then(body::lenient_text) {
                Some(text) if out.text.is_none() => {
                    out.text = Some(self.text(&text));
                    out.base64 = None;
                    out.lenient = true;
                    original = bytes;
                }
                _ if self.policy.keep_binary => {}
                _ => {
                    out.base64 = None;
                    out.text = Some(body::placeholder(media_type, bytes.as_deref()));
                    out.omitted = true;
                    return out;
                }
            }
        }
        // Text can still be binary (NULs, control bytes): not something a scanner can trust.
        // Judged on the scrubbed text, so a second pass decides the same (idempotence).
        if !self.policy.keep_binary
            && out
                .text
                .as_deref()
                .is_some_and(|t| body::lenient_text(t.as_bytes()).is_none())
        {
            out.text = Some(body::placeholder(media_type, original.as_deref()));
            out.lenient = false;
            out.omitted = true;
        }
        out
    }

    fn request(&mut self, r: &RequestRecord) -> RequestRecord {
        RequestRecord {
            method: r.method.clone(),
            url: self.text(&r.url),
            client_url: r.client_url.as_ref().map(|u| self.text(u)),
            http_version: r.http_version.clone(),
            headers: self.headers(&r.headers),
            body: r
                .body
                .as_ref()
                .map(|b| self.body(b, r.media_type().as_deref())),
        }
    }

    fn response(&mut self, r: &ResponseRecord) -> ResponseRecord {
        let sse_events = r
            .sse_events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.data = self.text(&e.data);
                e.id = e.id.as_ref().map(|i| self.text(i));
                e
            })
            .collect();
        ResponseRecord {
            status: r.status,
            http_version: r.http_version.clone(),
            headers: self.headers(&r.headers),
            body: r
                .body
                .as_ref()
                .map(|b| self.body(b, r.media_type().as_deref())),
            sse_events,
        }
    }

    fn findings(&mut self, findings: &[crate::model::Finding]) -> Vec<crate::model::Finding> {
        findings
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.message = self.text(&f.message);
                f.fix = self.text(&f.fix);
                f
            })
            .collect()
    }

    fn exchange(&mut self, x: &Exchange) -> Exchange {
        let mut out = x.clone();
        out.request = self.request(&x.request);
        out.response = x.response.as_ref().map(|r| self.response(r));
        if let Some(err) = out.error.as_mut() {
            err.message = self.text(&err.message);
        }
        for rw in &mut out.rewrites {
            rw.from = self.text(&rw.from);
            rw.to = self.text(&rw.to);
        }
        out.findings = self.findings(&x.findings);
        out
    }

    fn json(&mut self, v: &serde_json::Value, key: Option<&str>) -> serde_json::Value {
        use serde_json::Value;
        let secret_key = key.is_some_and(names::is_secret_param);
        match v {
            Value::String(s) if secret_key => Value::String(self.secret(s)),
            Value::String(s) => Value::String(self.text(s)),
            Value::Number(n) if key.is_some_and(names::redacts_numbers) => {
                Value::String(self.secret(&n.to_string()))
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.json(i, if secret_key { key } else { None }))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.json(v, Some(k))))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn record(&mut self, r: &Record) -> Record {
        match r {
            Record::Session(s) => Record::Session(SessionRecord {
                upstream: self.text(&s.upstream),
                listen_url: self.text(&s.listen_url),
                extra: match self.json(&serde_json::Value::Object(s.extra.clone()), None) {
                    serde_json::Value::Object(m) => m,
                    _ => s.extra.clone(),
                },
                ..s.clone()
            }),
            Record::Exchange(x) => Record::Exchange(Box::new(self.exchange(x))),
            Record::FlowFindings(f) => Record::FlowFindings(FlowFindings {
                findings: self.findings(&f.findings),
                narrative: f.narrative.as_ref().map(|n| self.text(n)),
                ..f.clone()
            }),
            Record::Mark(m) => Record::Mark(Mark {
                text: self.text(&m.text),
                ..m.clone()
            }),
            Record::Stats(s) => Record::Stats(s.clone()),
            // Addresses, SNI and alert names: nothing secret.
            Record::TlsHandshake(h) => Record::TlsHandshake(h.clone()),
            // Host, port and byte counts only: a blind tunnel has no content.
            Record::Tunnel(t) => Record::Tunnel(t.clone()),
        }
    }
}

/// Redacts a whole trace under the default [`Policy`] (two passes; see the module docs). Pure.
pub fn redact_records(records: &[Record]) -> Vec<Record> {
    redact_records_with(records, Policy::default())
}

/// Redacts a whole trace (two passes; see the module docs). Pure.
pub fn redact_records_with(records: &[Record], policy: Policy) -> Vec<Record> {
    let mut first = Ctx::with_policy(&[], policy);
    for r in records {
        let _ = first.record(r);
    }
    let mut known = first.seen;
    known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    known.dedup_by(|a, b| a.0 == b.0);
    let mut second = Ctx::with_policy(&known, policy);
    records.iter().map(|r| second.record(r)).collect()
}

#[cfg(test)]
mod tests;
