//! The one pipeline every source feeds: records in → engine (flow state + rules) → sinks.
//!
//! A [`Session`] owns an [`Engine`] and the sinks the caller chose: the trace store
//! ([`TraceStore`], which only stores), the live view (any [`LiveSink`], usually
//! [`crate::live::LiveView`]) and, for callers that need the annotated records afterwards
//! (`check`'s report, `lint`, exports of a foreign HAR), an in-memory copy. Sources hand it
//! records — [`Session::exchange`], [`Session::mark`], [`Session::tls_handshake`],
//! [`Session::tunnel`] — and it runs the engine over each exchange, then pushes the exchange
//! (now with phase and findings) and any flow findings that became due to every sink, in order.
//! The engine does not know the sinks, and the sinks never call each other.
//!
//! Where the records come from decides how the session is driven:
//! - the proxies (reverse and forward mode) hand records to a [`Recorder`], which runs the
//!   session on its own thread behind a bounded channel that never blocks the data path
//!   (full channel: the entry is dropped and counted);
//! - `check`'s probe and `demo --direct` feed it from the built-in client's recording hook
//!   ([`feed_from_hook`]);
//! - `lint` and exports re-run the engine over a trace read back from disk with [`replay`].

mod hook;
mod recorder;
mod replay;

use std::path::Path;

use time::OffsetDateTime;

use crate::live::{LiveOptions, LiveSink, LiveView};
use crate::model::{
    Exchange, FlowFindings, Mark, Record, SessionRecord, TlsHandshakeFailure, TunnelRecord,
};
use crate::rules::Engine;
use crate::store::TraceStore;

pub use hook::{HookEntry, feed_from_hook};
pub use recorder::{Assemble, Error, Recorder, RecorderHandle, RecorderOptions, RecorderStats};
pub use replay::{Replayed, replay};

/// A step a source adds after the engine judged an exchange and before the sinks see it (a
/// fact only the source knows, such as `check`'s DNS answer).
pub type Annotate = Box<dyn FnMut(&mut Exchange, &Engine) + Send>;

/// What a finished session hands back.
#[derive(Debug, Default)]
pub struct Finished {
    /// Counts of the run (the store's when there is one).
    pub stats: RecorderStats,
    /// Every record the sinks saw, in order, when [`Session::keep_records`] asked for them.
    pub records: Vec<Record>,
}

