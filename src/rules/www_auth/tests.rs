//! Firing and near-miss tests of the www_auth rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;

fn with_challenge(value: &str) -> Vec<B> {
    let mut c = Clean::new();
    c.challenge = c.challenge.set_resp_header("www-authenticate", value);
    c.steps()
}

#[test]
fn fires_on_missing() {
    let mut c = Clean::new();
    c.challenge = c.challenge.no_resp_header("www-authenticate");
    assert_fires("WWWAUTH-MISSING", c.steps());
}
#[test]
fn quiet_on_missing() {
    assert_quiet("WWWAUTH-MISSING", Clean::new().steps());
}
#[test]
fn fires_on_no_resource_metadata() {
    // 2025-06-18: the challenge is the only way to the PRM (MUST).
    let f = assert_fires(
        "WWWAUTH-NO-RESOURCE-METADATA",
        at_revision(with_challenge("Bearer"), "2025-06-18"),
    );
    assert_eq!(f.severity, crate::model::Severity::Error);
    assert!(
        f.message.contains("judged by MCP 2025-06-18"),
        "{}",
        f.message
    );
}
#[test]
fn quiet_on_no_resource_metadata() {
    assert_quiet("WWWAUTH-NO-RESOURCE-METADATA", Clean::new().steps());
    // 2025-11-25 and later allow the well-known PRM instead: info, never error/warning.
    for wire in ["2025-11-25", "2026-07-28"] {
        let all = run(at_revision(with_challenge("Bearer"), wire));
        let f = all
            .iter()
            .find(|f| f.rule == "WWWAUTH-NO-RESOURCE-METADATA")
            .expect("still shown as info");
        assert_eq!(f.severity, crate::model::Severity::Info, "{wire}");
    }
    // 2025-03-26 had no protected resource metadata at all.
    assert_quiet(
        "WWWAUTH-NO-RESOURCE-METADATA",
        at_revision(with_challenge("Bearer"), "2025-03-26"),
    );
}
#[test]
fn fires_on_bearer_not_first() {
    assert_fires(
        "WWWAUTH-BEARER-NOT-FIRST",
        with_challenge(&format!(
            r#"Basic realm="x", Bearer resource_metadata="{PRM_URL}""#
        )),
    );
}
#[test]
fn quiet_on_bearer_not_first() {
    assert_quiet("WWWAUTH-BEARER-NOT-FIRST", Clean::new().steps());
}
#[test]
fn fires_on_malformed() {
    assert_fires(
        "WWWAUTH-MALFORMED",
        with_challenge(&format!(r#"Bearer, resource_metadata="{PRM_URL}""#)),
    );
}
#[test]
fn quiet_on_malformed() {
    assert_quiet("WWWAUTH-MALFORMED", Clean::new().steps());
}
#[test]
fn fires_on_error_without_credentials() {
    assert_fires(
        "WWWAUTH-ERROR-WITHOUT-CREDENTIALS",
        with_challenge(&format!(
            r#"Bearer error="invalid_token", resource_metadata="{PRM_URL}""#
        )),
    );
}
#[test]
fn quiet_on_error_without_credentials() {
    assert_quiet("WWWAUTH-ERROR-WITHOUT-CREDENTIALS", Clean::new().steps());
}
#[test]
fn fires_on_status_error_mismatch() {
    let mut c = Clean::new();
    c.challenge = c
        .challenge
        .status(403)
        .set_resp_header("www-authenticate", r#"Bearer error="invalid_token""#);
    assert_fires("WWWAUTH-STATUS-ERROR-MISMATCH", c.steps());
}
#[test]
fn quiet_on_status_error_mismatch() {
    assert_quiet(
        "WWWAUTH-STATUS-ERROR-MISMATCH",
        with_challenge(r#"Bearer error="invalid_token""#),
    );
}
#[test]
fn fires_on_403_no_scope() {
    let mut c = Clean::new();
    c.list = c
        .list
        .status(403)
        .set_resp_header("www-authenticate", r#"Bearer error="insufficient_scope""#);
    assert_fires("WWWAUTH-403-NO-SCOPE", c.steps());
}
#[test]
fn quiet_on_403_no_scope() {
    assert_quiet("WWWAUTH-403-NO-SCOPE", Clean::new().steps());
}
#[test]
fn fires_on_no_scope() {
    assert_fires(
        "WWWAUTH-NO-SCOPE",
        with_challenge(&format!(r#"Bearer resource_metadata="{PRM_URL}""#)),
    );
}
#[test]
fn quiet_on_no_scope() {
    assert_quiet("WWWAUTH-NO-SCOPE", Clean::new().steps());
}
#[test]
fn fires_on_offline_access() {
    let offline = with_challenge(&format!(
        r#"Bearer resource_metadata="{PRM_URL}", scope="mcp offline_access""#
    ));
    assert_fires(
        "WWWAUTH-OFFLINE-ACCESS",
        at_revision(offline.clone(), "2026-07-28"),
    );
    // A 2026-07-28 recommendation: not judged on a 2025-11-25 flow.
    assert_quiet("WWWAUTH-OFFLINE-ACCESS", offline);
}
#[test]
fn quiet_on_offline_access() {
    assert_quiet("WWWAUTH-OFFLINE-ACCESS", Clean::new().steps());
}
#[test]
fn fires_on_unauth_not_401() {
    let mut c = Clean::new();
    c.challenge = c.challenge.status(403).no_resp_header("www-authenticate");
    assert_fires("MCP-UNAUTH-NOT-401", c.steps());
}
#[test]
fn quiet_on_unauth_not_401() {
    assert_quiet("MCP-UNAUTH-NOT-401", Clean::new().steps());
    // A lone 403 says nothing about auth to a passive observer…
    let lone = || {
        vec![
            Clean::new()
                .challenge
                .status(403)
                .no_resp_header("www-authenticate"),
        ]
    };
    assert_quiet("MCP-UNAUTH-NOT-401", lone());
    // …but `authtap check` probes a server the user says needs OAuth: named there.
    let cfg = crate::rules::config::EngineConfig {
        requires_auth: true,
        ..Default::default()
    };
    let all = run_with(lone(), 0.0, cfg);
    assert!(
        all.iter().any(|f| f.rule == "MCP-UNAUTH-NOT-401"),
        "{:?}",
        ids(&all)
    );
}
#[test]
fn fires_on_bad_token_not_401() {
    let mut c = Clean::new();
    c.list = c.list.status(400).resp_json(r#"{"error":"invalid_token"}"#);
    assert_fires("MCP-BAD-TOKEN-NOT-401", c.steps());
}
#[test]
fn quiet_on_bad_token_not_401() {
    assert_quiet("MCP-BAD-TOKEN-NOT-401", Clean::new().steps());
}
#[test]
fn fires_on_login_redirect() {
    let mut c = Clean::new();
    c.challenge = c
        .challenge
        .status(302)
        .no_resp_header("www-authenticate")
        .resp_header("location", "/login?next=/mcp");
    assert_fires("MCP-LOGIN-REDIRECT", c.steps());
}
#[test]
fn quiet_on_login_redirect() {
    assert_quiet("MCP-LOGIN-REDIRECT", Clean::new().steps());
}
