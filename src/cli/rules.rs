//! `authtap rules [ID] [--format text|json]`: lists the rule catalog authtap implements, or
//! explains one rule (what it flags, severity, who fixes it, which clients it breaks, the fix
//! and the source). Ids are those of `shared/design/rules.md`.

use std::process::ExitCode;

use authtap::rules::registry;
use authtap::rules::rule::RuleMeta;

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
}

/// Runs `authtap rules`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let metas: Vec<&RuleMeta> = match &args.id {
        Some(id) => {
            let wanted = id.trim().to_ascii_uppercase();
            let Some(meta) = registry::find(&wanted) else {
                anyhow::bail!("no rule `{id}` (see `authtap rules` for the list)");
            };
            vec![meta]
        }
        None => registry::all().map(|r| r.meta()).collect(),
    };
    match args.format {
        Format::Json => {
            let list: Vec<_> = metas.iter().map(|m| to_json(m)).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        Format::Text if args.id.is_some() => metas.iter().for_each(|m| print_one(m)),
        Format::Text => {
            for m in &metas {
                println!(
                    "{:<8} {:<34} {:<14} {}",
                    m.severity.as_str(),
                    m.id,
                    m.phase.as_str(),
                    m.title
                );
            }
            println!("\n{} rules; `authtap rules ID` explains one.", metas.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn who(m: &RuleMeta) -> String {
    m.who
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn print_one(m: &RuleMeta) {
    println!(
        "{}  ({} · phase {} · fixed by {})",
        m.id,
        m.severity,
        m.phase,
        who(m)
    );
    println!("  flags:  {}", m.title);
    if !m.breaks.is_empty() {
        println!("  breaks: {}", m.breaks);
    }
    println!("  fix:    {}", m.fix);
    println!("  source: {}", m.source);
}

fn to_json(m: &RuleMeta) -> serde_json::Value {
    serde_json::json!({
        "rule": m.id,
        "severity": m.severity,
        "phase": m.phase,
        "who": m.who,
        "breaks": m.breaks,
        "title": m.title,
        "fix": m.fix,
        "source": m.source,
    })
}
