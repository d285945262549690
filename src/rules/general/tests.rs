//! Firing and near-miss tests of the general rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;

#[test]
fn fires_on_json_content_type() {
    let mut c = Clean::new();
    let body = c
        .prm
        .0
        .response
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap()
        .text
        .clone()
        .unwrap();
    c.prm = c.prm.resp_body("text/plain", &body);
    assert_fires("GEN-JSON-CONTENT-TYPE", c.steps());
}
#[test]
fn quiet_on_json_content_type() {
    assert_quiet("GEN-JSON-CONTENT-TYPE", Clean::new().steps());
}
#[test]
fn fires_on_null_field() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert("registration_endpoint".into(), serde_json::Value::Null);
    });
    assert_fires("GEN-NULL-FIELD", c.steps());
}
#[test]
fn quiet_on_null_field() {
    assert_quiet("GEN-NULL-FIELD", Clean::new().steps());
}
#[test]
fn fires_on_empty_array() {
    let mut c = Clean::new();
    c.prm = c.prm.edit_json(|d| {
        d.insert("scopes_supported".into(), serde_json::json!([]));
    });
    assert_fires("GEN-EMPTY-ARRAY", c.steps());
}
#[test]
fn quiet_on_empty_array() {
    assert_quiet("GEN-EMPTY-ARRAY", Clean::new().steps());
}
#[test]
fn fires_on_not_https() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert(
            "token_endpoint".into(),
            "http://auth.example.com/token".into(),
        );
    });
    assert_fires("GEN-NOT-HTTPS", c.steps());
}
#[test]
fn quiet_on_not_https() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert("token_endpoint".into(), "http://127.0.0.1:9/token".into());
    });
    assert_quiet("GEN-NOT-HTTPS", c.steps());
}
#[test]
fn fires_on_dangerous_scheme() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert(
            "authorization_endpoint".into(),
            "javascript:alert(1)".into(),
        );
    });
    assert_fires("GEN-DANGEROUS-SCHEME", c.steps());
}
#[test]
fn quiet_on_dangerous_scheme() {
    assert_quiet("GEN-DANGEROUS-SCHEME", Clean::new().steps());
}
#[test]
fn fires_on_private_address_and_non_443() {
    let mut c = Clean::new();
    c.challenge = c.challenge.url("http://127.0.0.1:8080/mcp");
    let f = assert_fires("GEN-PRIVATE-ADDRESS", c.clone().steps());
    assert_eq!(f.severity, crate::model::Severity::Info);
    assert_fires("GEN-NON-443", c.clone().steps());
    let cfg = crate::rules::config::EngineConfig {
        profile: crate::rules::profiles::ClientProfile::by_name("claude-ai").unwrap(),
        ..Default::default()
    };
    let all = run_with(c.steps(), 0.0, cfg);
    assert!(
        all.iter()
            .any(|f| f.rule == "GEN-NON-443" && f.severity == crate::model::Severity::Error)
    );
}
#[test]
fn quiet_on_private_address_and_non_443() {
    assert_quiet("GEN-PRIVATE-ADDRESS", Clean::new().steps());
    assert_quiet("GEN-NON-443", Clean::new().steps());
}
#[test]
fn fires_on_redirect_on_api() {
    let mut c = Clean::new();
    c.challenge = c
        .challenge
        .status(301)
        .resp_header("location", "https://www.mcp.example.com/mcp");
    let f = assert_fires("GEN-REDIRECT-ON-API", c.steps());
    assert_eq!(f.severity, crate::model::Severity::Error);
}
#[test]
fn quiet_on_redirect_on_api() {
    assert_quiet("GEN-REDIRECT-ON-API", Clean::new().steps());
}
#[test]
fn fires_on_trailing_slash_redirect() {
    let mut c = Clean::new();
    c.challenge = c
        .challenge
        .status(307)
        .resp_header("location", "https://mcp.example.com/mcp/");
    assert_fires("GEN-TRAILING-SLASH-REDIRECT", c.clone().steps());
    // The general rule applies too (warning: same origin, method-preserving).
    let f = assert_fires("GEN-REDIRECT-ON-API", c.steps());
    assert_eq!(f.severity, crate::model::Severity::Warning);
}
#[test]
fn quiet_on_trailing_slash_redirect() {
    assert_quiet("GEN-TRAILING-SLASH-REDIRECT", Clean::new().steps());
}
#[test]
fn fires_on_locale_redirect() {
    let mut c = Clean::new();
    c.token = c.token.status(307).resp_header("location", "/en/token");
    assert_fires("GEN-LOCALE-REDIRECT", c.steps());
}
#[test]
fn quiet_on_locale_redirect() {
    let mut c = Clean::new();
    c.token = c.token.status(307).resp_header("location", "/v2/token");
    assert_quiet("GEN-LOCALE-REDIRECT", c.steps());
}
#[test]
fn fires_on_slow() {
    let mut c = Clean::new();
    c.token = c.token.took_ms(12_000.0);
    assert_fires("GEN-SLOW", c.steps());
}
#[test]
fn quiet_on_slow() {
    assert_quiet("GEN-SLOW", Clean::new().steps());
}
#[test]
fn fires_on_dup_param() {
    let mut c = Clean::new();
    let u = format!("{}&state=again", c.authorize.0.request.url);
    c.authorize = c.authorize.url(&u);
    assert_fires("GEN-DUP-PARAM", c.steps());
}
#[test]
fn quiet_on_dup_param() {
    assert_quiet("GEN-DUP-PARAM", Clean::new().steps());
}
#[test]
fn fires_on_tls() {
    let mut c = Clean::new();
    c.prm = c.prm.no_response(crate::model::ErrorKind::Tls);
    assert_fires("GEN-TLS", c.steps());
}
#[test]
fn quiet_on_tls() {
    assert_quiet("GEN-TLS", Clean::new().steps());
}
#[test]
fn fires_on_metadata_cached_long() {
    let mut c = Clean::new();
    c.prm = c
        .prm
        .resp_header("cache-control", "public, max-age=604800")
        .resp_header("age", "100");
    assert_fires("GEN-METADATA-CACHED-LONG", c.steps());
}
#[test]
fn quiet_on_metadata_cached_long() {
    assert_quiet("GEN-METADATA-CACHED-LONG", Clean::new().steps());
}
