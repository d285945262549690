//! `authtap rules [ID] [--format text|json|markdown]`: lists the rule catalog authtap
//! implements, or explains one rule (what it flags, its severity in each MCP revision, who fixes
//! it, which clients it breaks, the fix and the source). `--format markdown` prints the
//! catalog document committed as `docs/rules.md`.

use std::process::ExitCode;

use authtap::flow::revision::Revision;
use authtap::rules::rule::DynRule;
use authtap::rules::{catalog, registry};

/// Arguments of `authtap rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A rule id (e.g. WWWAUTH-MISSING) to explain; without it, every rule is listed.
    id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    /// The whole catalog as Markdown (the generated `docs/rules.md`).
    Markdown,
}

/// Runs `authtap rules`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rules: Vec<&dyn DynRule> = match &args.id {
        Some(id) => {
            let wanted = id.trim().to_ascii_uppercase();
            let Some(rule) = registry::rule(&wanted) else {
                anyhow::bail!("no rule `{id}` (see `authtap rules` for the list)");
            };
            vec![rule]
        }
        None => registry::all().collect(),
    };
    match args.format {
        Format::Markdown => {
            anyhow::ensure!(
                args.id.is_none(),
                "--format markdown prints the whole catalog; drop the rule id"
            );
            print!("{}", catalog::markdown());
        }
        Format::Json => {
            let list: Vec<_> = rules.iter().map(|r| to_json(*r)).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        Format::Text if args.id.is_some() => rules.iter().for_each(|r| print_one(*r)),
        Format::Text => {
            for r in &rules {
                let m = r.meta();
                let sev = if r.revisions().is_uniform() {
                    m.severity.as_str()
                } else {
                    "varies"
                };
                println!(
                    "{:<8} {:<34} {:<14} {}",
                    sev,
                    m.id,
                    m.phase.as_str(),
                    m.title
                );
            }
            println!(
                "\n{} rules; `authtap rules ID` explains one (\"varies\": severity depends on the MCP revision).",
                rules.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn who(r: &dyn DynRule) -> String {
    r.meta()
        .who
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn print_one(r: &dyn DynRule) {
    let m = r.meta();
    println!("{}  (phase {} · fixed by {})", m.id, m.phase, who(r));
    println!("  flags:  {}", m.title);
    println!("  severity by MCP revision:");
    for (rev, sev) in r.revisions().table(m.severity) {
        println!(
            "    {rev}  {}",
            sev.map_or("does not apply", |s| s.as_str())
        );
    }
    if !m.breaks.is_empty() {
        println!("  breaks: {}", m.breaks);
    }
    println!("  fix:    {}", m.fix);
    println!("  source: {}", m.source);
}

fn to_json(r: &dyn DynRule) -> serde_json::Value {
    let m = r.meta();
    let revisions: serde_json::Map<String, serde_json::Value> = r
        .revisions()
        .table(m.severity)
        .iter()
        .map(|(rev, sev)| (rev.as_str().to_string(), serde_json::json!(sev)))
        .collect();
    serde_json::json!({
        "rule": m.id,
        "severity": m.severity,
        "severity_by_revision": revisions,
        "applies_to": Revision::ALL
            .iter()
            .filter(|rev| r.revisions().severity(**rev, m.severity).is_some())
            .map(|rev| rev.as_str())
            .collect::<Vec<_>>(),
        "phase": m.phase,
        "who": m.who,
        "breaks": m.breaks,
        "title": m.title,
        "fix": m.fix,
        "source": m.source,
    })
}
