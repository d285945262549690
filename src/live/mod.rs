//! The live view: what a person watching a run reads, one line per exchange.
//!
//! The pipeline (the `session` module's `Session`) pushes every record it handles into a
//! [`LiveSink`] (like ripgrep's printer `Sink`): it does not know what, or whether, anything is
//! printed. [`LiveView`] is the sink the CLI uses for `proxy`, `demo`, `check` and `lint`: per
//! exchange one line (time, `#id`, phase, method, path, status, duration, size), under it each
//! error and warning finding with its fix; info findings once per rule (first occurrence) and
//! with their counts in the end-of-run summary. Colors follow `--color` (`auto`: only on a
//! terminal without `NO_COLOR`). The output stream is a parameter: stdout by default, stderr
//! when a child process owns the terminal. Write errors (a closed pipe) are ignored: the view
//! must never stop a run.
//! `tracing` is for diagnostics only; nothing here goes through it.

pub mod line;

use std::io::{IsTerminal, Write};

use time::UtcOffset;

use crate::model::Severity;
use crate::model::{Exchange, FlowFindings, Mark, TlsHandshakeFailure, TunnelRecord};

use line::{Paint, Tally};

/// When to color the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (non-empty).
    #[default]
    Auto,
    /// Always (even into a pipe).
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to color a stream that is (or is not) a terminal.
    pub fn enabled(self, terminal: bool) -> bool {
        self.decide(terminal, std::env::var_os("NO_COLOR").as_deref())
    }

    /// [`Self::enabled`] with the value of `NO_COLOR` given (<https://no-color.org>: any
    /// non-empty value turns color off).
    fn decide(self, terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }
}

/// Where the view writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (the default).
    #[default]
    Stdout,
    /// Standard error (when a child process owns stdout and the terminal).
    Stderr,
}

/// How the live view prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// Color choice.
    pub color: ColorChoice,
    /// Only findings and the summary (no exchange lines, no marks).
    pub quiet: bool,
    /// Where to print.
    pub stream: Stream,
    /// The offset times are shown in. Take the local one with [`LiveOptions::local`] before
    /// any thread starts (the local offset cannot be read soundly afterwards).
    pub offset: UtcOffset,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            color: ColorChoice::Auto,
            quiet: false,
            stream: Stream::Stdout,
            offset: UtcOffset::UTC,
        }
    }
}

impl LiveOptions {
    /// Default options with the local time offset (UTC when it cannot be determined).
    pub fn local() -> Self {
        Self {
            offset: UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC),
            ..Self::default()
        }
    }
}

/// What the pipeline pushes, record by record, in the order it handles them.
pub trait LiveSink: Send {
    /// An exchange with its findings (after the engine observed it).
    fn exchange(&mut self, exchange: &Exchange);
    /// Flow-level findings (and narrative) that became due.
    fn flow_findings(&mut self, findings: &FlowFindings);
    /// A client that failed the TLS handshake.
    fn tls_handshake(&mut self, failure: &TlsHandshakeFailure);
    /// A user mark.
    fn mark(&mut self, mark: &Mark);
    /// A forward-mode connection passed through blind (host, port, bytes; no content).
    fn tunnel(&mut self, _tunnel: &TunnelRecord) {}
    /// The run is over.
    fn finish(&mut self);
}

/// The terminal view.
pub struct LiveView {
    out: Box<dyn Write + Send>,
    paint: Paint,
    quiet: bool,
    offset: UtcOffset,
    tally: Tally,
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveView")
            .field("paint", &self.paint)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

impl LiveView {
    /// A view on the stream `options` name.
    pub fn new(options: LiveOptions) -> Self {
        let (out, terminal): (Box<dyn Write + Send>, bool) = match options.stream {
            Stream::Stdout => (Box::new(std::io::stdout()), std::io::stdout().is_terminal()),
            Stream::Stderr => (Box::new(std::io::stderr()), std::io::stderr().is_terminal()),
        };
        Self::to_writer(out, options.color.enabled(terminal), options)
    }

    /// A view into any writer (tests, files), colored or not.
    pub fn to_writer(out: Box<dyn Write + Send>, color: bool, options: LiveOptions) -> Self {
        Self {
            out,
            paint: Paint { color },
            quiet: options.quiet,
            offset: options.offset,
            tally: Tally::default(),
        }
    }

    /// The counts so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    fn print(&mut self, text: &str) {
        // A closed pipe or a full disk must not stop the run; the trace has everything.
        let _ = writeln!(self.out, "{text}").and_then(|()| self.out.flush());
    }

    /// Prints the findings under an exchange or flow; `lead` names the place when no exchange
    /// line stands above them.
    fn findings<'a>(&mut self, findings: impl IntoIterator<Item = &'a crate::model::Finding>) {
        for f in findings {
            let first_info = self.tally.count(f);
            let lead = if self.quiet || f.exchange.is_none() {
                line::place(f)
            } else {
                String::new()
            };
            let text = match f.severity {
                Severity::Info if first_info => line::first_info(f, &lead, self.paint),
                Severity::Info => continue,
                Severity::Error | Severity::Warning => line::finding(f, &lead, self.paint),
            };
            self.print(&text);
        }
    }
}

impl LiveSink for LiveView {
    fn exchange(&mut self, exchange: &Exchange) {
        self.tally.exchanges += 1;
        if !self.quiet {
            let text = line::exchange(exchange, self.offset, self.paint);
            self.print(&text);
        }
        self.findings(&exchange.findings);
    }

    fn flow_findings(&mut self, findings: &FlowFindings) {
        self.findings(&findings.findings);
    }

    fn tls_handshake(&mut self, failure: &TlsHandshakeFailure) {
        self.tally.tls_failures += 1;
        let text = line::tls_handshake(failure, self.offset, self.paint);
        self.print(&text);
    }

    fn mark(&mut self, mark: &Mark) {
        if !self.quiet {
            let text = line::mark(mark, self.offset, self.paint);
            self.print(&text);
        }
    }

    fn tunnel(&mut self, tunnel: &TunnelRecord) {
        if !self.quiet {
            let text = line::tunnel(tunnel, self.offset, self.paint);
            self.print(&text);
        }
    }

    fn finish(&mut self) {
        let text = line::summary(&self.tally, self.paint);
        self.print(&text);
    }
}

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod tests {
    use super::ColorChoice;

    #[test]
    fn auto_colors_a_terminal_without_no_color_and_the_flags_win() {
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(ColorChoice::Auto.decide(true, None));
        assert!(ColorChoice::Auto.decide(true, empty));
        assert!(!ColorChoice::Auto.decide(true, set));
        assert!(!ColorChoice::Auto.decide(false, None));
        assert!(ColorChoice::Always.decide(false, set));
        assert!(!ColorChoice::Never.decide(true, None));
    }
}
