//! The Markdown issue report: every connector-issue-template field, findings table, timeline,
//! evidence bodies, ofids, escaping of traffic, and a size that fits a GitHub issue.

use crate::export_support;

use assert_cmd::Command;
use export_support::fixture;

fn render(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    std::fs::write(&trace, fixture::canary_jsonl()).unwrap();
    let md = dir.path().join("report.md");
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .args([
            "export",
            trace.to_str().unwrap(),
            "--md",
            md.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(md).unwrap()
}

#[test]
fn markdown_has_every_template_field_and_evidence() {
    let md = render(&["--ofid", "ofid_cli00001"]);
    assert!(
        md.starts_with("> **Redacted export.**"),
        "top line says redacted"
    );
    for field in [
        "| Server URL | https://mcp.example.test/mcp |",
        "| Where it failed | Connect — first error finding DCR-FLOAT-EXPIRY",
        "| Transport | Streamable HTTP",
        "| Registration type | DCR",
        "| POST /mcp without auth returned | 401 with WWW-Authenticate: Bearer resource_metadata=",
        "| Timestamps (with timezone) | 2026-11-22T11:29:59.5Z",
        "| Client | claude.ai / Claude Desktop connector (CAI)",
        "| Error reference ids (ofid) | ofid_a41b6f81, ofid_traffic9876, ofid_cli00001 |",
        "## Findings",
        "| error | DCR-FLOAT-EXPIRY | AS |",
        "## Server-side timeline",
        "## Evidence (redacted)",
        "## Error references",
    ] {
        assert!(md.contains(field), "missing {field:?} in\n{md}");
    }
    assert!(
        md.contains("\"client_secret_expires_at\": 1749600000.0"),
        "registration evidence body"
    );
    assert!(
        md.contains("grant_type=authorization_code"),
        "token evidence body"
    );
    assert!(md.contains("exchanges just before:"));
    assert!(md.len() < 30_000, "pasteable: {} chars", md.len());
    for canary in fixture::CANARIES {
        assert!(!md.contains(canary), "{canary} leaked");
    }
}

#[test]
fn markdown_escapes_html_from_traffic() {
    let md = render(&[]);
    // The login page with the injection is not evidence, but its path and any text from
    // traffic in tables must be escaped; the raw injection never appears outside code fences.
    let outside_fences: String = md.split("```").step_by(2).collect();
    assert!(
        !outside_fences.contains("<script"),
        "unescaped <script outside code blocks"
    );
    assert!(
        !outside_fences.contains("<img"),
        "unescaped <img outside code blocks"
    );
}
