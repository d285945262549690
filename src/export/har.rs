//! HAR 1.2 export (`to_har`), pure: every required field, entries in start order, timings that
//! add up to `time`, decoded bodies in `content.text` (base64 with `encoding` for binary),
//! `postData.params` for forms, SSE as raw text plus `_eventSourceMessages`, failed exchanges
//! as status 0 with `_error`. authtap's own data sits in `_authtap` objects (per entry and in
//! `log`), as the spec asks for custom fields, plus a readable `comment` where there are
//! findings.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::model::Finding;
use crate::model::{
    BodyCapture, Exchange, Header, Headers, Outcome, ResponseRecord, SCHEMA_VERSION,
};

use super::facts::{correlation, outcome_label, timestamp};
use super::options::ExportOptions;
use super::trace::Trace;

/// The `log.comment` of a redacted export.
pub const REDACTED_COMMENT: &str = "Redacted by authtap: tokens, codes, verifiers, secrets, cookies \
     and passwords are replaced by redacted:sha256:<first 8 hex of the SHA-256 of the value>, so \
     equal values still match across requests; JWTs keep header and payload.";

/// The `log.comment` of an unredacted export.
pub const UNREDACTED_COMMENT: &str = "NOT REDACTED (exported with --no-redact): this file contains live credentials. Do not share it.";

/// Builds the HAR document for a trace.
pub fn to_har(trace: &Trace, opts: &ExportOptions) -> Value {
    let _ = opts;
    let entries: Vec<Value> = trace.exchanges.iter().map(entry).collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "authtap", "version": env!("CARGO_PKG_VERSION")},
            "pages": [],
            "entries": entries,
            "comment": if trace.redacted { REDACTED_COMMENT } else { UNREDACTED_COMMENT },
            "_authtap": log_extension(trace),
        }
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// HAR timings from the recorded millisecond offsets, and `time` as their sum.
fn timings(x: &Exchange) -> (Value, f64) {
    let t = &x.timings;
    let nonneg = |v: f64| round3(v.max(0.0));
    let connect = t.upstream_connect_ms.map(nonneg);
    let request_end = t.request_end_ms.or(t.upstream_connect_ms).unwrap_or(0.0);
    let send = nonneg(request_end - t.upstream_connect_ms.unwrap_or(0.0).min(request_end));
    let last_event = x
        .response
        .as_ref()
        .and_then(|r| r.sse_events.last())
        .map(|e| e.at_ms);
    let end = t.end_ms.or(last_event);
    let (wait, receive) = match t.first_byte_ms {
        Some(fb) => (nonneg(fb - request_end), nonneg(end.unwrap_or(fb) - fb)),
        None => (nonneg(end.unwrap_or(request_end) - request_end), 0.0),
    };
    let time = round3(connect.unwrap_or(0.0) + send + wait + receive);
    let value = json!({
        "blocked": -1,
        "dns": -1,
        "connect": connect.map_or(json!(-1), |c| json!(c)),
        "ssl": -1,
        "send": send,
        "wait": wait,
        "receive": receive,
    });
    (value, time)
}

fn name_values(headers: &[Header]) -> Vec<Value> {
    headers
        .iter()
        .map(|h| json!({"name": h.name, "value": h.value}))
        .collect()
}

fn request_cookies(x: &Exchange) -> Vec<Value> {
    x.request
        .header_all("cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(n, v)| json!({"name": n.trim(), "value": v.trim()}))
        .collect()
}

fn response_cookies(headers: &[Header]) -> Vec<Value> {
    let mut out = Vec::new();
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
    {
        let mut parts = h.value.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            continue;
        };
        let mut cookie = Map::new();
        cookie.insert("name".into(), json!(name.trim()));
        cookie.insert("value".into(), json!(value.trim()));
        for attr in parts {
            let (k, v) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
            match k.to_ascii_lowercase().as_str() {
                "path" => cookie.insert("path".into(), json!(v)),
                "domain" => cookie.insert("domain".into(), json!(v)),
                "expires" => cookie.insert("expires".into(), json!(v)),
                "httponly" => cookie.insert("httpOnly".into(), json!(true)),
                "secure" => cookie.insert("secure".into(), json!(true)),
                _ => None,
            };
        }
        out.push(Value::Object(cookie));
    }
    out
}

