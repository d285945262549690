//! Converts a HAR file (Chrome DevTools, mitmproxy, Charles, or an authtap export) into trace
//! records, so `authtap lint` and `authtap export` work on traffic captured elsewhere.
//!
//! Bodies: `content.text` (base64 when `encoding` says so) and `postData` (`text`, or `params`
//! re-encoded as a form). Timings become millisecond offsets. SSE comes from
//! `_eventSourceMessages` (authtap, CDP-style `eventName`/`eventId`) or is parsed from a
//! `text/event-stream` body. An authtap-made HAR round-trips: its `_authtap` objects restore
//! phases, flows, findings, rewrites, marks and the session.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::{
    BodyCapture, ErrorKind, Exchange, ExchangeError, ExchangeId, FlowFindings, FlowId, Header,
    Mark, Outcome, Record, RequestRecord, ResponseRecord, SCHEMA_VERSION, SessionRecord, SseEvent,
    Timings,
};

/// Why a HAR could not be converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON at all.
    #[error("neither an authtap JSONL trace nor JSON (HAR)")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but without `log.entries`.
    #[error("not a HAR file: no log.entries array")]
    NotHar,
    /// An entry lacks a required field.
    #[error("HAR entry {index}: {what}")]
    BadEntry {
        /// 0-based entry index.
        index: usize,
        /// What is wrong.
        what: String,
    },
}

/// The converted records, and whether authtap wrote the HAR.
#[derive(Debug, Clone)]
pub struct HarImport {
    /// Session first, then exchanges, flow findings, marks.
    pub records: Vec<Record>,
    /// `log._authtap` was present: phases and findings are restored, no need to re-run rules.
    pub authtap_made: bool,
}

