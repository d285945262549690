//! Reads a JSONL trace back into [`Record`]s, tolerating a torn last line (after `kill -9`).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::trace::model::Record;

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
    /// A line other than the last one is not a valid record.
    #[error("trace {path} line {line}: not a valid authtap record")]
    BadLine {
        /// The trace path.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// What was read, plus how many torn trailing lines were skipped.
#[derive(Debug, Default)]
pub struct ReadTrace {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Trailing lines that did not parse (a write cut by a crash); at most one in practice.
    pub torn_lines: usize,
}

/// Reads every record of a JSONL trace. A malformed *last* line is counted as torn and skipped;
/// a malformed line in the middle is an error.
pub fn read_trace(path: &Path) -> Result<ReadTrace, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        lines.push(line.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?);
    }
    parse_lines(&lines, path)
}

fn parse_lines(lines: &[String], path: &Path) -> Result<ReadTrace, Error> {
    let mut out = ReadTrace::default();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.records.push(r),
            Err(_) if Some(i) == last => out.torn_lines += 1,
            Err(source) => {
                return Err(Error::BadLine {
                    path: path.into(),
                    line: i + 1,
                    source,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_torn_last_line_only() {
        let good = r#"{"type":"mark","at":"2026-11-22T10:00:00Z","text":"hi"}"#.to_string();
        let torn = r#"{"type":"mark","at":"2026-11"#.to_string();
        let read = parse_lines(&[good.clone(), torn.clone()], Path::new("t")).unwrap();
        assert_eq!((read.records.len(), read.torn_lines), (1, 1));
        assert!(parse_lines(&[torn, good], Path::new("t")).is_err());
    }
}
