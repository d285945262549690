//! What the engine keeps of a flow's findings for its narrative, in bounded memory.
//!
//! A long session repeats the same finding on every request (a client that never sends the
//! right `Accept`, say). The narrative needs only the first occurrence of each finding (in
//! order: the first error or warning is the one it names) and the latest (an error-level
//! finding after the last good MCP call spoils the outcome). So per rule, severity and phase
//! this keeps the first and the latest occurrence, and replaces the latest as it goes: a
//! session of any length costs memory per distinct finding, not per request.

use std::collections::HashMap;

use crate::model::{Finding, Phase, RuleId, Severity};

/// A flow's findings: first and latest occurrence of each (rule, severity, phase).
#[derive(Debug, Default)]
pub struct FlowHistory {
    findings: Vec<Finding>,
    /// Key → index of the first occurrence, and of the latest when there was a second.
    slots: HashMap<(RuleId, Severity, Phase), (usize, Option<usize>)>,
}

impl FlowHistory {
    /// Records one finding.
    pub fn push(&mut self, f: Finding) {
        let key = (f.rule.clone(), f.severity, f.phase);
        let next = self.findings.len();
        match self.slots.get_mut(&key) {
            None => {
                self.slots.insert(key, (next, None));
                self.findings.push(f);
            }
            Some((_, Some(latest))) => {
                if let Some(slot) = self.findings.get_mut(*latest) {
                    *slot = f;
                }
            }
            Some((_, latest @ None)) => {
                *latest = Some(next);
                self.findings.push(f);
            }
        }
    }

    /// The kept findings, first occurrences in emission order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

impl Extend<Finding> for FlowHistory {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, iter: I) {
        for f in iter {
            self.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExchangeId;
    use crate::model::Who;

    fn finding(rule: &str, severity: Severity, exchange: u64) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            phase: Phase::McpTransport,
            who: vec![Who::Client],
            breaks: String::new(),
            message: format!("at {exchange}"),
            fix: String::new(),
            source: String::new(),
            exchange: Some(ExchangeId(exchange)),
            flow: None,
        }
    }

    #[test]
    fn keeps_first_and_latest_per_finding_in_bounded_memory() {
        let mut h = FlowHistory::default();
        h.push(finding("A", Severity::Warning, 1));
        h.push(finding("B", Severity::Error, 2));
        for i in 3..10_000 {
            h.push(finding("A", Severity::Warning, i));
        }
        let kept: Vec<(&str, u64)> = h
            .findings()
            .iter()
            .map(|f| (f.rule.as_str(), f.exchange.map_or(0, |e| e.0)))
            .collect();
        assert_eq!(kept, [("A", 1), ("B", 2), ("A", 9_999)]);
        // Near miss: the same rule at another severity is another finding.
        h.push(finding("A", Severity::Error, 10_000));
        assert_eq!(h.findings().len(), 4);
    }
}
