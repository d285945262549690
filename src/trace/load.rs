//! Loads a trace from either format authtap reads: its own JSONL, or a HAR file (Chrome
//! DevTools, mitmproxy, another tool, or an authtap export), sniffed by content. A foreign HAR
//! has no phases or findings: [`run_rules`] sends it through the pipeline's engine
//! ([`crate::session::replay`]); [`export_trace`] loads and exports in one call.

use std::path::{Path, PathBuf};

use crate::model::Record;
use crate::trace::{har_import, reader};

/// Why a trace could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSONL trace with a bad record.
    #[error(transparent)]
    Jsonl(#[from] reader::Error),
    /// A HAR file that could not be converted.
    #[error("cannot load {path} as a trace")]
    Har {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: har_import::Error,
    },
}

/// Which format a trace file was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// authtap's JSONL record stream.
    Jsonl,
    /// A HAR 1.2 document.
    Har,
}

/// A loaded trace and how it was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// The input format.
    pub format: Format,
    /// True for a HAR not written by authtap: no phases or findings yet, run the rules.
    pub needs_rules: bool,
    /// Torn JSONL lines skipped (after a crash or a full disk); each was logged.
    pub torn_lines: Vec<reader::TornLine>,
}

/// Loads a JSONL trace or a HAR file (sniffed by content). See [`load`] for details.
pub fn load_any(path: &Path) -> Result<Vec<Record>, Error> {
    load(path).map(|l| l.records)
}

/// Loads a JSONL trace or a HAR file. A file whose first non-empty line is an authtap record (or
/// a torn one) is JSONL; anything else is parsed as HAR (a UTF-8 BOM is tolerated).
pub fn load(path: &Path) -> Result<Loaded, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if reader::looks_like_record(first_line) {
        let read = reader::read_trace(path)?;
        return Ok(Loaded {
            records: read.records,
            format: Format::Jsonl,
            needs_rules: false,
            torn_lines: read.torn_lines,
        });
    }
    let imported = har_import::from_har_str(text).map_err(|source| Error::Har {
        path: path.into(),
        source,
    })?;
    Ok(Loaded {
        needs_rules: !imported.authtap_made,
        records: imported.records,
        format: Format::Har,
        torn_lines: Vec::new(),
    })
}

/// Runs the engine over a trace's exchanges through the pipeline ([`crate::session::replay`],
/// the same path as `authtap lint`), replacing any phases and findings, and appends the
/// flow-level findings. Used for HAR input, which has none.
pub fn run_rules(records: Vec<Record>) -> Vec<Record> {
    crate::session::replay(&records, crate::rules::EngineConfig::default()).into_records(records)
}

/// Loads a trace for export: a foreign HAR (no phases or findings yet) goes through the engine
/// first ([`run_rules`]).
pub fn load_for_export(path: &Path) -> Result<Vec<Record>, Error> {
    let loaded = load(path)?;
    Ok(if loaded.needs_rules {
        run_rules(loaded.records)
    } else {
        loaded.records
    })
}

/// Why [`export_trace`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The trace could not be loaded.
    #[error(transparent)]
    Load(#[from] Error),
    /// The exports could not be written.
    #[error(transparent)]
    Export(#[from] crate::export::Error),
}

/// Loads a trace (JSONL or HAR; a foreign HAR goes through the engine), redacts it unless told
/// not to, and writes the requested formats ([`crate::export::write_exports`]).
pub fn export_trace(
    trace_path: &Path,
    opts: &crate::export::ExportOptions,
) -> Result<crate::export::ExportedFiles, ExportError> {
    let records = load_for_export(trace_path)?;
    Ok(crate::export::write_exports(&records, trace_path, opts)?)
}
