//! What authtap's rule catalog says each rule breaks (`authtap rules --format json`), read
//! once per test binary, so a test can hold a rule's "breaks" claim against what a pinned SDK
//! client actually did.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use super::peers::ClientSdk;

/// Rule id → its "breaks" text (a list is joined with `; `).
fn breaks_by_rule() -> &'static BTreeMap<String, String> {
    static CATALOG: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_authtap"))
            .args(["rules", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "authtap rules --format json failed");
        let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
        rules
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let id = r["rule"].as_str()?.to_string();
                let breaks = match &r["breaks"] {
                    Value::String(s) => s.clone(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join("; "),
                    _ => String::new(),
                };
                Some((id, breaks))
            })
            .collect()
    })
}

/// Whether one `;`-separated segment of a "breaks" text claims `client` fails: it starts with
/// the client's name (`TS`, `TS/CC`, `Python`, `PY`; not `TS v2`, a later major version than
/// the pinned 1.x) or says `all` / `all (…)` / `all clients` / `all MCP clients`.
fn segment_claims(segment: &str, client: ClientSdk) -> bool {
    let lower = segment.trim().to_ascii_lowercase();
    if lower == "all"
        || lower.starts_with("all (")
        || lower == "all clients"
        || lower == "all mcp clients"
    {
        return true;
    }
    let first = lower
        .split([' ', '(', ':'])
        .next()
        .unwrap_or_default()
        .to_string();
    let names: Vec<&str> = first.split('/').collect();
    match client {
        ClientSdk::TypeScript => names.contains(&"ts") && !lower.starts_with("ts v2"),
        ClientSdk::Python => names.contains(&"py") || names.contains(&"python"),
    }
}

/// The "breaks" text of one finding when it claims `client` fails on it: the finding's own
/// text (a rule narrows it per occurrence, e.g. to strict clients only), else the catalog's.
pub fn claims_to_break(rule: &str, finding_breaks: &str, client: ClientSdk) -> Option<String> {
    let breaks = if finding_breaks.is_empty() {
        breaks_by_rule().get(rule)?
    } else {
        finding_breaks
    };
    breaks
        .split(';')
        .any(|segment| segment_claims(segment, client))
        .then(|| breaks.to_string())
}

#[cfg(test)]
mod tests {
    use super::{ClientSdk, segment_claims};

    #[test]
    fn segments_name_the_clients_they_claim() {
        assert!(segment_claims(
            "TS (\"Protected resource … does not match\")",
            ClientSdk::TypeScript
        ));
        assert!(segment_claims("TS/CC: Zod", ClientSdk::TypeScript));
        assert!(!segment_claims(
            "TS v2 rejects fragments",
            ClientSdk::TypeScript
        ));
        assert!(segment_claims("all (JSON parse fails)", ClientSdk::Python));
        assert!(!segment_claims("all legacy clients", ClientSdk::Python));
        assert!(!segment_claims("CAI", ClientSdk::TypeScript));
        assert!(segment_claims("Python SDK raises", ClientSdk::Python));
        assert!(!segment_claims(
            "TS reads only the first",
            ClientSdk::Python
        ));
    }
}
