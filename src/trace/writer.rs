//! The recorder: owns the JSONL trace file, runs the rule engine, writes one line per record.

/// Recorder counters returned at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Exchange records written.
    pub exchanges: u64,
    /// Exchanges dropped because the recorder fell behind.
    pub dropped: u64,
    /// Records lost to write errors.
    pub write_errors: u64,
    /// Findings written (per-exchange and flow-level).
    pub findings: u64,
}

/// Why the trace could not be created or finished.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Placeholder until the writer lands.
    #[error("not implemented")]
    NotImplemented,
}
