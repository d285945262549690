//! Reading a JSONL trace as the test sees it: phases of the exchanges, the origins each phase
//! went to, and every finding (per exchange and per flow) with its severity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// The flow phases every complete OAuth + MCP flow must show.
pub const FLOW_PHASES: [&str; 6] = [
    "discovery-prm",
    "discovery-as",
    "registration",
    "authorize",
    "token",
    "mcp-transport",
];

/// One finding as recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeenFinding {
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// Rule id.
    pub rule: String,
    /// `#id METHOD url` of the exchange, or `flow N`.
    pub at: String,
    /// The finding's message.
    pub message: String,
    /// Which clients this occurrence breaks (the rule may narrow its catalog text per case).
    pub breaks: String,
}

/// A parsed trace.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Every line that parsed as JSON.
    pub records: Vec<Value>,
    /// Lines that did not parse (a trace must have none).
    pub bad_lines: usize,
}

impl Trace {
    /// Reads the file; a missing file reads as empty.
    pub fn read(path: &Path) -> Trace {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut trace = Trace::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Value>(line) {
                Ok(v) => trace.records.push(v),
                Err(_) => trace.bad_lines += 1,
            }
        }
        trace
    }

    /// The exchange records.
    pub fn exchanges(&self) -> impl Iterator<Item = &Value> {
        self.records.iter().filter(|r| r["type"] == "exchange")
    }

    /// Phase → set of upstream origins (`scheme://host:port`) its exchanges went to.
    pub fn phase_origins(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for ex in self.exchanges() {
            let phase = ex["phase"].as_str().unwrap_or("(none)").to_string();
            let origin = ex["request"]["url"]
                .as_str()
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            map.entry(phase).or_default().insert(origin);
        }
        map
    }

    /// The required phases that no exchange was labelled with.
    pub fn missing_phases(&self) -> Vec<&'static str> {
        let seen = self.phase_origins();
        FLOW_PHASES
            .iter()
            .copied()
            .filter(|p| !seen.contains_key(*p))
            .collect()
    }

    /// Every finding, from exchanges and from flow-level records, sorted, deduplicated.
    pub fn findings(&self) -> Vec<SeenFinding> {
        let mut out = BTreeSet::new();
        for rec in &self.records {
            let at = match rec["type"].as_str() {
                Some("exchange") => format!(
                    "#{} {} {}",
                    rec["id"],
                    rec["request"]["method"].as_str().unwrap_or("?"),
                    rec["request"]["url"].as_str().unwrap_or("?")
                ),
                Some("flow_findings") => format!("flow {}", rec["flow"]),
                _ => continue,
            };
            for f in rec["findings"].as_array().into_iter().flatten() {
                let at = match f["exchange"].as_u64() {
                    Some(id) if rec["type"] == "flow_findings" => format!("{at} (exchange #{id})"),
                    _ => at.clone(),
                };
                out.insert(SeenFinding {
                    severity: f["severity"].as_str().unwrap_or("?").to_string(),
                    rule: f["rule"].as_str().unwrap_or("?").to_string(),
                    at,
                    message: f["message"].as_str().unwrap_or("").to_string(),
                    breaks: f["breaks"].as_str().unwrap_or("").to_string(),
                });
            }
        }
        out.into_iter().collect()
    }

    /// The distinct rule ids found, at any severity.
    pub fn rule_ids(&self) -> BTreeSet<String> {
        self.findings().into_iter().map(|f| f.rule).collect()
    }

    /// One line per exchange: `#id phase status METHOD url`, for failure messages.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for ex in self.exchanges() {
            s.push_str(&format!(
                "  #{} {:<14} {} {} {}\n",
                ex["id"],
                ex["phase"].as_str().unwrap_or("-"),
                ex["response"]["status"],
                ex["request"]["method"].as_str().unwrap_or("?"),
                ex["request"]["url"].as_str().unwrap_or("?"),
            ));
        }
        s
    }
}

/// Where a trace recorded the authorization response (the redirect back to the client with
/// `code` or `error` and the client's `state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAuthorizationResponse {
    /// The exchange's phase.
    pub phase: String,
    /// `#id METHOD url` of the exchange.
    pub at: String,
    /// `request query` (a callback that reached authtap) or `response Location` (the
    /// authorization endpoint's redirect).
    pub carried_by: &'static str,
}

/// Whether `url` (absolute, or relative to a dummy base) carries an authorization response for
/// `state`: `code` or `error`, and that `state`.
fn is_authorization_response(url: &str, state: &str) -> bool {
    let base = url::Url::parse("http://relative.invalid/").ok();
    let Some(parsed) = url::Url::options().base_url(base.as_ref()).parse(url).ok() else {
        return false;
    };
    let query: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    (query.contains_key("code") || query.contains_key("error"))
        && query.get("state").map(String::as_str) == Some(state)
}

impl Trace {
    /// The exchange that recorded the authorization response for `state`, if any.
    pub fn authorization_response(&self, state: &str) -> Option<RecordedAuthorizationResponse> {
        self.exchanges().find_map(|ex| {
            let url = ex["request"]["url"].as_str().unwrap_or_default();
            let client_url = ex["request"]["client_url"].as_str().unwrap_or_default();
            let location = ex["response"]["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("location"))
                })
                .and_then(|h| h["value"].as_str())
                .unwrap_or_default();
            let carried_by = if is_authorization_response(url, state)
                || is_authorization_response(client_url, state)
            {
                "request query"
            } else if is_authorization_response(location, state) {
                "response Location"
            } else {
                return None;
            };
            Some(RecordedAuthorizationResponse {
                phase: ex["phase"].as_str().unwrap_or_default().to_string(),
                at: format!(
                    "#{} {} {}",
                    ex["id"],
                    ex["request"]["method"].as_str().unwrap_or("?"),
                    url
                ),
                carried_by,
            })
        })
    }

    /// Every note authtap recorded about what it did (rewrite entries with location `note`).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = BTreeSet::new();
        for ex in self.exchanges() {
            for r in ex["rewrites"].as_array().into_iter().flatten() {
                if r["location"] == "note" {
                    notes.insert(format!("#{}: {}", ex["id"], r["to"].as_str().unwrap_or("")));
                }
            }
        }
        notes.into_iter().collect()
    }
}
