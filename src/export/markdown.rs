//! Markdown issue report, pure: the fields Anthropic's connector issue template asks for, the
//! findings table, a compact timeline, `ofid_…` references with the exchanges before them, and
//! redacted evidence bodies of the discovery, registration and token steps. Sized to paste into
//! a GitHub issue (well under its 65,536-character limit). Everything from traffic is escaped.

use std::fmt::Write as _;

use crate::model::Phase;
use crate::model::{BodyCapture, Exchange, Header};

use super::facts::{self, issue_facts, path_of, phase_label, status_label, timestamp};
use super::options::ExportOptions;
use super::trace::Trace;

/// Characters of one body excerpt.
const BODY_EXCERPT: usize = 1500;
/// Stop adding evidence once the report is this long.
const EVIDENCE_BUDGET: usize = 40_000;
/// Most timeline rows shown.
const TIMELINE_ROWS: usize = 120;

/// Escapes text for a Markdown table cell or paragraph: HTML-significant characters become
/// entities, Markdown syntax is backslash-escaped, line breaks become spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '`' | '*' | '[' | ']' | '\\' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A fenced code block whose fence is longer than any backtick run inside.
fn fenced(lang: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}\n… [{} more characters cut]", s.chars().count() - max)
}

fn pretty_body(body: &BodyCapture) -> (String, String) {
    if let Some(v) = body.json() {
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return ("json".into(), excerpt(&text, BODY_EXCERPT));
    }
    match (&body.text, &body.base64) {
        (Some(t), _) => {
            let note = match (body.truncated, body.lenient) {
                (true, _) => "\n… [capture truncated]",
                (false, true) => "\n… [not valid UTF-8: decoded leniently for redaction]",
                (false, false) => "",
            };
            (String::new(), format!("{}{note}", excerpt(t, BODY_EXCERPT)))
        }
        (None, Some(_)) => (
            String::new(),
            format!("[binary body, {} bytes on the wire]", body.wire_size),
        ),
        _ => (String::new(), String::new()),
    }
}

fn head_lines(first: &str, headers: &[Header]) -> String {
    let mut out = first.to_string();
    for h in headers {
        let _ = write!(out, "\n{}: {}", h.name, h.value);
    }
    out
}

