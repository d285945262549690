//! Loads a trace from either format authtap reads: its own JSONL, or a HAR file (Chrome
//! DevTools, mitmproxy, another tool, or an authtap export), sniffed by content.

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

/// Runs the rule engine over a trace's exchanges (start order, through
/// [`crate::rules::relint::relint`], the same path as `authtap lint`), replacing any phases and
/// findings, and appends the flow-level findings. Used for HAR input, which has none.
pub fn run_rules(records: Vec<Record>) -> Vec<Record> {
    let relinted = crate::rules::relint::relint(&records, crate::rules::EngineConfig::default());
    let mut out: Vec<Record> = records
        .into_iter()
        .filter(|r| !matches!(r, Record::Exchange(_) | Record::FlowFindings(_)))
        .collect();
    let at = out
        .iter()
        .position(|r| !matches!(r, Record::Session(_)))
        .unwrap_or(out.len());
    let tail = out.split_off(at);
    out.extend(
        relinted
            .exchanges
            .into_iter()
            .map(|x| Record::Exchange(Box::new(x))),
    );
    out.extend(relinted.flow_findings.into_iter().map(Record::FlowFindings));
    out.extend(tail);
    out
}