/// Parses and converts HAR text.
pub fn from_har_str(text: &str) -> Result<HarImport, Error> {
    let value: Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(Error::NotJson)?;
    from_har(&value)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Converts a parsed HAR document.
pub fn from_har(har: &Value) -> Result<HarImport, Error> {
    let log = har.get("log").ok_or(Error::NotHar)?;
    let entries = log
        .get("entries")
        .and_then(Value::as_array)
        .ok_or(Error::NotHar)?;
    let ext = log.get("_authtap");
    let mut exchanges = Vec::with_capacity(entries.len());
    let mut previous = OffsetDateTime::UNIX_EPOCH;
    for (index, e) in entries.iter().enumerate() {
        let x = entry(index, e, previous)?;
        previous = x.started_at;
        exchanges.push(x);
    }
    let first = exchanges
        .iter()
        .map(|x| x.started_at)
        .min()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let session = ext
        .and_then(|a| a.get("session"))
        .and_then(|s| serde_json::from_value::<SessionRecord>(s.clone()).ok())
        .unwrap_or_else(|| imported_session(log, &exchanges, first));
    let mut records = vec![Record::Session(session)];
    let last = exchanges
        .iter()
        .map(|x| x.started_at)
        .max()
        .unwrap_or(first);
    records.extend(exchanges.into_iter().map(|x| Record::Exchange(Box::new(x))));
    if let Some(a) = ext {
        records.extend(flow_findings(a, last).map(Record::FlowFindings));
        records.extend(marks(a).map(Record::Mark));
    }
    Ok(HarImport {
        records,
        authtap_made: ext.is_some(),
    })
}

/// The session record of a HAR authtap did not write: its creator, the first exchange's
/// origin as upstream, and the first exchange's start.
fn imported_session(log: &Value, exchanges: &[Exchange], first: OffsetDateTime) -> SessionRecord {
    let creator = log.get("creator").cloned().unwrap_or(Value::Null);
    let mut extra = serde_json::Map::new();
    extra.insert("har_creator".into(), creator.clone());
    SessionRecord {
        schema: SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").into(),
        started_at: first,
        upstream: exchanges
            .first()
            .map_or_else(String::new, |x| origin(&x.request.url)),
        listen_url: String::new(),
        source: "har-import".into(),
        rewrite: false,
        mode: Default::default(),
        extra,
    }
}

/// The flow findings and narratives of `log._authtap.flows` (flows with neither are left
/// out), dated `at`.
fn flow_findings(authtap: &Value, at: OffsetDateTime) -> impl Iterator<Item = FlowFindings> {
    authtap
        .get("flows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(move |flow| {
            let findings: Vec<crate::model::Finding> = flow
                .get("findings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| serde_json::from_value(f.clone()).ok())
                .collect();
            let narrative = flow.get("narratives").and_then(Value::as_array).map(|n| {
                n.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if findings.is_empty() && narrative.as_deref().is_none_or(str::is_empty) {
                return None;
            }
            Some(FlowFindings {
                at,
                flow: flow.get("flow").and_then(Value::as_u64).map(FlowId),
                findings,
                narrative: narrative.filter(|n| !n.is_empty()),
            })
        })
}

/// The user marks of `log._authtap.marks` (malformed ones are skipped).
fn marks(authtap: &Value) -> impl Iterator<Item = Mark> {
    authtap
        .get("marks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| serde_json::from_value::<Mark>(m.clone()).ok())
}

fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

fn headers(v: &Value) -> Vec<Header> {
    v.get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|h| Header::new(str_of(h, "name"), str_of(h, "value")))
        .filter(|h| !h.name.starts_with(':'))
        .collect()
}

fn body_from_content(c: &Value, wire: Option<f64>) -> Option<BodyCapture> {
    let text = c.get("text").and_then(Value::as_str)?;
    let size = num(c, "size").unwrap_or(text.len() as f64);
    let mut body = BodyCapture {
        wire_size: wire.filter(|w| *w >= 0.0).unwrap_or(size).max(0.0) as u64,
        ..Default::default()
    };
    if str_of(c, "encoding") == "base64" {
        use base64::Engine as _;
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => body.text = Some(t),
                Err(_) => body.base64 = Some(text.to_string()),
            },
            Err(e) => {
                body.base64 = Some(text.to_string());
                body.decode_error = Some(format!("invalid base64 in HAR: {e}"));
            }
        }
    } else {
        body.text = Some(text.to_string());
    }
    Some(body)
}

fn request_body(r: &Value) -> Option<BodyCapture> {
    let pd = r.get("postData")?;
    let wire = num(r, "bodySize");
    if str_of(pd, "_encoding") == "base64" {
        let mut c = pd.clone();
        if let Some(o) = c.as_object_mut() {
            o.insert("encoding".into(), Value::from("base64"));
        }
        return body_from_content(&c, wire);
    }
    if pd.get("text").and_then(Value::as_str).is_some() {
        return body_from_content(pd, wire);
    }
    let params = pd.get("params").and_then(Value::as_array)?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for p in params {
        form.append_pair(str_of(p, "name"), str_of(p, "value"));
    }
    let text = form.finish();
    Some(BodyCapture {
        wire_size: text.len() as u64,
        text: Some(text),
        ..Default::default()
    })
}

fn sse_events(e: &Value, resp: Option<&ResponseRecord>, start: OffsetDateTime) -> Vec<SseEvent> {
    if let Some(msgs) = e.get("_eventSourceMessages").and_then(Value::as_array) {
        let start_s = start.unix_timestamp_nanos() as f64 / 1e9;
        return msgs
            .iter()
            .map(|m| {
                let t = num(m, "time").unwrap_or(start_s);
                let at_ms = if t > 1e9 { (t - start_s) * 1000.0 } else { 0.0 };
                let pick = |a: &str, b: &str| {
                    m.get(a)
                        .or_else(|| m.get(b))
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                SseEvent {
                    at_ms: at_ms.max(0.0),
                    event: pick("event", "eventName"),
                    id: pick("id", "eventId"),
                    retry: None,
                    data: str_of(m, "data").to_string(),
                }
            })
            .collect();
    }
    let is_sse = resp
        .and_then(|r| r.headers.iter().find(|h| h.name == "content-type"))
        .is_some_and(|h| {
            h.value
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });
    let text = resp
        .and_then(|r| r.body.as_ref())
        .and_then(|b| b.text.as_deref());
    match (is_sse, text) {
        (true, Some(t)) => parse_sse(t),
        _ => Vec::new(),
    }
}

/// Parses an SSE stream text into events (no timing information).
fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    let normalized = text.replace("\r\n", "\n");
    for block in normalized.split("\n\n") {
        let mut ev = SseEvent::default();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => data.push(value),
                "event" => ev.event = Some(value.to_string()),
                "id" => ev.id = Some(value.to_string()),
                "retry" => ev.retry = value.parse().ok(),
                _ => {}
            }
        }
        if !data.is_empty() || ev.event.is_some() {
            ev.data = data.join("\n");
            out.push(ev);
        }
    }
    out
}