/// Renders the Markdown report.
pub fn render(trace: &Trace, opts: &ExportOptions) -> String {
    let _ = opts;
    let f = issue_facts(trace);
    let mut md = String::new();
    if trace.redacted {
        md.push_str("> **Redacted export.** Secrets (tokens, codes, verifiers, client secrets, cookies, passwords) are replaced by `redacted:sha256:<8 hex>` (SHA-256 prefix of the value) so equal values still match across steps; JWTs keep header and payload.\n\n");
    } else {
        md.push_str("> **⚠ NOT REDACTED** (exported with `--no-redact`): this report contains live credentials. Do not post it publicly.\n\n");
    }
    md.push_str("# MCP connector OAuth failure report\n\n");
    let ofids = if trace.ofids.is_empty() {
        "none recorded".to_string()
    } else {
        trace
            .ofids
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let recorded_by = trace.session.as_ref().map_or_else(
        || format!("authtap {}", env!("CARGO_PKG_VERSION")),
        |s| {
            let mode = s.mode.describe();
            format!(
                "authtap {} ({}, {mode}, upstream {})",
                s.authtap_version, s.source, s.upstream
            )
        },
    );
    let findings = trace.all_findings();
    let errors = findings
        .iter()
        .filter(|x| x.severity == crate::model::Severity::Error)
        .count();
    let fields: [(&str, String); 11] = [
        ("Server URL", f.server_url.clone()),
        ("Where it failed", f.failed_at.clone()),
        ("Transport", f.transport.clone()),
        ("Registration type", f.registration.clone()),
        (
            "POST /mcp without auth returned",
            f.unauthenticated_mcp.clone(),
        ),
        ("Timestamps (with timezone)", f.time_range.clone()),
        ("Client", f.client.clone()),
        ("Error reference ids (ofid)", ofids),
        ("Findings", format!("{} ({errors} errors)", findings.len())),
        ("Recorded by", recorded_by),
        ("Exchanges captured by", f.captured_by.clone()),
    ];
    md.push_str("| Field | Value |\n|---|---|\n");
    for (name, value) in fields {
        let _ = writeln!(md, "| {name} | {} |", escape(&value));
    }
    let phases: Vec<&str> = f.phases_reached.iter().map(|p| p.as_str()).collect();
    let _ = writeln!(md, "\nPhases reached: {}\n", escape(&phases.join(" → ")));

    ofid_section(&mut md, trace);
    findings_section(&mut md, trace);
    tls_failures_section(&mut md, trace);
    tunnels_section(&mut md, trace);
    timeline_section(&mut md, trace);
    evidence_section(&mut md, trace);
    md
}

fn exchange_line(x: &Exchange) -> String {
    format!(
        "{} {} {} → {} ({})",
        x.id,
        x.request.method,
        path_of(&x.request.url),
        status_label(x),
        phase_label(x)
    )
}

fn ofid_section(md: &mut String, trace: &Trace) {
    if trace.ofids.is_empty() {
        return;
    }
    md.push_str("## Error references\n\n");
    for o in &trace.ofids {
        let at = o.at.map_or_else(
            || "given on the command line".into(),
            |t| format!("at {}", timestamp(t)),
        );
        let _ = writeln!(
            md,
            "- **{}** — {at} (from {})",
            escape(&o.id),
            escape(&o.origins.join(", "))
        );
        if !o.exchanges.is_empty() {
            md.push_str("  - exchanges just before:\n");
            for id in &o.exchanges {
                if let Some(x) = trace.exchange(*id) {
                    let _ = writeln!(md, "    - {}", escape(&exchange_line(x)));
                }
            }
        }
    }
    if !trace.marks.is_empty() {
        md.push_str("\nMarks typed while recording:\n\n");
        for m in &trace.marks {
            let _ = writeln!(md, "- {} — {}", timestamp(m.at), escape(&m.text));
        }
    }
    md.push('\n');
}

/// Clients that never got past the TLS handshake: no exchange exists for them.
fn tls_failures_section(md: &mut String, trace: &Trace) {
    if trace.tls_failures.is_empty() {
        return;
    }
    md.push_str(
        "## TLS handshakes that failed

",
    );
    for h in &trace.tls_failures {
        let sni = h.sni.as_deref().unwrap_or("no SNI");
        let _ = writeln!(
            md,
            "- {} — {} ({sni}): {} {}",
            timestamp(h.at),
            escape(&h.client_addr),
            escape(&h.message),
            escape(&h.advice)
        );
    }
    md.push('\n');
}

/// Forward mode: hosts outside the interception set, passed through without being read.
fn tunnels_section(md: &mut String, trace: &Trace) {
    if trace.tunnels.is_empty() {
        return;
    }
    md.push_str("## Tunneled blind (not decrypted, no content recorded)\n\n");
    for t in &trace.tunnels {
        let error = t
            .error
            .as_deref()
            .map_or_else(String::new, |e| format!(" — {}", escape(e)));
        let _ = writeln!(
            md,
            "- {} — {}:{} ({} B up, {} B down, {:.0} ms){error}",
            timestamp(t.at),
            escape(&t.host),
            t.port,
            t.bytes_up,
            t.bytes_down,
            t.duration_ms
        );
    }
    md.push('\n');
}

fn findings_section(md: &mut String, trace: &Trace) {
    md.push_str("## Findings\n\n");
    let mut rows: Vec<(&crate::model::Finding, String)> = Vec::new();
    for x in &trace.exchanges {
        rows.extend(x.findings.iter().map(|f| (f, x.id.to_string())));
    }
    for ff in &trace.flow_findings {
        let at = ff.flow.map_or_else(|| "trace".into(), |id| id.to_string());
        rows.extend(ff.findings.iter().map(|f| (f, at.clone())));
    }
    if rows.is_empty() {
        md.push_str("No findings: authtap saw no spec deviation in this trace.\n\n");
    } else {
        rows.sort_by_key(|r| std::cmp::Reverse(r.0.severity));
        md.push_str("| Severity | Rule | Who fixes | Message | Fix | Source | Where |\n|---|---|---|---|---|---|---|\n");
        // Repeated info findings (e.g. one per MCP call) fold into one row with a count.
        for row in crate::rules::format::group_info(rows) {
            let f = row.finding;
            let who: Vec<&str> = f.who.iter().map(|w| w.as_str()).collect();
            let message = if row.count > 1 {
                format!("{} (×{}; first shown)", f.message, row.count)
            } else {
                f.message.clone()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                f.severity,
                escape(f.rule.as_str()),
                escape(&who.join(", ")),
                escape(&message),
                escape(&f.fix),
                escape(&f.source),
                escape(&crate::rules::format::places_text(&row.places, 8))
            );
        }
        md.push('\n');
    }
    for ff in trace.flow_findings.iter().filter(|f| f.narrative.is_some()) {
        let flow = ff.flow.map_or_else(|| "trace".into(), |id| id.to_string());
        let _ = writeln!(
            md,
            "**{}:** {}\n",
            escape(&flow),
            escape(ff.narrative.as_deref().unwrap_or(""))
        );
    }
}

fn timeline_section(md: &mut String, trace: &Trace) {
    md.push_str("## Server-side timeline\n\n");
    let Some(first) = trace.exchanges.first().map(|x| x.started_at) else {
        md.push_str("No exchanges recorded.\n\n");
        return;
    };
    let n = trace.exchanges.len();
    let keep = |i: usize, x: &Exchange| {
        n <= TIMELINE_ROWS
            || i < 40
            || i >= n - 40
            || !x.findings.is_empty()
            || x.response.as_ref().is_none_or(|r| r.status >= 400)
    };
    md.push_str(
        "| # | Time | +ms | Phase | Request | Status | Findings |\n|---|---|---|---|---|---|---|\n",
    );
    let mut shown = 0;
    for (i, x) in trace.exchanges.iter().enumerate() {
        if !keep(i, x) || shown >= TIMELINE_ROWS + 60 {
            continue;
        }
        shown += 1;
        let rules: Vec<&str> = x.findings.iter().map(|f| f.rule.as_str()).collect();
        let offset = (x.started_at - first).whole_milliseconds();
        let _ = writeln!(
            md,
            "| {} | {} | {offset} | {} | {} | {} | {} |",
            x.id.0,
            timestamp(x.started_at),
            phase_label(x),
            escape(&format!(
                "{} {}",
                x.request.method,
                excerpt(&path_of(&x.request.url), 120)
            )),
            escape(&status_label(x)),
            escape(&rules.join(", "))
        );
    }
    if shown < n {
        let _ = writeln!(
            md,
            "\n{} uneventful exchanges omitted; the HAR has all of them.",
            n - shown
        );
    }
    md.push('\n');
}

fn evidence_phase(p: Option<Phase>) -> bool {
    matches!(
        p,
        Some(
            Phase::DiscoveryPrm
                | Phase::DiscoveryAs
                | Phase::Registration
                | Phase::Token
                | Phase::Refresh
        )
    )
}

fn evidence_section(md: &mut String, trace: &Trace) {
    let mut evidence: Vec<&Exchange> = trace
        .exchanges
        .iter()
        .filter(|x| evidence_phase(x.phase))
        .collect();
    if let Some(x) = trace.exchanges.iter().find(|x| {
        x.phase == Some(Phase::McpTransport) && x.response.as_ref().is_some_and(|r| r.status == 401)
    }) {
        evidence.push(x);
        evidence.sort_by_key(|x| (x.started_at, x.id));
    }
    md.push_str("## Evidence (redacted)\n\nThe unauthenticated MCP response and the discovery, registration and token exchanges, as the server sent them.\n\n");
    if evidence.is_empty() {
        md.push_str("No discovery, registration or token exchanges were recorded.\n");
        return;
    }
    let mut omitted = 0;
    for x in evidence {
        if md.len() > EVIDENCE_BUDGET {
            omitted += 1;
            continue;
        }
        let _ = writeln!(
            md,
            "<details><summary>{}</summary>\n",
            facts_html(&exchange_line(x))
        );
        let req_head = head_lines(
            &format!(
                "{} {} {}",
                x.request.method, x.request.url, x.request.http_version
            ),
            &x.request.headers,
        );
        md.push_str(&fenced("http", &excerpt(&req_head, BODY_EXCERPT)));
        if let Some(b) = &x.request.body {
            let (lang, text) = pretty_body(b);
            md.push_str(&fenced(&lang, &text));
        }
        match &x.response {
            Some(r) => {
                let head = head_lines(&format!("{} {}", r.http_version, r.status), &r.headers);
                md.push_str(&fenced("http", &excerpt(&head, BODY_EXCERPT)));
                if let Some(b) = &r.body {
                    let (lang, text) = pretty_body(b);
                    md.push_str(&fenced(&lang, &text));
                }
            }
            None => {
                let err = x.error.as_ref().map_or("no response".to_string(), |e| {
                    format!("{}: {}", e.kind, e.message)
                });
                md.push_str(&fenced("", &err));
            }
        }
        md.push_str("\n</details>\n\n");
    }
    if omitted > 0 {
        let _ = writeln!(
            md,
            "{omitted} more evidence exchanges omitted to keep this report pasteable; see the HAR."
        );
    }
    let _ = facts::correlation;
}

/// Escapes text for inline HTML (`<summary>`) inside Markdown.
fn facts_html(s: &str) -> String {
    super::escape::html(s)
        .replace('|', "&#124;")
        .replace('`', "&#96;")
}
