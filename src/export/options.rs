//! What to export and where each format goes.

use std::path::PathBuf;

/// Number of exchanges shown before each `ofid_…` reference.
pub const DEFAULT_OFID_CONTEXT: usize = 5;

/// Where one export format goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Not written.
    Skip,
    /// Next to the trace, same stem, the format's extension (`trace.har`, `trace.md`, `trace.html`).
    Beside,
    /// This path.
    Path(PathBuf),
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Redact secrets (default). Turning it off must be an explicit user choice.
    pub redact: bool,
    /// Keep binary bodies (base64) in a redacted export instead of a placeholder; they cannot
    /// be scanned for secrets (`--keep-binary`).
    pub keep_binary: bool,
    /// Extra `ofid_…` references from the command line.
    pub ofids: Vec<String>,
    /// How many exchanges to show before each `ofid_…` reference.
    pub ofid_context: usize,
    /// HAR output.
    pub har: Target,
    /// Markdown output.
    pub markdown: Target,
    /// HTML output.
    pub html: Target,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            redact: true,
            keep_binary: false,
            ofids: Vec::new(),
            ofid_context: DEFAULT_OFID_CONTEXT,
            har: Target::Beside,
            markdown: Target::Beside,
            html: Target::Beside,
        }
    }
}
