//! Turns one exchange of the scripted client's transport into a trace record: the request as
//! sent, the response as received (all headers, before any browser filtering), the body and
//! SSE events, timings, or the transport error with its kind.

use std::time::{Duration, Instant};

use super::message::{HttpError, Partial, Reply, Req};
use crate::model::{
    BodyCapture, CaptureMode, ErrorKind, Exchange, ExchangeError, ExchangeId, Header,
    Outcome as TraceOutcome, RequestRecord, ResponseRecord, Timings,
};
use crate::parse::sse::ParsedEvent as SseEvent;

/// Builds the trace record of one exchange (request as sent, response as received).
pub(super) fn exchange_record(
    user_agent: &str,
    req: &Req,
    started_at: time::OffsetDateTime,
    started: Instant,
    result: &Result<Reply, HttpError>,
    partial: Option<Partial>,
) -> Exchange {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let version = match result {
        Ok(reply) => reply.version.clone(),
        Err(_) => partial
            .as_ref()
            .map_or_else(|| "HTTP/1.1".into(), |p| p.version.clone()),
    };
    let request = request_record(user_agent, req, version);
    let response = response_record(result, partial.as_ref());
    let (outcome, error) = outcome_and_error(result, partial.is_some());
    let first_byte = match result {
        Ok(reply) => reply.first_byte,
        Err(_) => partial.as_ref().map(|p| p.first_byte),
    };
    Exchange {
        id: ExchangeId(0),
        started_at,
        timings: Timings {
            request_end_ms: first_byte.map(ms),
            upstream_connect_ms: None,
            first_byte_ms: first_byte.map(ms),
            end_ms: Some(ms(started.elapsed())),
        },
        client_addr: None,
        request,
        response,
        outcome,
        error,
        rewrites: Vec::new(),
        phase: None,
        flow: None,
        findings: Vec::new(),
        ofids: Vec::new(),
        mode: CaptureMode::Client,
    }
}

/// The request as sent: the user agent, the request's headers, then its body's content type
/// and length.
fn request_record(user_agent: &str, req: &Req, http_version: String) -> RequestRecord {
    let mut headers = vec![Header::new("user-agent", user_agent)];
    headers.extend(
        req.headers
            .iter()
            .map(|(n, v)| Header::new(n.clone(), v.clone())),
    );
    if let Some((ct, bytes)) = &req.body {
        headers.push(Header::new("content-type", *ct));
        headers.push(Header::new("content-length", bytes.len().to_string()));
    }
    RequestRecord {
        method: req.method.to_string(),
        url: req.url.clone(),
        client_url: None,
        http_version,
        headers,
        body: req.body.as_ref().map(|(_, b)| capture(b, b.len() as u64)),
    }
}

/// The response as received: the whole reply, or what arrived before the transport failed
/// (`None` when nothing did).
fn response_record(
    result: &Result<Reply, HttpError>,
    partial: Option<&Partial>,
) -> Option<ResponseRecord> {
    match (result, partial) {
        (Ok(reply), _) => Some(ResponseRecord {
            status: reply.status,
            http_version: reply.version.clone(),
            headers: Header::lines(&reply.headers),
            body: (!reply.body.is_empty()).then(|| capture(&reply.body, reply.wire_size)),
            sse_events: trace_events(&reply.events),
        }),
        (Err(_), Some(p)) => Some(ResponseRecord {
            status: p.status,
            http_version: p.version.clone(),
            headers: Header::lines(&p.headers),
            body: (!p.body.is_empty()).then(|| capture(&p.body, p.body.len() as u64)),
            sse_events: trace_events(&p.events),
        }),
        (Err(_), None) => None,
    }
}

/// How the exchange ended and its transport error: a timeout after a partial response counts
/// as a cut stream.
fn outcome_and_error(
    result: &Result<Reply, HttpError>,
    has_partial: bool,
) -> (TraceOutcome, Option<ExchangeError>) {
    match result {
        Ok(_) => (TraceOutcome::Complete, None),
        Err(err) => {
            let outcome = if has_partial {
                TraceOutcome::UpstreamCut
            } else {
                TraceOutcome::UpstreamError
            };
            let kind = match err.kind() {
                ErrorKind::Timeout if has_partial => ErrorKind::UpstreamCut,
                kind => kind,
            };
            let error = ExchangeError {
                kind,
                message: err.to_string(),
            };
            (outcome, Some(error))
        }
    }
}

/// A captured body: text when it is UTF-8, base64 otherwise.
fn capture(bytes: &[u8], wire_size: u64) -> BodyCapture {
    use base64::Engine;
    let truncated = wire_size > bytes.len() as u64;
    match std::str::from_utf8(bytes) {
        Ok(text) => BodyCapture {
            wire_size,
            truncated,
            text: Some(text.to_string()),
            ..Default::default()
        },
        Err(_) => BodyCapture {
            wire_size,
            truncated,
            base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ..Default::default()
        },
    }
}

/// The SSE events of a reply as trace records.
fn trace_events(events: &[(u64, SseEvent)]) -> Vec<crate::model::SseEvent> {
    events
        .iter()
        .map(|(at, ev)| crate::model::SseEvent {
            at_ms: *at as f64,
            event: ev.event.clone(),
            id: ev.id.clone(),
            retry: ev.retry,
            data: ev.data.clone(),
        })
        .collect()
}