fn query_string(url: &str) -> Vec<Value> {
    let query = url
        .split('#')
        .next()
        .and_then(|u| u.split_once('?'))
        .map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

fn decoded_len(body: &BodyCapture) -> usize {
    match (&body.text, &body.base64) {
        (Some(t), _) => t.len(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_or(0, |v| v.len()),
        _ => 0,
    }
}

fn post_data(x: &Exchange) -> Option<Value> {
    let body = x.request.body.as_ref()?;
    let mime = x
        .request
        .header("content-type")
        .unwrap_or("application/octet-stream");
    let mut pd = Map::new();
    pd.insert("mimeType".into(), json!(mime));
    match (&body.text, &body.base64) {
        (Some(text), _) => {
            pd.insert("text".into(), json!(text));
            if x.request.media_type().as_deref() == Some("application/x-www-form-urlencoded") {
                let params: Vec<Value> = url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect();
                pd.insert("params".into(), json!(params));
            }
        }
        (None, Some(b64)) => {
            pd.insert("text".into(), json!(b64));
            pd.insert("_encoding".into(), json!("base64"));
        }
        _ => {
            pd.insert("text".into(), json!(""));
        }
    }
    let mut notes = Vec::new();
    if body.truncated {
        notes.push(format!("truncated capture of {} bytes", body.wire_size));
    }
    notes.extend(lenient_note(body));
    if !notes.is_empty() {
        pd.insert("comment".into(), json!(notes.join("; ")));
    }
    Some(Value::Object(pd))
}

fn content(x: &Exchange) -> Value {
    let Some(resp) = &x.response else {
        return json!({"size": 0, "mimeType": "x-unknown"});
    };
    let mime = resp.header("content-type").unwrap_or("x-unknown");
    let mut c = Map::new();
    let mut text = resp.body.as_ref().and_then(|b| b.text.clone());
    if text.is_none() && !resp.sse_events.is_empty() {
        text = Some(sse_text(&resp.sse_events));
    }
    let size = resp
        .body
        .as_ref()
        .map_or_else(|| text.as_ref().map_or(0, String::len), decoded_len);
    c.insert("size".into(), json!(size));
    if let Some(body) = &resp.body {
        if body.decoded_from.is_some() && !body.truncated && size as u64 > body.wire_size {
            c.insert("compression".into(), json!(size as u64 - body.wire_size));
        }
    }
    c.insert("mimeType".into(), json!(mime));
    match (text, resp.body.as_ref().and_then(|b| b.base64.clone())) {
        (Some(t), _) => {
            c.insert("text".into(), json!(t));
        }
        (None, Some(b)) => {
            c.insert("text".into(), json!(b));
            c.insert("encoding".into(), json!("base64"));
        }
        _ => {}
    }
    if let Some(body) = &resp.body {
        let mut notes = Vec::new();
        if body.truncated {
            notes.push(format!(
                "truncated capture; {} bytes on the wire",
                body.wire_size
            ));
        }
        notes.extend(lenient_note(body));
        if !notes.is_empty() {
            c.insert("comment".into(), json!(notes.join("; ")));
        }
    }
    Value::Object(c)
}

/// The note for a body redaction decoded leniently (not byte-exact).
fn lenient_note(body: &BodyCapture) -> Option<String> {
    body.lenient.then(|| {
        "not valid UTF-8: decoded leniently (other bytes as Latin-1) so it could be redacted"
            .to_string()
    })
}

fn sse_text(events: &[crate::model::SseEvent]) -> String {
    let mut out = String::new();
    for e in events {
        if let Some(ev) = &e.event {
            out.push_str(&format!("event: {ev}\n"));
        }
        if let Some(id) = &e.id {
            out.push_str(&format!("id: {id}\n"));
        }
        for line in e.data.split('\n') {
            out.push_str(&format!("data: {line}\n"));
        }
        out.push('\n');
    }
    out
}

fn status_text(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn response(x: &Exchange) -> Value {
    let Some(resp) = &x.response else {
        let error = x.error.as_ref().map_or_else(
            || format!("no response ({})", outcome_label(x.outcome)),
            |e| format!("{}: {}", e.kind, e.message),
        );
        return json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": content(x), "redirectURL": "", "headersSize": -1, "bodySize": -1,
            "_error": error,
        });
    };
    let mut r = json!({
        "status": resp.status,
        "statusText": status_text(resp.status),
        "httpVersion": resp.http_version,
        "cookies": response_cookies(&resp.headers),
        "headers": name_values(&resp.headers),
        "content": content(x),
        "redirectURL": resp.header("location").unwrap_or(""),
        "headersSize": -1,
        "bodySize": resp.body.as_ref().map_or(0, |b| b.wire_size),
    });
    if let (Some(e), Some(obj)) = (&x.error, r.as_object_mut()) {
        obj.insert("_error".into(), json!(format!("{}: {}", e.kind, e.message)));
    }
    r
}

/// One finding as it appears in `_authtap.findings`.
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "rule": f.rule,
        "severity": f.severity.as_str(),
        "phase": f.phase.as_str(),
        "who": f.who.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
        "breaks": f.breaks,
        "message": f.message,
        "fix": f.fix,
        "source": f.source,
        "exchange": f.exchange.map(|e| e.0),
        "flow": f.flow.map(|f| f.0),
    })
}

