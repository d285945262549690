//! `authtap lint TRACE [--format text|json] [--client PROFILE]`: re-runs every rule over a
//! recorded trace (authtap JSONL, or HAR through `trace::load`) through the pipeline
//! (`session::replay`) and prints the findings.
//! Exit code 1 when any finding is at error level, 0 otherwise; unreadable input is an error
//! (exit 2, mapped by `main`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use authtap::live::LiveOptions;
use authtap::live::line::{self, Paint, Tally};
use authtap::model::{Exchange, Record};
use authtap::model::{Finding, Severity};
use authtap::rules::{ClientProfile, EngineConfig};
use authtap::session::{Replayed, replay};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Findings grouped per exchange, then flow findings and narratives.
    Text,
    /// One JSON array of findings.
    Json,
}

/// Arguments of `authtap lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace to lint (authtap JSONL or HAR).
    pub trace: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Client profile whose severity overrides apply (generic, claude-ai, claude-code,
    /// inspector).
    #[arg(long, default_value = "generic")]
    pub client: String,
}

/// Runs `authtap lint`.
pub fn run(args: Args, live: LiveOptions) -> anyhow::Result<ExitCode> {
    let profile = ClientProfile::by_name(&args.client)?;
    let records = authtap::trace::load::load_any(&args.trace)
        .with_context(|| format!("cannot lint {}", args.trace.display()))?;
    let out = replay(
        &records,
        EngineConfig {
            profile,
            ..Default::default()
        },
    );
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let written = match args.format {
        OutputFormat::Json => write_json(&mut w, &out),
        OutputFormat::Text => {
            let view = TextView::new(live);
            write_text(&mut w, &out, &args.trace, &view)
                .and_then(|()| write_tls_failures(&mut w, &records, &view))
        }
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write the lint output");
        }
    }
    let any_error = all_findings(&out).any(|f| f.severity == Severity::Error);
    Ok(if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn all_findings(out: &Replayed) -> impl Iterator<Item = &Finding> {
    out.exchanges
        .iter()
        .flat_map(|x| x.findings.iter())
        .chain(out.flow_findings.iter().flat_map(|f| f.findings.iter()))
}

fn request_line(x: &Exchange) -> String {
    let status = x.response.as_ref().map_or_else(
        || {
            x.error
                .as_ref()
                .map_or("no response".to_string(), |e| e.kind.to_string())
        },
        |r| r.status.to_string(),
    );
    format!("{} {} → {status}", x.request.method, x.request.url)
}

fn write_json(w: &mut impl Write, out: &Replayed) -> std::io::Result<()> {
    let by_id = |id| out.exchanges.iter().find(|x| Some(x.id) == id);
    let mut items = Vec::new();
    for f in all_findings(out) {
        let mut v = serde_json::to_value(f).unwrap_or(serde_json::Value::Null);
        if let (Some(obj), Some(x)) = (v.as_object_mut(), by_id(f.exchange)) {
            obj.insert("request".into(), request_line(x).into());
            obj.insert(
                "exchange_phase".into(),
                x.phase.map(|p| p.as_str()).unwrap_or("other").into(),
            );
        }
        items.push(v);
    }
    serde_json::to_writer_pretty(&mut *w, &items)?;
    writeln!(w)
}

/// How the text report draws the live view's lines (colors as `--color` for stdout).
struct TextView {
    paint: Paint,
    options: LiveOptions,
}

impl TextView {
    fn new(options: LiveOptions) -> Self {
        use std::io::IsTerminal;
        let color = options.color.enabled(std::io::stdout().is_terminal());
        Self {
            paint: Paint { color },
            options,
        }
    }

    /// Errors and warnings with their fix; the first info finding of a rule on one line (the
    /// rest are counted for the summary).
    fn findings<'a>(
        &self,
        w: &mut impl Write,
        tally: &mut Tally,
        findings: impl IntoIterator<Item = &'a Finding>,
    ) -> std::io::Result<()> {
        for f in findings {
            let first_info = tally.count(f);
            match f.severity {
                Severity::Info if first_info => {
                    writeln!(w, "{}", line::first_info(f, "", self.paint))?
                }
                Severity::Info => {}
                Severity::Error | Severity::Warning => {
                    writeln!(w, "{}", line::finding(f, "", self.paint))?;
                }
            }
        }
        Ok(())
    }
}

/// Clients that never got past the TLS handshake: they have no exchange to lint.
fn write_tls_failures(
    w: &mut impl Write,
    records: &[Record],
    view: &TextView,
) -> std::io::Result<()> {
    for record in records {
        if let Record::TlsHandshake(h) = record {
            writeln!(
                w,
                "\n{}",
                line::tls_handshake(h, view.options.offset, view.paint)
            )?;
        }
    }
    Ok(())
}

fn write_text(
    w: &mut impl Write,
    out: &Replayed,
    path: &std::path::Path,
    view: &TextView,
) -> std::io::Result<()> {
    let mut tally = Tally {
        exchanges: out.exchanges.len(),
        ..Tally::default()
    };
    let count = |s: Severity| all_findings(out).filter(|f| f.severity == s).count();
    writeln!(
        w,
        "authtap lint {}: {} exchange(s), {} error(s), {} warning(s), {} info",
        path.display(),
        out.exchanges.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    )?;
    for x in &out.exchanges {
        let flow = x.flow.map(|f| format!(" {f}")).unwrap_or_default();
        let phase = x.phase.map(|p| p.as_str()).unwrap_or("other");
        if view.options.quiet && x.findings.is_empty() {
            continue;
        }
        writeln!(w, "\n{} [{phase}{flow}] {}", x.id, request_line(x))?;
        view.findings(w, &mut tally, &x.findings)?;
    }
    for ff in &out.flow_findings {
        let flow = ff
            .flow
            .map(|f| f.to_string())
            .unwrap_or_else(|| "no flow".into());
        if !ff.findings.is_empty() {
            writeln!(w, "\n{flow}: cross-request findings")?;
            view.findings(w, &mut tally, &ff.findings)?;
        }
        if let Some(n) = &ff.narrative {
            writeln!(w, "\n{flow} narrative:\n    {n}")?;
        }
    }
    writeln!(w, "\n{}", line::summary(&tally, view.paint))
}
