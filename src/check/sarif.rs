//! SARIF 2.1.0 output of `authtap check` (`--format sarif`), for code-scanning dashboards: one
//! run, the rules that fired as `tool.driver.rules` (with their fix and source), one result per
//! finding at its level (error, warning, note) located at the checked MCP URL and the check
//! step. Pure function returning a string; `cli/check.rs` prints it.

use serde_json::{Value, json};

use super::report::{CheckReport, CheckStep};
use crate::model::{Finding, Severity};
use crate::rules::registry;

/// The SARIF schema URI written into `$schema`.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF level of a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The report as a SARIF 2.1.0 log.
pub fn sarif(report: &CheckReport) -> String {
    let rule_ids = fired_rule_ids(report);
    let rules: Vec<Value> = rule_ids.iter().map(|id| rule_descriptor(id)).collect();
    let mut results = Vec::new();
    for step in &report.steps {
        for f in &step.findings {
            let index = rule_ids.iter().position(|id| *id == f.rule).unwrap_or(0);
            results.push(result(report, step, f, index));
        }
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "authtap",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://modelcontextprotocol.io/specification",
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": true,
                "commandLine": format!("authtap check {} --client {}", report.mcp_url, report.client),
            }],
            "artifacts": [
                { "location": { "uri": report.mcp_url } },
                { "location": { "uri": file_uri(&report.trace) }, "description": { "text": "JSONL trace of the check" } },
            ],
            "results": results,
            "properties": {
                "client": report.client,
                "mode": report.mode,
                "judgedBy": report.judged_by,
                "verdict": report.verdict.summary,
                "status": report.verdict.status,
            },
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// A file path as a SARIF artifact URI: `file:///…` when absolute, else a relative reference
/// (percent-encoded, never starting with `/`, so it resolves against the consumer's base).
fn file_uri(path: &std::path::Path) -> String {
    if let Ok(url) = url::Url::from_file_path(path) {
        return url.to_string();
    }
    const BASE: &str = "file:///base/";
    url::Url::parse(BASE)
        .and_then(|base| base.join(&path.to_string_lossy()))
        .map(|url| url.as_str().trim_start_matches(BASE).to_string())
        .unwrap_or_else(|_| path.to_string_lossy().trim_start_matches('/').to_string())
}

/// The ids of the rules that fired, in the order they first appear in the steps.
fn fired_rule_ids(report: &CheckReport) -> Vec<&str> {
    let mut rule_ids: Vec<&str> = Vec::new();
    for f in report.steps.iter().flat_map(|s| s.findings.iter()) {
        if !rule_ids.contains(&f.rule.as_str()) {
            rule_ids.push(f.rule.as_str());
        }
    }
    rule_ids
}

/// The `reportingDescriptor` of rule `id`: title, fix, level and catalog properties (only the
/// id for a rule not in the registry).
fn rule_descriptor(id: &str) -> Value {
    match registry::find(id) {
        Some(m) => json!({
            "id": m.id,
            "shortDescription": { "text": m.title },
            "fullDescription": { "text": format!("{} (source: {})", m.title, m.source) },
            "help": { "text": m.fix },
            "defaultConfiguration": { "level": level(m.severity) },
            "properties": {
                "phase": m.phase.as_str(),
                "who": m.who.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
                "breaks": m.breaks,
                "source": m.source,
            },
        }),
        None => json!({
            "id": id,
            "shortDescription": { "text": id },
        }),
    }
}

