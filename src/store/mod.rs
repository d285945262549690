//! The trace store: owns the JSONL trace file and only stores (no engine, no live view).
//!
//! [`TraceStore::create`] makes the file (mode 0600: it holds live credentials; an existing file
//! is refused, never overwritten) and writes the session line. [`TraceStore::append`] adds one
//! complete line per record to a batch; [`TraceStore::flush`] writes the batch with one `write`
//! call followed by a flush to the OS, so after a `kill -9` every complete line parses, and under
//! load there is one system call per batch rather than per record. Write errors are counted,
//! never fatal, and never leave a partial line for the next batch to be appended to
//! (`sink::LineLog`): once writing works again the store writes a stats line saying how many
//! exchanges were lost. When even the session line cannot be written (a full disk at start) the
//! file is removed again, so it does not block the next run with the same path.
//!
//! Who feeds it, when batches end and what was dropped before a record got here is the
//! pipeline's business (the `session` module).

mod sink;

use std::fs::File;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::model::{Record, SessionRecord, Stats};

/// A batch is written out early once its buffer holds this many bytes.
const BATCH_BYTES: usize = 1024 * 1024;

/// What the store wrote and lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Exchange records written.
    pub exchanges: u64,
    /// Records lost to write errors.
    pub write_errors: u64,
    /// Exchange records among them.
    pub lost_exchanges: u64,
}

/// Why the trace could not be created.
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
}

/// The append-only JSONL trace file (see the module docs).
pub struct TraceStore {
    log: sink::LineLog,
    path: PathBuf,
    stats: StoreStats,
    /// Entries dropped before they reached the pipeline, as last reported.
    dropped: u64,
    /// The last write failed; the next good one ends the outage with a stats line.
    failing: bool,
    batch: Batch,
}

impl std::fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceStore")
            .field("path", &self.path)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Complete lines waiting for the batch's single `write`.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: u64,
    exchanges: u64,
}

impl TraceStore {
    /// Creates the trace at `path` (mode 0600, parent directories as needed; an existing file
    /// is refused rather than overwritten) and writes the session line.
    pub fn create(path: &Path, session: &SessionRecord) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = create_private(path).map_err(io)?;
        let created = Self::create_on(path, Box::new(file), session);
        if created.is_err() {
            // Nothing useful is in it, and leaving it would make the next run refuse the path.
            let _ = std::fs::remove_file(path);
        }
        created
    }

    /// [`Self::create`] on an already created, empty sink.
    fn create_on(
        path: &Path,
        sink: Box<dyn sink::Sink>,
        session: &SessionRecord,
    ) -> Result<Self, Error> {
        let mut store = Self {
            log: sink::LineLog::new(sink),
            path: path.to_path_buf(),
            stats: StoreStats::default(),
            dropped: 0,
            failing: false,
            batch: Batch::default(),
        };
        store.write(&Record::Session(session.clone()));
        store.flush();
        if store.stats.write_errors > 0 {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("cannot write the session line"),
            });
        }
        Ok(store)
    }

    /// The trace path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counts so far (exchanges count once their batch is written).
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Appends one record as one complete line to the batch (written out early when the batch
    /// is large).
    pub fn append(&mut self, record: &Record) {
        if self.write(record) && matches!(record, Record::Exchange(_)) {
            self.batch.exchanges += 1;
        }
        if self.batch.bytes.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    /// Records that `dropped` entries (in total) never reached the store: when that is more
    /// than last time, writes a stats line with the loss.
    pub fn note_dropped(&mut self, dropped: u64) {
        if dropped > self.dropped {
            self.flush();
            self.dropped = dropped;
            let stats = self.stats_record();
            self.write(&stats);
        }
    }

    /// Writes the final stats line (with `dropped` entries that never reached the store),
    /// flushes and syncs the file.
    pub fn finish(mut self, dropped: u64) -> StoreStats {
        self.flush();
        self.dropped = self.dropped.max(dropped);
        let stats = self.stats_record();
        self.write(&stats);
        self.flush();
        let _ = self.log.sync();
        self.stats
    }

    fn stats_record(&self) -> Record {
        Record::Stats(Stats {
            at: OffsetDateTime::now_utc(),
            exchanges: self.stats.exchanges,
            dropped: self.dropped,
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
    pub fn flush(&mut self) {
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
                    self.flush();
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
