//! Reads a JSONL trace back into [`Record`]s, skipping torn lines instead of refusing the trace.
//!
//! A line can be torn by a `kill -9` (the last line) or by a full disk in the middle of a
//! recording (older writers then appended the next batch onto the fragment). Each line that
//! does not parse is skipped with a warning naming it; when a complete record was appended onto
//! a fragment, it is recovered from the rest of the line.

use std::path::{Path, PathBuf};

use crate::model::Record;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read trace {path}")]
    Io {
        /// The trace path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A line that was not a complete record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornLine {
    /// 1-based line number.
    pub line: usize,
    /// A complete record appended onto the fragment was recovered from the same line.
    pub recovered: bool,
}

/// What was read, plus the torn lines that were skipped.
#[derive(Debug, Default)]
pub struct ReadTrace {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Lines that did not parse, in file order.
    pub torn_lines: Vec<TornLine>,
}

/// Reads every record of a JSONL trace, skipping (and logging) torn lines.
pub fn read_trace(path: &Path) -> Result<ReadTrace, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let read = parse_bytes(&bytes);
    for torn in &read.torn_lines {
        let recovered = if torn.recovered {
            "; the record appended onto it was recovered"
        } else {
            ""
        };
        tracing::warn!(
            "trace {} line {}: not a complete authtap record (cut by a crash or a full disk); \
             skipped{recovered}",
            path.display(),
            torn.line
        );
    }
    Ok(read)
}

/// Where a record starts inside a line.
const RECORD_START: &str = "{\"type\":\"";

/// Parses trace bytes (see the module docs). Never fails.
pub fn parse_bytes(bytes: &[u8]) -> ReadTrace {
    let mut out = ReadTrace::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(raw);
        if line.trim().is_empty() {
            continue;
        }
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            out.records.push(r);
            continue;
        }
        let recovered = line
            .match_indices(RECORD_START)
            .filter(|&(at, _)| at > 0)
            .find_map(|(at, _)| serde_json::from_str::<Record>(line.get(at..)?).ok());
        out.torn_lines.push(TornLine {
            line: i + 1,
            recovered: recovered.is_some(),
        });
        out.records.extend(recovered);
    }
    out
}

/// Whether text looks like the start of a JSONL trace: a record, or a torn one.
pub fn looks_like_record(line: &str) -> bool {
    line.trim_start().starts_with(RECORD_START) || serde_json::from_str::<Record>(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"type":"mark","at":"2026-11-22T10:00:00Z","text":"hi"}"#;
    const TORN: &str = r#"{"type":"mark","at":"2026-11"#;

    #[test]
    fn skips_torn_lines_anywhere() {
        let text = format!("{GOOD}\n{TORN}\n{GOOD}\n{TORN}");
        let read = parse_bytes(text.as_bytes());
        assert_eq!(read.records.len(), 2);
        assert_eq!(
            read.torn_lines,
            vec![
                TornLine {
                    line: 2,
                    recovered: false
                },
                TornLine {
                    line: 4,
                    recovered: false
                }
            ]
        );
    }

    #[test]
    fn recovers_a_record_appended_onto_a_fragment() {
        let text = format!("{GOOD}\n{TORN}{GOOD}\n");
        let read = parse_bytes(text.as_bytes());
        assert_eq!(read.records.len(), 2);
        assert_eq!(
            read.torn_lines,
            vec![TornLine {
                line: 2,
                recovered: true
            }]
        );
    }

    #[test]
    fn invalid_utf8_in_a_torn_line_is_no_error() {
        let mut bytes = format!("{GOOD}\n").into_bytes();
        bytes.extend_from_slice(b"{\"type\":\"mark\",\"text\":\"caf\xc3");
        let read = parse_bytes(&bytes);
        assert_eq!((read.records.len(), read.torn_lines.len()), (1, 1));
    }

    #[test]
    fn sniffs_records_and_fragments() {
        assert!(looks_like_record(GOOD));
        assert!(looks_like_record(TORN));
        assert!(!looks_like_record(r#"{"log":{"version":"1.2"}}"#));
    }
}