/// The SARIF result of one finding of `step`, located at the checked MCP URL and the step;
/// `rule_index` points into `tool.driver.rules`.
fn result(report: &CheckReport, step: &CheckStep, f: &Finding, rule_index: usize) -> Value {
    json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": format!("{} Fix: {}", f.message, f.fix) },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": report.mcp_url },
            },
            "logicalLocations": [{
                "name": step.id,
                "fullyQualifiedName": format!("authtap-check/{}", step.id),
                "kind": "module",
            }],
        }],
        "properties": {
            "step": step.id,
            "phase": f.phase.as_str(),
            "who": f.who.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
            "exchange": f.exchange.map(|e| e.0),
            "source": f.source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::{self, CheckStep, Coverage};
    use crate::client::{FlowReport, Outcome};
    use crate::model::{Finding, Phase, Who};

    fn finding(rule: &str, severity: Severity) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            phase: Phase::McpTransport,
            who: vec![Who::Rs],
            breaks: String::new(),
            message: "observed".into(),
            fix: "do it right".into(),
            source: "RFC 9110 §11.6.1".into(),
            exchange: Some(crate::model::ExchangeId(1)),
            flow: None,
        }
    }

    fn sample() -> CheckReport {
        let flow = FlowReport {
            mcp_url: "https://h.example/mcp".into(),
            steps: Vec::new(),
            completed: false,
            stopped_at: Some("probe".into()),
            protocol_version: None,
            tools: Vec::new(),
            sse_events: 0,
            registered_client_id: None,
        };
        let cover = Coverage {
            browser: false,
            register: false,
            login: false,
            facts: vec![(Outcome::Ok, "https on port 443".into())],
        };
        let mut steps: Vec<CheckStep> = report::build_steps(&flow, &[], &[], &cover);
        steps[1].findings = vec![
            finding("WWWAUTH-MISSING", Severity::Error),
            finding("WWWAUTH-NO-SCOPE", Severity::Info),
        ];
        steps[1].status = report::StepStatus::Fail;
        let verdict = report::verdict(&steps, "generic");
        CheckReport {
            mcp_url: "https://h.example/mcp".into(),
            client: "generic".into(),
            vantage: "any client".into(),
            mode: "read-only".into(),
            origin: None,
            judged_by: "MCP 2025-11-25 (negotiated in initialize)".into(),
            steps,
            verdict,
            trace: "t.jsonl".into(),
            exchanges: 1,
            trace_write_errors: 0,
            registered_client_id: None,
            tools: Vec::new(),
        }
    }

    /// The parts of the SARIF 2.1.0 schema a consumer relies on, checked structurally.
    pub(crate) fn validate(log: &Value) -> Result<(), String> {
        let req = |v: &Value, path: &str| -> Result<(), String> {
            if v.is_null() {
                Err(format!("missing {path}"))
            } else {
                Ok(())
            }
        };
        if log["version"] != "2.1.0" {
            return Err("version must be 2.1.0".into());
        }
        req(&log["$schema"], "$schema")?;
        let runs = log["runs"].as_array().ok_or("runs must be an array")?;
        for run in runs {
            let driver = &run["tool"]["driver"];
            driver["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or("tool.driver.name must be a non-empty string")?;
            let rules = driver["rules"].as_array().ok_or("driver.rules")?;
            let mut ids = Vec::new();
            for r in rules {
                let id = r["id"].as_str().ok_or("rule.id must be a string")?;
                if ids.contains(&id) {
                    return Err(format!("duplicate rule {id}"));
                }
                ids.push(id);
                if let Some(l) = r.pointer("/defaultConfiguration/level") {
                    if !matches!(l.as_str(), Some("none" | "note" | "warning" | "error")) {
                        return Err(format!("bad default level {l}"));
                    }
                }
            }
            for res in run["results"].as_array().ok_or("results")? {
                res.pointer("/message/text")
                    .and_then(Value::as_str)
                    .ok_or("result.message.text")?;
                let id = res["ruleId"].as_str().ok_or("result.ruleId")?;
                let index = res["ruleIndex"].as_u64().ok_or("result.ruleIndex")? as usize;
                if ids.get(index) != Some(&id) {
                    return Err(format!("ruleIndex {index} does not point at {id}"));
                }
                if !matches!(
                    res["level"].as_str(),
                    Some("none" | "note" | "warning" | "error")
                ) {
                    return Err(format!("bad level {}", res["level"]));
                }
                for loc in res["locations"].as_array().ok_or("result.locations")? {
                    loc.pointer("/physicalLocation/artifactLocation/uri")
                        .and_then(Value::as_str)
                        .ok_or("physicalLocation.artifactLocation.uri")?;
                }
            }
        }
        Ok(())
    }

    #[test]
    fn is_structurally_valid_sarif_with_one_result_per_finding() {
        let log: Value = serde_json::from_str(&sarif(&sample())).unwrap();
        validate(&log).unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), 2);
        assert_eq!(run["results"][0]["ruleId"], "WWWAUTH-MISSING");
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(run["results"][1]["level"], "note");
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["help"]["text"]
                .as_str()
                .unwrap(),
            registry::find("WWWAUTH-MISSING").unwrap().fix
        );
    }

    #[test]
    fn validator_rejects_broken_logs() {
        let good: Value = serde_json::from_str(&sarif(&sample())).unwrap();
        let mut wrong_index = good.clone();
        wrong_index["runs"][0]["results"][0]["ruleIndex"] = 1.into();
        assert!(validate(&wrong_index).is_err());
        let mut wrong_version = good.clone();
        wrong_version["version"] = "2.0.0".into();
        assert!(validate(&wrong_version).is_err());
        let mut no_text = good;
        no_text["runs"][0]["results"][1]["message"] = json!({});
        assert!(validate(&no_text).is_err());
    }

    #[test]
    fn trace_paths_become_uris_that_resolve() {
        let uri = |p: &str| file_uri(std::path::Path::new(p));
        assert_eq!(uri("/tmp/a b.jsonl"), "file:///tmp/a%20b.jsonl");
        assert_eq!(uri("traces/a b.jsonl"), "traces/a%20b.jsonl");
        assert_eq!(uri("t.jsonl"), "t.jsonl");
    }

    #[test]
    fn a_rule_name_is_not_its_id_again() {
        let log: Value = serde_json::from_str(&sarif(&sample())).unwrap();
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
        assert_eq!(rule["id"], "WWWAUTH-MISSING");
        assert!(rule.get("name").is_none(), "{rule}");
    }
}
