//! Exchange assembly: collects the halves of one exchange as they happen and hands the
//! finished exchange to the recorder exactly once, when the last part lets go of it.
//!
//! The forwarder, the request tap and the response tap each hold an `Arc<Assembly>`. Whoever
//! drops the last one (normally the response tap at the end of the body, or hyper dropping it
//! when the client goes away) triggers [`Drop`], which submits a `PendingExchange` without
//! blocking. Decoding of captured bodies happens later, on the recorder thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use time::OffsetDateTime;
use tokio::sync::Notify;

use super::failure::ClientFault;
use crate::model::{
    CaptureMode, ErrorKind, Exchange, ExchangeError, ExchangeId, Headers, Outcome, RequestRecord,
    ResponseRecord, Rewrite, Timings, find_ofids,
};
use crate::session::{Assemble, RecorderHandle};
use crate::tap::decode::to_body_capture;
use crate::tap::{BodyEnd, Side, TapResult, TapSink};

/// Counts exchanges in flight, so shutdown can wait for them to reach the recorder.
#[derive(Debug, Default)]
pub struct Tracker {
    live: AtomicUsize,
    closing: AtomicBool,
    idle: Notify,
}

impl Tracker {
    /// Exchanges not yet handed to the recorder.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// From now on, exchanges cut by their connection closing are `incomplete`, not `client_cut`.
    pub fn start_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Waits until no exchange is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Debug, Default)]
struct Partial {
    client_addr: Option<SocketAddr>,
    request: Option<RequestRecord>,
    request_tap: Option<TapResult>,
    response: Option<ResponseRecord>,
    response_tap: Option<TapResult>,
    timings: Timings,
    error: Option<(Outcome, ExchangeError)>,
    rewrites: Vec<Rewrite>,
}

/// One exchange being assembled.
#[derive(Debug)]
pub struct Assembly {
    id: ExchangeId,
    mode: CaptureMode,
    started_at: OffsetDateTime,
    start: Instant,
    max_capture: usize,
    partial: Mutex<Partial>,
    recorder: RecorderHandle,
    tracker: Arc<Tracker>,
}

impl Assembly {
    /// Starts assembling exchange `id`.
    pub fn new(
        id: ExchangeId,
        mode: CaptureMode,
        client_addr: SocketAddr,
        max_capture: usize,
        recorder: RecorderHandle,
        tracker: Arc<Tracker>,
    ) -> Self {
        tracker.live.fetch_add(1, Ordering::AcqRel);
        let partial = Partial {
            client_addr: Some(client_addr),
            ..Partial::default()
        };
        Self {
            id,
            mode,
            started_at: OffsetDateTime::now_utc(),
            start: Instant::now(),
            max_capture,
            partial: Mutex::new(partial),
            recorder,
            tracker,
        }
    }

    /// The exchange id.
    pub fn id(&self) -> ExchangeId {
        self.id
    }

    /// When the exchange started.
    pub fn start(&self) -> Instant {
        self.start
    }

    fn lock(&self) -> MutexGuard<'_, Partial> {
        self.partial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64() * 1000.0
    }

    /// Records the request head as sent upstream.
    pub fn set_request(&self, request: RequestRecord) {
        self.lock().request = Some(request);
    }

    /// Records the response head as the upstream sent it.
    pub fn set_response(&self, response: ResponseRecord) {
        let now = self.ms(Instant::now());
        let mut p = self.lock();
        p.timings.first_byte_ms = Some(now);
        p.response = Some(response);
    }

    /// Whether a response head has been recorded.
    pub fn has_response(&self) -> bool {
        self.lock().response.is_some()
    }

    /// The client's fault, when its request body already broke (malformed or abandoned).
    pub fn client_fault(&self) -> Option<ClientFault> {
        let p = self.lock();
        ClientFault::from_request_end(&p.request_tap.as_ref()?.end)
    }

    /// A connection to the upstream became ready.
    pub fn upstream_connected(&self) {
        let now = self.ms(Instant::now());
        self.lock().timings.upstream_connect_ms.get_or_insert(now);
    }

    /// Records a failure that replaced the response.
    pub fn fail(&self, outcome: Outcome, error: ExchangeError) {
        let now = self.ms(Instant::now());
        let mut p = self.lock();
        p.timings.end_ms = Some(now);
        p.error = Some((outcome, error));
    }

    /// Appends reverse-mode rewrites.
    pub fn add_rewrites(&self, rewrites: Vec<Rewrite>) {
        if !rewrites.is_empty() {
            self.lock().rewrites.extend(rewrites);
        }
    }
}

impl TapSink for Assembly {
    fn finished(&self, side: Side, result: TapResult) {
        let at = self.ms(result.at);
        let mut p = self.lock();
        match side {
            Side::Request => {
                if matches!(result.end, BodyEnd::Complete) {
                    p.timings.request_end_ms = Some(at);
                }
                p.request_tap = Some(result);
            }
            Side::Response => {
                p.timings.end_ms = Some(at);
                p.response_tap = Some(result);
            }
        }
    }
}

