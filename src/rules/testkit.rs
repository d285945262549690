//! Test runners: feed the exchanges of `flow::testkit` to an [`Engine`] and collect the
//! findings, and assert that a rule fires or stays quiet.

use time::Duration;

use crate::flow::testkit::*;
use crate::model::{ExchangeId, Finding, Severity};
use crate::rules::config::EngineConfig;
use crate::rules::engine::Engine;

/// Runs the engine over the steps (ids 1..n in order), then `finish` at the last end +
/// `extra_s`. Returns every finding: on exchanges and in flow records.
pub fn run_with(steps: Vec<B>, extra_s: f64, config: EngineConfig) -> Vec<Finding> {
    let mut engine = Engine::new(config);
    let mut out = Vec::new();
    let mut last = t0();
    for (i, b) in steps.into_iter().enumerate() {
        let mut ex = b.build();
        ex.id = ExchangeId(i as u64 + 1);
        for ff in engine.observe(&mut ex) {
            out.extend(ff.findings);
        }
        last = last.max(crate::flow::correlate::end_time(&ex));
        out.extend(ex.findings);
    }
    for ff in engine.finish(last + Duration::seconds_f64(extra_s)) {
        out.extend(ff.findings);
    }
    out
}

pub fn run(steps: Vec<B>) -> Vec<Finding> {
    run_with(steps, 0.0, EngineConfig::default())
}

pub fn ids(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}:{}", f.rule, f.severity))
        .collect()
}

/// Asserts `id` fired (at any severity) and returns its first finding.
#[track_caller]
pub fn assert_fires(id: &str, steps: Vec<B>) -> Finding {
    let all = run(steps);
    match all.iter().find(|f| f.rule == id) {
        Some(f) => f.clone(),
        None => panic!("{id} did not fire; got {:?}", ids(&all)),
    }
}

#[track_caller]
pub fn assert_quiet(id: &str, steps: Vec<B>) {
    let all = run(steps);
    assert!(
        !all.iter().any(|f| f.rule == id),
        "{id} fired: {:?}",
        all.iter().filter(|f| f.rule == id).collect::<Vec<_>>()
    );
}

/// Error/warning findings of a run.
pub fn serious(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{}: {}", f.rule, f.message))
        .collect()
}

#[test]
fn clean_flow_is_clean() {
    let all = run_with(Clean::new().steps(), 120.0, EngineConfig::default());
    assert!(serious(&all).is_empty(), "{:#?}", serious(&all));
}
