//! The grouping the text reports share (repeated info findings folded per rule, with a
//! count). Callers print; the live terminal view formats its own lines.

use crate::model::{Finding, Severity};

/// A finding as a report lists it: errors and warnings one by one; info findings of one rule
/// folded into one entry (the first occurrence) with their count and every place seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<'a, P> {
    /// The first occurrence.
    pub finding: &'a Finding,
    /// How many findings this entry stands for (1 for errors and warnings).
    pub count: usize,
    /// Where each occurrence was (exchange link, flow, …), in order.
    pub places: Vec<P>,
}

/// Groups `(finding, place)` pairs for a report, keeping first-occurrence order.
pub fn group_info<'a, P>(items: impl IntoIterator<Item = (&'a Finding, P)>) -> Vec<Listed<'a, P>> {
    let mut out: Vec<Listed<'a, P>> = Vec::new();
    for (finding, place) in items {
        if finding.severity == Severity::Info {
            if let Some(seen) = out
                .iter_mut()
                .find(|l| l.finding.severity == Severity::Info && l.finding.rule == finding.rule)
            {
                seen.count += 1;
                seen.places.push(place);
                continue;
            }
        }
        out.push(Listed {
            finding,
            count: 1,
            places: vec![place],
        });
    }
    out
}

/// The places of a group as one short text: up to `max` of them, then "and N more".
pub fn places_text<P: std::fmt::Display>(places: &[P], max: usize) -> String {
    let mut shown: Vec<String> = places.iter().take(max).map(|p| p.to_string()).collect();
    if places.len() > max {
        shown.push(format!("and {} more", places.len() - max));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Phase, Who};

    fn info(rule: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: Severity::Info,
            phase: Phase::McpTransport,
            who: vec![Who::Rs],
            breaks: String::new(),
            message: "seen".into(),
            fix: "none".into(),
            source: "RFC 9110".into(),
            exchange: None,
            flow: None,
        }
    }

    #[test]
    fn groups_repeated_info_per_rule_only() {
        let a = info("GEN-NON-443");
        let b = info("SSE-NO-PRIMING");
        let mut e = info("GEN-NON-443");
        e.severity = Severity::Error;
        let items = vec![(&a, 1), (&b, 2), (&a, 3), (&e, 4), (&e, 5), (&a, 6)];
        let listed = group_info(items);
        let summary: Vec<(&str, Severity, usize, Vec<i32>)> = listed
            .iter()
            .map(|l| {
                (
                    l.finding.rule.as_str(),
                    l.finding.severity,
                    l.count,
                    l.places.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("GEN-NON-443", Severity::Info, 3, vec![1, 3, 6]),
                ("SSE-NO-PRIMING", Severity::Info, 1, vec![2]),
                ("GEN-NON-443", Severity::Error, 1, vec![4]),
                ("GEN-NON-443", Severity::Error, 1, vec![5]),
            ]
        );
        assert_eq!(places_text(&[1, 3, 6], 2), "1, 3, and 1 more");
    }
}
