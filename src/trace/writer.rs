//! The recorder: owns the JSONL trace file, runs the rule engine, writes one line per record.
//!
//! The recorder runs on its own thread, off the data path. Producers (the forwarder, the demo,
//! `check`) hand it work through a bounded channel with [`RecorderHandle::submit`], which never
//! blocks: when the channel is full the entry is dropped and counted. For each exchange the
//! recorder assembles the record ([`Assemble`]: decompression and the like happen here), runs
//! [`Engine::observe`], writes the exchange line and any flow-findings lines, and pushes each
//! record into the [`LiveSink`] it was given (the live view), if any, without knowing what that
//! prints. The recorder lingers a moment after the first entry wakes it, then
//! handles whatever is queued as one batch:
//! the complete lines are appended to one buffer that goes out in one `write` call followed by
//! a flush to the OS before the recorder waits again, so after a `kill -9` every complete line
//! parses, and under load there is one system call per batch rather than per record. Write
//! errors are counted, never fatal, and never leave a partial line for the next batch to be
//! appended to ([`sink::LineLog`]): once writing works again the recorder writes a stats line
//! saying how many exchanges were lost.
//! The file is created with mode 0600: it holds live credentials. When even the session line
//! cannot be written (a full disk at start) the file is removed again, so it does not block
//! the next run with the same path.

mod sink;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::live::LiveSink;
use crate::model::{
    Exchange, FlowFindings, Mark, Record, SessionRecord, Stats, TlsHandshakeFailure, TunnelRecord,
    find_ofids,
};
use crate::rules::Engine;

/// Default capacity of the recorder channel (exchanges waiting to be written).
pub const DEFAULT_CAPACITY: usize = 4096;
/// A batch is written out early once its buffer holds this many bytes.
const BATCH_BYTES: usize = 1024 * 1024;
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

/// Why the trace could not be created or finished.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Creating or writing the trace file failed.
    #[error("cannot write trace {path}")]
    Io {
        /// The trace path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
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
pub struct RecorderOptions {
    /// Where each record goes as it is handled (the live view); runs on the recorder thread.
    pub live: Option<Box<dyn LiveSink>>,
    /// Channel capacity.
    pub capacity: usize,
    /// How often [`Engine::tick`] runs.
    pub tick: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            live: None,
            capacity: DEFAULT_CAPACITY,
            tick: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for RecorderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderOptions")
            .field("live", &self.live.is_some())
            .field("capacity", &self.capacity)
            .field("tick", &self.tick)
            .finish()
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
    path: PathBuf,
}

impl Recorder {
    /// Creates the trace at `path` (mode 0600, parent directories as needed; an existing file
    /// is refused rather than overwritten), writes the session line and starts the thread.
    pub fn start(
        path: &Path,
        session: SessionRecord,
        engine: Engine,
        options: RecorderOptions,
    ) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = create_private(path).map_err(io)?;
        let started = Self::start_on(path, Box::new(file), session, engine, options);
        if started.is_err() {
            // Nothing useful is in it, and leaving it would make the next run refuse the path.
            let _ = std::fs::remove_file(path);
        }
        started
    }

    /// [`Self::start`] on an already created, empty sink.
    fn start_on(
        path: &Path,
        sink: Box<dyn sink::Sink>,
        session: SessionRecord,
        engine: Engine,
        options: RecorderOptions,
    ) -> Result<Self, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(options.capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let mut state = Writer {
            log: sink::LineLog::new(sink),
            path: path.to_path_buf(),
            engine,
            stats: RecorderStats::default(),
            dropped: dropped.clone(),
            reported_dropped: 0,
            live: options.live,
            failing: false,
            batch: Batch::default(),
        };
        state.write(&Record::Session(session));
        state.flush_batch();
        if state.stats.write_errors > 0 {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("cannot write the session line"),
            });
        }
        let tick = options.tick;
        let thread = std::thread::Builder::new()
            .name("authtap-recorder".into())
            .spawn(move || state.run(&rx, tick))
            .map_err(|_| Error::Thread)?;
        Ok(Self {
            handle: RecorderHandle { tx, dropped },
            thread,
            path: path.to_path_buf(),
        })
    }

    /// A handle for producers.
    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// The trace path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything queued so far, runs [`Engine::finish`], writes the stats line and
    /// closes the file. Entries submitted after this call are dropped and counted.
    pub fn finish(self) -> Result<RecorderStats, Error> {
        // Blocking send: the finish marker must not be dropped.
        let _ = self.handle.tx.send(Entry::Finish);
        self.thread.join().map_err(|_| Error::Thread)
    }
}

struct Writer {
    log: sink::LineLog,
    path: PathBuf,
    engine: Engine,
    stats: RecorderStats,
    dropped: Arc<AtomicU64>,
    reported_dropped: u64,
    live: Option<Box<dyn LiveSink>>,
    /// The last write failed; the next good one ends the outage with a stats line.
    failing: bool,
    batch: Batch,
}

/// Complete lines waiting for the batch's single `write`.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: u64,
    exchanges: u64,
}

