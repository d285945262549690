//! Pure formatting of findings for the live terminal and text reports. Callers print.

use crate::rules::{Finding, Severity};

/// One finding as terminal lines: severity, id, who, message, then the fix and source.
pub fn live(f: &Finding) -> String {
    let who: Vec<&str> = f.who.iter().map(|w| w.as_str()).collect();
    let mark = match f.severity {
        Severity::Error => "✖ error  ",
        Severity::Warning => "▲ warning",
        Severity::Info => "ℹ info   ",
    };
    let ex = f.exchange.map(|e| format!(" {e}")).unwrap_or_default();
    format!(
        "{mark} {rule}{ex} [{phase}; fix: {who}] {msg}\n          fix: {fix}\n          source: {src}",
        rule = f.rule,
        phase = f.phase,
        who = if who.is_empty() {
            "-".to_string()
        } else {
            who.join("/")
        },
        msg = f.message,
        fix = f.fix,
        src = f.source,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Phase, Who};

    #[test]
    fn round_trips_finding_to_lines() {
        let f = Finding {
            rule: "WWWAUTH-MISSING".into(),
            severity: Severity::Error,
            phase: Phase::McpTransport,
            who: vec![Who::Rs],
            breaks: String::new(),
            message: "401 without WWW-Authenticate".into(),
            fix: "add the header".into(),
            source: "RFC 9110".into(),
            exchange: None,
            flow: None,
        };
        let s = live(&f);
        assert!(s.starts_with("✖ error   WWWAUTH-MISSING [mcp-transport; fix: RS] 401 without"));
        assert!(s.contains("fix: add the header"));
    }
}
