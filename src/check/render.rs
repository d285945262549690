//! Renders a [`CheckReport`] as a text checklist (a failed or warned step names the rule ids
//! behind it; repeated info findings are grouped per rule with a count), one JSON document, or
//! JUnit XML (one testcase per step, one `<failure>` per error finding or failed client step).
//! Pure functions returning strings; `cli/check.rs` prints them.

use std::fmt::Write;

use super::report::{CheckReport, CheckStep, StepStatus};
use crate::client;
use crate::model::Severity;

/// The human checklist.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    let origin = report
        .origin
        .as_deref()
        .map(|o| format!(", browser origin {o}"))
        .unwrap_or_default();
    let _ = writeln!(out, "authtap check {}", report.mcp_url);
    let _ = writeln!(
        out,
        "client: {} ({}){origin}; mode: {}; judged by {}\n",
        report.client, report.vantage, report.mode, report.judged_by
    );
    for step in &report.steps {
        let rules = if step.rules.is_empty() {
            String::new()
        } else {
            format!(" — {}", step.rules.join(", "))
        };
        let _ = writeln!(out, "[{}] {}{rules}", step.status.label(), step.title);
        if let Some(why) = &step.skipped {
            let _ = writeln!(out, "       skipped: {why}");
            continue;
        }
        for n in &step.notes {
            let status = n.status.map(|s| format!(" → {s}")).unwrap_or_default();
            let request = if n.request.is_empty() {
                String::new()
            } else {
                format!("{}{status}: ", n.request)
            };
            let _ = writeln!(out, "       {:<4} {request}{}", n.outcome.as_str(), n.text);
        }
        // Repeated info findings (e.g. one per MCP call) fold into one line with a count.
        let listed =
            crate::rules::format::group_info(step.findings.iter().map(|f| (f, f.exchange)));
        for row in listed {
            let f = row.finding;
            let seen: Vec<String> = row.places.iter().flatten().map(|e| e.to_string()).collect();
            let at = if seen.is_empty() {
                String::new()
            } else {
                format!(" ({})", crate::rules::format::places_text(&seen, 6))
            };
            let times = if row.count > 1 {
                format!(" ×{}", row.count)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "       {:<7} {}{times} {}{at}",
                f.severity.as_str(),
                f.rule,
                f.message
            );
            if f.severity > Severity::Info {
                let _ = writeln!(out, "               fix: {}", f.fix);
            }
        }
    }
    if let Some(id) = &report.registered_client_id {
        let _ = writeln!(
            out,
            "\nNOTE: this check registered a client on the server: client_id {id}"
        );
    }
    if !report.tools.is_empty() {
        let _ = writeln!(out, "\ntools: {}", report.tools.join(", "));
    }
    let _ = writeln!(out, "\nVerdict: {}", report.verdict.summary);
    let _ = writeln!(
        out,
        "Trace: {} ({} exchanges; export with `authtap export {}`)",
        report.trace.display(),
        report.exchanges,
        report.trace.display()
    );
    out
}

/// One pretty JSON document.
pub fn json(report: &CheckReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// JUnit XML for CI.
pub fn junit(report: &CheckReport) -> String {
    let tests = report.steps.len();
    let failures = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Fail)
        .count();
    let skipped = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Skip)
        .count();
    let suite = format!("authtap check {} ({})", report.mcp_url, report.client);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"authtap check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        xml(&suite)
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"trace\" value=\"{}\"/><property name=\"verdict\" value=\"{}\"/></properties>",
        xml(&report.trace.display().to_string()),
        xml(&report.verdict.summary)
    );
    for step in &report.steps {
        testcase(&mut out, report, step);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn testcase(out: &mut String, report: &CheckReport, step: &CheckStep) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"authtap.check.{}\" name=\"{}: {}\">",
        xml(&report.client),
        step.id,
        xml(step.title)
    );
    if let Some(why) = &step.skipped {
        let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml(why));
    }
    for n in step
        .notes
        .iter()
        .filter(|n| n.outcome == client::Outcome::Fail)
    {
        // Name the rules behind the step when there are any (e.g. a WAF rule listed under
        // reachability that made this step fail).
        let kind = if step.rules.is_empty() {
            "client-step".to_string()
        } else {
            step.rules.join(" ")
        };
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            xml(&kind),
            xml(&n.text),
            xml(&format!("{} {:?}: {}", n.request, n.status, n.text))
        );
    }
    for f in step
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
    {
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            xml(f.rule.as_str()),
            xml(&format!("{}: {}", f.rule, f.message)),
            xml(&format!(
                "{}\nfix: {}\nsource: {}",
                f.message, f.fix, f.source
            ))
        );
    }
    let mut log = String::new();
    for n in &step.notes {
        let _ = writeln!(
            log,
            "{} {} {:?} {}",
            n.outcome.as_str(),
            n.request,
            n.status,
            n.text
        );
    }
    for f in step
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Error)
    {
        let _ = writeln!(log, "{} {} {}", f.severity, f.rule, f.message);
    }
    if !log.is_empty() {
        let _ = writeln!(out, "      <system-out>{}</system-out>", xml(&log));
    }
    out.push_str("    </testcase>\n");
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            xml("<a href=\"x\">&'\u{1}b\n"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;b&#10;"
        );
    }
}
