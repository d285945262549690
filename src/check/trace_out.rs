//! The check's JSONL trace: the same [`Record`] lines the proxy's recorder writes, one
//! `write` plus flush per line (readable after a kill), in a 0600 file.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::model::Record;

/// An open trace file.
#[derive(Debug)]
pub(super) struct TraceFile {
    file: File,
}

impl TraceFile {
    /// Creates (or truncates) `path` with mode 0600, making parent directories.
    pub(super) fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            let file = options.open(path)?;
            // An existing file keeps its old mode on open; the trace holds live credentials.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            Ok(Self { file })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {
                file: options.open(path)?,
            })
        }
    }

    /// Writes one record as one line.
    pub(super) fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()
    }
}