fn timings(e: &Value, ext: Option<&Value>) -> Timings {
    if let Some(t) = ext
        .and_then(|a| a.get("timings_ms"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
    {
        return t;
    }
    let t = e.get("timings").cloned().unwrap_or(Value::Null);
    let pos = |k: &str| num(&t, k).filter(|v| *v >= 0.0);
    let pre =
        pos("blocked").unwrap_or(0.0) + pos("dns").unwrap_or(0.0) + pos("connect").unwrap_or(0.0);
    let request_end = pre + pos("send").unwrap_or(0.0);
    let first_byte = request_end + pos("wait").unwrap_or(0.0);
    let end = first_byte + pos("receive").unwrap_or(0.0);
    Timings {
        upstream_connect_ms: pos("connect").map(|_| pre),
        request_end_ms: Some(request_end),
        first_byte_ms: Some(first_byte),
        end_ms: Some(end),
    }
}

fn entry(index: usize, e: &Value, previous: OffsetDateTime) -> Result<Exchange, Error> {
    let bad = |what: &str| Error::BadEntry {
        index,
        what: what.into(),
    };
    let req = e.get("request").ok_or_else(|| bad("no request"))?;
    let url = req
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no request.url"))?;
    let started_at = parse_time(str_of(e, "startedDateTime")).unwrap_or(previous);
    let ext = e.get("_authtap");
    let resp_v = e
        .get("response")
        .filter(|r| num(r, "status").is_some_and(|s| s > 0.0));
    let mut response = resp_v.map(|r| ResponseRecord {
        status: num(r, "status").unwrap_or(0.0) as u16,
        http_version: str_of(r, "httpVersion").to_string(),
        headers: headers(r),
        body: r
            .get("content")
            .and_then(|c| body_from_content(c, num(r, "bodySize"))),
        sse_events: Vec::new(),
    });
    let events = sse_events(e, response.as_ref(), started_at);
    if let Some(r) = response.as_mut() {
        r.sse_events = events;
    }
    let har_error = e
        .get("response")
        .map(|r| str_of(r, "_error"))
        .filter(|s| !s.is_empty());
    let outcome = ext
        .and_then(|a| a.get("outcome"))
        .and_then(|o| serde_json::from_value::<Outcome>(o.clone()).ok())
        .unwrap_or(if response.is_some() {
            Outcome::Complete
        } else {
            Outcome::UpstreamError
        });
    let error = ext
        .and_then(|a| a.get("error"))
        .and_then(|v| serde_json::from_value::<ExchangeError>(v.clone()).ok())
        .or_else(|| {
            har_error.map(|m| ExchangeError {
                kind: ErrorKind::Har,
                message: m.to_string(),
            })
        });
    let field = |k: &str| ext.and_then(|a| a.get(k)).cloned().unwrap_or(Value::Null);
    Ok(Exchange {
        id: ExchangeId(field("id").as_u64().unwrap_or(index as u64 + 1)),
        started_at,
        timings: timings(e, ext),
        client_addr: field("client_addr").as_str().map(str::to_string),
        request: RequestRecord {
            method: str_of(req, "method").to_string(),
            url: url.to_string(),
            client_url: field("client_url").as_str().map(str::to_string),
            http_version: str_of(req, "httpVersion").to_string(),
            headers: headers(req),
            body: request_body(req),
        },
        response,
        outcome,
        error,
        rewrites: serde_json::from_value(field("rewrites")).unwrap_or_default(),
        phase: serde_json::from_value(field("phase")).unwrap_or_default(),
        flow: field("flow").as_u64().map(FlowId),
        findings: serde_json::from_value(field("findings")).unwrap_or_default(),
        ofids: serde_json::from_value(field("ofid")).unwrap_or_default(),
        // An authtap export says which mode captured the entry; any other HAR: the default.
        mode: serde_json::from_value(field("capture_mode")).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_a_chrome_style_entry() {
        let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
        "entries": [{
            "startedDateTime": "2026-11-22T11:30:00.123Z", "time": 30.0,
            "request": {"method": "POST", "url": "https://as.example/token", "httpVersion": "h2",
                "headers": [{"name": ":authority", "value": "as.example"}, {"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 30,
                "postData": {"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "grant_type", "value": "authorization_code"}, {"name": "code", "value": "a b"}]}},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "h2", "headers": [{"name": "content-type", "value": "text/event-stream"}],
                "cookies": [], "content": {"size": 20, "mimeType": "text/event-stream", "text": "ZXZlbnQ6IG1lc3NhZ2UKZGF0YTogaGkKCg==", "encoding": "base64"},
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"blocked": 1, "dns": -1, "connect": 4, "ssl": 2, "send": 5, "wait": 10, "receive": 10}
        }]}});
        let out = from_har(&har).unwrap();
        assert!(!out.authtap_made);
        let Record::Exchange(x) = &out.records[1] else {
            panic!("no exchange")
        };
        assert_eq!(x.request.headers.len(), 1, "pseudo-headers dropped");
        assert_eq!(
            x.request.body.as_ref().unwrap().text.as_deref(),
            Some("grant_type=authorization_code&code=a+b")
        );
        let resp = x.response.as_ref().unwrap();
        assert_eq!(
            resp.body.as_ref().unwrap().text.as_deref(),
            Some("event: message\ndata: hi\n\n")
        );
        assert_eq!(resp.sse_events[0].data, "hi");
        assert_eq!(x.timings.first_byte_ms, Some(20.0));
        assert_eq!(x.timings.end_ms, Some(30.0));
    }

    #[test]
    fn failed_entry_has_no_response() {
        let har = serde_json::json!({"log": {"entries": [{"startedDateTime": "2026-11-22T11:30:00Z", "request": {"method": "GET", "url": "https://x/"},
            "response": {"status": 0, "_error": "net::ERR_CONNECTION_REFUSED"}}]}});
        let out = from_har(&har).unwrap();
        let Record::Exchange(x) = &out.records[1] else {
            panic!("no exchange")
        };
        assert!(x.response.is_none());
        assert_eq!(x.outcome, Outcome::UpstreamError);
        assert_eq!(
            x.error.as_ref().unwrap().message,
            "net::ERR_CONNECTION_REFUSED"
        );
    }

    #[test]
    fn rejects_non_har_json() {
        assert!(matches!(from_har_str("{\"a\":1}"), Err(Error::NotHar)));
        assert!(matches!(from_har_str("nope"), Err(Error::NotJson(_))));
    }
}