/// The pipeline: engine plus sinks (see the module docs).
pub struct Session {
    engine: Engine,
    annotate: Option<Annotate>,
    store: Option<TraceStore>,
    live: Option<Box<dyn LiveSink>>,
    kept: Option<Vec<Record>>,
    exchanges: u64,
    findings: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("store", &self.store)
            .field("live", &self.live.is_some())
            .field("kept", &self.kept.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with no sinks yet.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            annotate: None,
            store: None,
            live: None,
            kept: None,
            exchanges: 0,
            findings: 0,
        }
    }

    /// The pipeline of a recording source (the proxies, `check`): a new trace store at `trace`
    /// whose first line is `record` (refused when the file exists), and the live view when
    /// `live` asks for one.
    pub fn recording(
        engine: Engine,
        trace: &Path,
        record: &SessionRecord,
        live: Option<LiveOptions>,
    ) -> Result<Self, crate::store::Error> {
        let session = Self::new(engine).with_store(TraceStore::create(trace, record)?);
        Ok(match live {
            Some(options) => session.with_live(Box::new(LiveView::new(options))),
            None => session,
        })
    }

    /// Stores every record in `store`.
    pub fn with_store(mut self, store: TraceStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Shows every record in `live` as it is handled.
    pub fn with_live(mut self, live: Box<dyn LiveSink>) -> Self {
        self.live = Some(live);
        self
    }

    /// Keeps a copy of every record for [`Finished::records`] (and [`Self::kept`]).
    pub fn keep_records(mut self) -> Self {
        self.kept = Some(Vec::new());
        self
    }

    /// Runs `annotate` on each exchange after the engine and before the sinks.
    pub fn with_annotate(mut self, annotate: Annotate) -> Self {
        self.annotate = Some(annotate);
        self
    }

    /// The engine (its flows, configuration and revision verdicts).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The records kept so far (empty unless [`Self::keep_records`] was asked for).
    pub fn kept(&self) -> &[Record] {
        self.kept.as_deref().unwrap_or_default()
    }

    /// An exchange: the engine observes it, then every sink gets it, then the flow findings
    /// that became due.
    pub fn exchange(&mut self, mut exchange: Exchange) {
        let due = self.engine.observe(&mut exchange);
        if let Some(annotate) = &mut self.annotate {
            annotate(&mut exchange, &self.engine);
        }
        if let Some(live) = &mut self.live {
            live.exchange(&exchange);
        }
        self.exchanges += 1;
        self.findings += exchange.findings.len() as u64;
        self.push(Record::Exchange(Box::new(exchange)));
        self.flow_findings(due);
    }

    /// A user mark.
    pub fn mark(&mut self, mark: Mark) {
        if let Some(live) = &mut self.live {
            live.mark(&mark);
        }
        self.push(Record::Mark(mark));
    }

    /// A client that failed the TLS handshake (no request got through).
    pub fn tls_handshake(&mut self, failure: TlsHandshakeFailure) {
        if let Some(live) = &mut self.live {
            live.tls_handshake(&failure);
        }
        self.push(Record::TlsHandshake(failure));
    }

    /// A forward-mode connection passed through blind.
    pub fn tunnel(&mut self, tunnel: TunnelRecord) {
        if let Some(live) = &mut self.live {
            live.tunnel(&tunnel);
        }
        self.engine.note_tunnel(&tunnel);
        self.push(Record::Tunnel(tunnel));
    }

    /// Time passed: flow findings whose window closed by `now`.
    pub fn tick(&mut self, now: OffsetDateTime) {
        let due = self.engine.tick(now);
        self.flow_findings(due);
    }

    /// `dropped` entries (in total) never reached the session: the store puts the loss on record.
    pub fn note_dropped(&mut self, dropped: u64) {
        if let Some(store) = &mut self.store {
            store.note_dropped(dropped);
        }
    }

    /// The end of a batch: buffered lines go out before the caller waits for more.
    pub fn flush(&mut self) {
        if let Some(store) = &mut self.store {
            store.flush();
        }
    }

    /// Ends the run at `end`: the engine's final pass, the live summary, the store's stats
    /// line (with `dropped` entries that never arrived).
    pub fn finish(mut self, end: OffsetDateTime, dropped: u64) -> Finished {
        let due = self.engine.finish(end);
        self.flow_findings(due);
        self.flush();
        if let Some(live) = &mut self.live {
            live.finish();
        }
        let stored = self.store.map(|store| store.finish(dropped));
        Finished {
            stats: RecorderStats {
                exchanges: stored.map_or(self.exchanges, |s| s.exchanges),
                dropped,
                write_errors: stored.map_or(0, |s| s.write_errors),
                lost_exchanges: stored.map_or(0, |s| s.lost_exchanges),
                findings: self.findings,
            },
            records: self.kept.unwrap_or_default(),
        }
    }

    fn flow_findings(&mut self, due: Vec<FlowFindings>) {
        for ff in due {
            if ff.findings.is_empty() && ff.narrative.is_none() {
                continue;
            }
            if let Some(live) = &mut self.live {
                live.flow_findings(&ff);
            }
            self.findings += ff.findings.len() as u64;
            self.push(Record::FlowFindings(ff));
        }
    }

    fn push(&mut self, record: Record) {
        if let Some(store) = &mut self.store {
            store.append(&record);
        }
        if let Some(kept) = &mut self.kept {
            kept.push(record);
        }
    }
}

#[cfg(test)]
mod tests;
