//! Exporters: a trace as HAR 1.2, a Markdown issue report and a self-contained HTML report.
//!
//! [`Trace::build`] turns trace records into the exporters' input, redacting them first through
//! [`crate::redact`] unless redaction is explicitly turned off, and collecting `ofid_…`
//! references (user marks, `--ofid`, and any seen in traffic). [`har::to_har`],
//! [`markdown::render`] and [`html::render`] are pure functions of that input; only
//! [`write_exports`] touches the file system, and it creates files with mode 0600. Loading a
//! trace file to export it is the readers' job (`trace::load::export_trace`).

pub mod escape;
pub mod facts;
pub mod har;
pub mod html;
pub mod markdown;
mod options;
mod trace;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use options::{DEFAULT_OFID_CONTEXT, ExportOptions, Target};
pub use trace::{OfidRef, Trace};

use crate::model::Record;

/// The files `trace::load::export_trace` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedFiles {
    /// The HAR file, if written.
    pub har: Option<PathBuf>,
    /// The Markdown report, if written.
    pub markdown: Option<PathBuf>,
    /// The HTML report, if written.
    pub html: Option<PathBuf>,
}

impl ExportedFiles {
    /// Every written path, in HAR, Markdown, HTML order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        [&self.har, &self.markdown, &self.html]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An output file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Serialising the HAR failed (should not happen).
    #[error("cannot serialise HAR")]
    Json(#[from] serde_json::Error),
}

/// Renders and writes the requested formats for already-loaded records; `trace_path` decides
/// where [`Target::Beside`] files go.
pub fn write_exports(
    records: &[Record],
    trace_path: &Path,
    opts: &ExportOptions,
) -> Result<ExportedFiles, Error> {
    let trace = Trace::build(records, opts);
    let mut out = ExportedFiles::default();
    if let Some(path) = resolve(&opts.har, trace_path, "har") {
        let text = serde_json::to_string_pretty(&har::to_har(&trace, opts))?;
        write_private(&path, text.as_bytes())?;
        out.har = Some(path);
    }
    if let Some(path) = resolve(&opts.markdown, trace_path, "md") {
        write_private(&path, markdown::render(&trace, opts).as_bytes())?;
        out.markdown = Some(path);
    }
    if let Some(path) = resolve(&opts.html, trace_path, "html") {
        write_private(&path, html::render(&trace, opts).as_bytes())?;
        out.html = Some(path);
    }
    Ok(out)
}

fn resolve(target: &Target, trace_path: &Path, ext: &str) -> Option<PathBuf> {
    match target {
        Target::Skip => None,
        Target::Beside => Some(trace_path.with_extension(ext)),
        Target::Path(p) => Some(p.clone()),
    }
}

/// Writes a file readable only by its owner (0600 on Unix), replacing any previous file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
    }
    let mut file = opts.open(path).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests;