fn comment(x: &Exchange) -> Option<String> {
    let mut parts: Vec<String> = x
        .findings
        .iter()
        .map(|f| format!("[{}] {}: {} Fix: {}", f.severity, f.rule, f.message, f.fix))
        .collect();
    if x.outcome == Outcome::Incomplete {
        parts.push("Stream still open when the trace was exported: response incomplete.".into());
    } else if x.outcome != Outcome::Complete {
        parts.push(format!(
            "Exchange ended abnormally: {}.",
            outcome_label(x.outcome)
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" | "))
}

/// The HAR entry of one exchange, with its `_authtap` extension, findings as the comment and
/// SSE events as `_eventSourceMessages`.
fn entry(x: &Exchange) -> Value {
    let (timings, time) = timings(x);
    let mut e = json!({
        "startedDateTime": timestamp(x.started_at),
        "time": time,
        "request": request(x),
        "response": response(x),
        "cache": {},
        "timings": timings,
        "_authtap": entry_extension(x),
    });
    let Some(obj) = e.as_object_mut() else {
        return e;
    };
    if let Some(c) = comment(x) {
        obj.insert("comment".into(), json!(c));
    }
    if let Some(resp) = x.response.as_ref().filter(|r| !r.sse_events.is_empty()) {
        obj.insert("_resourceType".into(), json!("eventsource"));
        obj.insert(
            "_eventSourceMessages".into(),
            json!(event_source_messages(x, resp)),
        );
    }
    e
}

/// The HAR request of an exchange, with `postData` when it has a body.
fn request(x: &Exchange) -> Value {
    let mut request = json!({
        "method": x.request.method,
        "url": x.request.url,
        "httpVersion": x.request.http_version,
        "cookies": request_cookies(x),
        "headers": name_values(&x.request.headers),
        "queryString": query_string(&x.request.url),
        "headersSize": -1,
        "bodySize": x.request.body.as_ref().map_or(0, |b| b.wire_size),
    });
    if let (Some(pd), Some(obj)) = (post_data(x), request.as_object_mut()) {
        obj.insert("postData".into(), pd);
    }
    request
}

/// The entry's `_authtap` object: id, capture mode, phase, flow, findings, correlation,
/// rewrites, `ofid_` references, outcome, error, client URL and address, timings.
fn entry_extension(x: &Exchange) -> Value {
    let mut ext = Map::new();
    ext.insert("id".into(), json!(x.id.0));
    ext.insert("capture_mode".into(), json!(x.mode.as_str()));
    ext.insert("phase".into(), json!(x.phase.map(|p| p.as_str())));
    ext.insert("flow".into(), json!(x.flow.map(|f| f.0)));
    ext.insert(
        "findings".into(),
        json!(x.findings.iter().map(finding_json).collect::<Vec<_>>()),
    );
    ext.insert("correlation".into(), json!(correlation(x)));
    ext.insert(
        "rewrites".into(),
        serde_json::to_value(&x.rewrites).unwrap_or(Value::Null),
    );
    ext.insert("ofid".into(), json!(super::trace::ofids_in_exchange(x)));
    ext.insert(
        "outcome".into(),
        serde_json::to_value(x.outcome).unwrap_or(Value::Null),
    );
    if x.outcome == Outcome::Incomplete {
        ext.insert("incomplete".into(), json!(true));
    }
    if let Some(e) = &x.error {
        ext.insert(
            "error".into(),
            json!({"kind": e.kind, "message": e.message}),
        );
    }
    if let Some(u) = &x.request.client_url {
        ext.insert("client_url".into(), json!(u));
    }
    if let Some(a) = &x.client_addr {
        ext.insert("client_addr".into(), json!(a));
    }
    ext.insert(
        "timings_ms".into(),
        serde_json::to_value(&x.timings).unwrap_or(Value::Null),
    );
    Value::Object(ext)
}

/// The response's SSE events as Chrome DevTools' `_eventSourceMessages` (absolute times).
fn event_source_messages(x: &Exchange, resp: &ResponseRecord) -> Vec<Value> {
    let start = x.started_at.unix_timestamp_nanos() as f64 / 1e9;
    resp.sse_events
        .iter()
        .map(|ev| {
            json!({
                "time": round3(start + ev.at_ms / 1000.0),
                "event": ev.event.clone().unwrap_or_else(|| "message".into()),
                "id": ev.id.clone().unwrap_or_default(),
                "data": ev.data,
            })
        })
        .collect()
}

fn log_extension(trace: &Trace) -> Value {
    let facts = super::facts::issue_facts(trace);
    let mut flows: Vec<Value> = Vec::new();
    let mut flow_ids: Vec<u64> = trace
        .exchanges
        .iter()
        .filter_map(|x| x.flow.map(|f| f.0))
        .collect();
    flow_ids.extend(
        trace
            .flow_findings
            .iter()
            .filter_map(|f| f.flow.map(|f| f.0)),
    );
    flow_ids.sort_unstable();
    flow_ids.dedup();
    for id in flow_ids
        .iter()
        .copied()
        .map(Some)
        .chain(std::iter::once(None))
    {
        let exchanges: Vec<u64> = trace
            .exchanges
            .iter()
            .filter(|x| x.flow.map(|f| f.0) == id)
            .map(|x| x.id.0)
            .collect();
        let ff: Vec<_> = trace
            .flow_findings
            .iter()
            .filter(|f| f.flow.map(|f| f.0) == id)
            .collect();
        if id.is_none() && ff.is_empty() {
            continue;
        }
        flows.push(json!({
            "flow": id,
            "exchanges": exchanges,
            "narratives": ff.iter().filter_map(|f| f.narrative.clone()).collect::<Vec<_>>(),
            "findings": ff.iter().flat_map(|f| f.findings.iter()).map(finding_json).collect::<Vec<_>>(),
        }));
    }
    json!({
        "schema": SCHEMA_VERSION,
        "authtap_version": env!("CARGO_PKG_VERSION"),
        "session": trace.session,
        "redaction": {
            "enabled": trace.redacted,
            "policy": if trace.redacted { REDACTED_COMMENT } else { UNREDACTED_COMMENT },
        },
        "summary": {
            "server_url": facts.server_url,
            "failed_at": facts.failed_at,
            "transport": facts.transport,
            "registration": facts.registration,
            "unauthenticated_mcp": facts.unauthenticated_mcp,
            "client": facts.client,
        },
        "ofids": trace.ofids.iter().map(|o| json!({
            "id": o.id,
            "at": o.at.map(timestamp),
            "origins": o.origins,
            "exchanges_before": o.exchanges.iter().map(|e| e.0).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "flows": flows,
        "marks": trace.marks.iter().map(|m| json!({"at": timestamp(m.at), "text": m.text, "ofids": m.ofids})).collect::<Vec<_>>(),
        // Clients that never got past the TLS handshake (no entry exists for them).
        "tls_handshakes": trace.tls_failures,
        // Forward mode: connections passed through blind (host, port, bytes; no content).
        "capture_mode": trace.session.as_ref().map(|s| s.mode).unwrap_or_default(),
        "tunnels": trace.tunnels,
        "stats": trace.stats,
    })
}
