//! The recorder: a [`Session`] on its own thread, off the proxy's data path.
//!
//! Producers (the reverse and forward proxy's forwarder, listener and tunnels) hand it work
//! through a bounded channel with [`RecorderHandle::submit`] and friends, which never block:
//! when the channel is full the entry is dropped and counted. For each exchange the recorder
//! assembles the record ([`Assemble`]: decompression and the like happen here, not on the data
//! path) and hands it to the session (engine, then sinks). The recorder lingers a moment after
//! the first entry wakes it, then handles whatever is queued as one batch, and flushes the
//! session (one `write` to the trace) before it waits again. Every second it lets the engine
//! close time windows and puts new drops on record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use time::OffsetDateTime;

use super::Session;
use crate::model::{Exchange, Mark, TlsHandshakeFailure, TunnelRecord, find_ofids};

/// Default capacity of the recorder channel (exchanges waiting to be handled).
pub const DEFAULT_CAPACITY: usize = 4096;
/// How long the recorder lets a batch gather after the first entry wakes it. While it lingers
/// it is not parked on the channel, so producers queue without a wake-up system call and the
/// recorder runs once per batch rather than once per request (fewer context switches on the
/// data path's cores). Every line is still written complete, so the `kill -9` guarantee holds;
/// only the window of not-yet-written records grows by this much.
const LINGER: Duration = Duration::from_millis(2);

/// Recorder counters returned at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Exchange records written.
    pub exchanges: u64,
    /// Entries dropped because the recorder fell behind.
    pub dropped: u64,
    /// Records lost to write errors.
    pub write_errors: u64,
    /// Exchange records among them.
    pub lost_exchanges: u64,
    /// Findings written (per-exchange and flow-level).
    pub findings: u64,
}

/// Why the recorder could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The recorder thread could not be started or died.
    #[error("recorder thread failed")]
    Thread,
}

/// Work that becomes an [`Exchange`] record on the recorder thread.
pub trait Assemble: Send {
    /// Builds the record (may decompress captured bodies).
    fn assemble(self: Box<Self>) -> Exchange;
}

impl Assemble for Exchange {
    fn assemble(self: Box<Self>) -> Exchange {
        *self
    }
}

enum Entry {
    Exchange(Box<dyn Assemble>),
    Mark(Mark),
    TlsHandshake(TlsHandshakeFailure),
    Tunnel(TunnelRecord),
    Finish,
}

/// Options of [`Recorder::start`].
#[derive(Debug, Clone, Copy)]
pub struct RecorderOptions {
    /// Channel capacity.
    pub capacity: usize,
    /// How often the engine's time windows are checked.
    pub tick: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            tick: Duration::from_secs(1),
        }
    }
}

/// A cheap, cloneable way to hand entries to the recorder without ever blocking.
#[derive(Clone)]
pub struct RecorderHandle {
    tx: SyncSender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderHandle").finish_non_exhaustive()
    }
}

impl RecorderHandle {
    /// Queues an exchange; drops (and counts) it when the recorder is behind or gone.
    pub fn submit(&self, exchange: Box<dyn Assemble>) {
        self.send(Entry::Exchange(exchange));
    }

    /// Queues a user mark.
    pub fn mark(&self, text: &str) {
        let mark = Mark {
            at: OffsetDateTime::now_utc(),
            text: text.to_string(),
            ofids: find_ofids(text),
        };
        self.send(Entry::Mark(mark));
    }

    /// Queues a failed TLS handshake (a client that never got a request through).
    pub fn tls_handshake_failed(&self, failure: TlsHandshakeFailure) {
        self.send(Entry::TlsHandshake(failure));
    }

    /// Queues a blind forward-mode tunnel record.
    pub fn tunnel(&self, tunnel: TunnelRecord) {
        self.send(Entry::Tunnel(tunnel));
    }

    /// Entries dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn send(&self, entry: Entry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The running recorder.
#[derive(Debug)]
pub struct Recorder {
    handle: RecorderHandle,
    thread: std::thread::JoinHandle<RecorderStats>,
}

impl Recorder {
    /// Starts the thread that runs `session` over whatever the handles send.
    pub fn start(session: Session, options: RecorderOptions) -> Result<Self, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(options.capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            session,
            dropped: dropped.clone(),
            reported_dropped: 0,
        };
        let tick = options.tick;
        let thread = std::thread::Builder::new()
            .name("authtap-recorder".into())
            .spawn(move || worker.run(&rx, tick))
            .map_err(|_| Error::Thread)?;
        Ok(Self {
            handle: RecorderHandle { tx, dropped },
            thread,
        })
    }

    /// A handle for producers.
    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Handles everything queued so far, finishes the session (engine's final pass, live
    /// summary, stats line) and returns the counts. Entries submitted after this call are
    /// dropped and counted.
    pub fn finish(self) -> Result<RecorderStats, Error> {
        // Blocking send: the finish marker must not be dropped.
        let _ = self.handle.tx.send(Entry::Finish);
        self.thread.join().map_err(|_| Error::Thread)
    }
}

struct Worker {
    session: Session,
    dropped: Arc<AtomicU64>,
    reported_dropped: u64,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Entry>, tick: Duration) -> RecorderStats {
        let mut next_tick = std::time::Instant::now() + tick;
        let mut finished = false;
        while !finished {
            let wait = next_tick.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(wait) {
                Ok(entry) => {
                    finished = !self.entry(entry);
                    if !finished {
                        std::thread::sleep(LINGER);
                    }
                    // Everything else already queued joins this batch.
                    while !finished && let Ok(entry) = rx.try_recv() {
                        finished = !self.entry(entry);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => finished = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if std::time::Instant::now() >= next_tick {
                next_tick = std::time::Instant::now() + tick;
                self.session.tick(OffsetDateTime::now_utc());
                self.report_loss();
            }
            // Out before the recorder blocks again.
            self.session.flush();
        }
        // Drain what is already queued (entries that raced the finish marker).
        while let Ok(entry) = rx.try_recv() {
            self.entry(entry);
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        self.session
            .finish(OffsetDateTime::now_utc(), dropped)
            .stats
    }

    /// Handles one entry; `false` for the finish marker.
    fn entry(&mut self, entry: Entry) -> bool {
        match entry {
            Entry::Exchange(work) => self.session.exchange(work.assemble()),
            Entry::Mark(mark) => self.session.mark(mark),
            Entry::TlsHandshake(failure) => self.session.tls_handshake(failure),
            Entry::Tunnel(tunnel) => self.session.tunnel(tunnel),
            Entry::Finish => return false,
        }
        true
    }

    /// Puts new loss on record (a stats line) whenever it happened since the last check.
    fn report_loss(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_dropped {
            self.reported_dropped = dropped;
            tracing::warn!(
                dropped,
                "recorder fell behind; exchanges were forwarded but not recorded"
            );
            self.session.note_dropped(dropped);
        }
    }
}