impl Writer {
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
                        if self.batch.bytes.len() >= BATCH_BYTES {
                            self.flush_batch();
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => finished = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if std::time::Instant::now() >= next_tick {
                next_tick = std::time::Instant::now() + tick;
                let due = self.engine.tick(OffsetDateTime::now_utc());
                self.flow_findings(due);
                self.report_loss();
            }
            // Out before the recorder blocks again.
            self.flush_batch();
        }
        // Drain what is already queued (entries that raced the finish marker).
        while let Ok(entry) = rx.try_recv() {
            self.entry(entry);
        }
        let due = self.engine.finish(OffsetDateTime::now_utc());
        self.flow_findings(due);
        self.flush_batch();
        if let Some(live) = &mut self.live {
            live.finish();
        }
        self.stats.dropped = self.dropped.load(Ordering::Relaxed);
        let stats = self.stats_record();
        self.write(&stats);
        self.flush_batch();
        let _ = self.log.sync();
        self.stats
    }

    /// Handles one entry; `false` for the finish marker.
    fn entry(&mut self, entry: Entry) -> bool {
        match entry {
            Entry::Exchange(work) => self.exchange(work.assemble()),
            Entry::Mark(mark) => {
                if let Some(live) = &mut self.live {
                    live.mark(&mark);
                }
                self.write(&Record::Mark(mark));
            }
            Entry::TlsHandshake(failure) => {
                if let Some(live) = &mut self.live {
                    live.tls_handshake(&failure);
                }
                self.write(&Record::TlsHandshake(failure));
            }
            Entry::Tunnel(tunnel) => {
                if let Some(live) = &mut self.live {
                    live.tunnel(&tunnel);
                }
                self.engine.note_tunnel(&tunnel);
                self.write(&Record::Tunnel(tunnel));
            }
            Entry::Finish => return false,
        }
        true
    }

    fn exchange(&mut self, mut exchange: Exchange) {
        let due = self.engine.observe(&mut exchange);
        if let Some(live) = &mut self.live {
            live.exchange(&exchange);
        }
        self.stats.findings += exchange.findings.len() as u64;
        if self.write(&Record::Exchange(Box::new(exchange))) {
            self.batch.exchanges += 1;
        }
        self.flow_findings(due);
    }

    fn flow_findings(&mut self, due: Vec<FlowFindings>) {
        for ff in due {
            if ff.findings.is_empty() && ff.narrative.is_none() {
                continue;
            }
            if let Some(live) = &mut self.live {
                live.flow_findings(&ff);
            }
            self.stats.findings += ff.findings.len() as u64;
            self.write(&Record::FlowFindings(ff));
        }
    }

    /// Writes a stats line whenever new loss happened since the last one.
    fn report_loss(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_dropped {
            self.flush_batch();
            self.reported_dropped = dropped;
            self.stats.dropped = dropped;
            tracing::warn!(
                dropped,
                "recorder fell behind; exchanges were forwarded but not recorded"
            );
            let stats = self.stats_record();
            self.write(&stats);
        }
    }

    fn stats_record(&self) -> Record {
        Record::Stats(Stats {
            at: OffsetDateTime::now_utc(),
            exchanges: self.stats.exchanges,
            dropped: self.stats.dropped,
            write_errors: self.stats.write_errors,
            lost_exchanges: self.stats.lost_exchanges,
        })
    }

    /// Appends one complete line to the batch. Returns whether the record could be serialised.
    fn write(&mut self, record: &Record) -> bool {
        let start = self.batch.bytes.len();
        if let Err(err) = serde_json::to_writer(&mut self.batch.bytes, record) {
            self.batch.bytes.truncate(start);
            self.stats.write_errors += 1;
            tracing::warn!("cannot serialise a trace record: {err}");
            return false;
        }
        self.batch.bytes.push(b'\n');
        self.batch.records += 1;
        true
    }

    /// Writes the batch with one `write` call, then flushes it to the OS. A failed batch is
    /// counted as lost (the file is cut back to its last complete line); the first good batch
    /// after an outage is followed by a stats line with the loss.
    fn flush_batch(&mut self) {
        if self.batch.bytes.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        match self.log.append_lines(&batch.bytes) {
            Ok(()) => {
                self.stats.exchanges += batch.exchanges;
                if self.failing {
                    self.failing = false;
                    tracing::warn!(
                        "writing trace {} works again; {} exchanges were lost",
                        self.path.display(),
                        self.stats.lost_exchanges
                    );
                    let stats = self.stats_record();
                    self.write(&stats);
                    self.flush_batch();
                }
            }
            Err(err) => {
                self.stats.write_errors += batch.records;
                self.stats.lost_exchanges += batch.exchanges;
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(
                        "cannot write trace {}: {err}; forwarding continues, records are lost \
                         until writing works again",
                        self.path.display()
                    );
                }
            }
        }
        // Keep the allocation for the next batch.
        if self.batch.bytes.is_empty() {
            let mut bytes = batch.bytes;
            bytes.clear();
            if bytes.capacity() <= 4 * BATCH_BYTES {
                self.batch.bytes = bytes;
            }
        }
    }
}

fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests;