impl Drop for Assembly {
    fn drop(&mut self) {
        let partial = std::mem::take(&mut *self.lock());
        let closing = self.tracker.closing.load(Ordering::Acquire);
        let pending = PendingExchange {
            id: self.id,
            mode: self.mode,
            started_at: self.started_at,
            end_ms: self.ms(Instant::now()),
            max_capture: self.max_capture,
            closing,
            partial,
        };
        self.recorder.submit(Box::new(pending));
        if self.tracker.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.idle.notify_waiters();
        }
    }
}

/// A finished exchange whose bodies are still raw; [`Assemble`] decodes them.
#[derive(Debug)]
struct PendingExchange {
    id: ExchangeId,
    mode: CaptureMode,
    started_at: OffsetDateTime,
    end_ms: f64,
    max_capture: usize,
    closing: bool,
    partial: Partial,
}

impl Assemble for PendingExchange {
    fn assemble(self: Box<Self>) -> Exchange {
        let PendingExchange {
            id,
            mode,
            started_at,
            end_ms,
            max_capture,
            closing,
            partial,
        } = *self;
        let Partial {
            client_addr,
            request,
            request_tap,
            response,
            response_tap,
            mut timings,
            error,
            rewrites,
        } = partial;
        let mut request = request.unwrap_or_else(|| RequestRecord {
            method: String::new(),
            url: String::new(),
            client_url: None,
            http_version: String::new(),
            headers: vec![],
            body: None,
        });
        // `--max-capture` bounds the decoded copy too (a gzip bomb stays a small record).
        let max_decoded = max_capture;
        let (mut outcome, mut failure) = (Outcome::Complete, None);
        let mut client_fault = None;
        if let Some(tap) = request_tap {
            let encoding = request.header("content-encoding").map(str::to_string);
            client_fault = ClientFault::from_request_end(&tap.end);
            request.body = to_body_capture(tap.capture, encoding.as_deref(), max_decoded);
        }
        let response = response.map(|mut r| {
            if let Some(tap) = response_tap {
                let encoding = r.header("content-encoding").map(str::to_string);
                if let Some((o, e)) = response_end(&tap.end, closing) {
                    outcome = o;
                    failure = Some(e);
                }
                r.body = to_body_capture(tap.capture, encoding.as_deref(), max_decoded);
                r.sse_events = tap.sse_events;
            }
            r
        });
        if let Some((o, e)) = error {
            outcome = o;
            failure = Some(e);
        }
        // A broken request body is the cause of whatever the upstream did next.
        if let Some(fault) = client_fault {
            outcome = fault.outcome;
            failure = Some(fault.error);
        }
        timings.end_ms.get_or_insert(end_ms);
        let ofids = ofids_of(&request, response.as_ref());
        Exchange {
            id,
            started_at,
            timings,
            client_addr: client_addr.map(|a| a.to_string()),
            request,
            response,
            outcome,
            error: failure,
            rewrites,
            phase: None,
            flow: None,
            findings: vec![],
            ofids,
            mode,
        }
    }
}

/// How a response body's end changes the exchange's outcome: a cut or malformed upstream
/// body, a stream still open at shutdown, or a client that left first.
fn response_end(end: &BodyEnd, closing: bool) -> Option<(Outcome, ExchangeError)> {
    let (outcome, kind, message) = match end {
        BodyEnd::Complete => return None,
        BodyEnd::Failed(message) => (
            Outcome::UpstreamCut,
            ErrorKind::UpstreamCut,
            format!("the upstream broke off the response body: {message}"),
        ),
        BodyEnd::Malformed(message) => (
            Outcome::UpstreamCut,
            ErrorKind::UpstreamProtocol,
            format!("the upstream sent a malformed response body: {message}"),
        ),
        BodyEnd::Dropped if closing => (
            Outcome::Incomplete,
            ErrorKind::Incomplete,
            "still streaming when authtap shut down".into(),
        ),
        BodyEnd::Dropped => (
            Outcome::ClientCut,
            ErrorKind::ClientCut,
            "the client closed the connection before the response ended".into(),
        ),
    };
    Some((outcome, ExchangeError { kind, message }))
}

/// The `ofid_…` references in the request URL and the response headers and body.
fn ofids_of(request: &RequestRecord, response: Option<&ResponseRecord>) -> Vec<String> {
    let mut ofids = find_ofids(&request.url);
    if let Some(r) = response {
        for h in &r.headers {
            ofids.extend(find_ofids(&h.value));
        }
        if let Some(text) = r.body_text() {
            ofids.extend(find_ofids(text));
        }
    }
    ofids.dedup();
    ofids
}
