//! Firing and near-miss tests of the authorize rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;

fn authz(f: impl FnOnce(String) -> String) -> Vec<B> {
    let mut c = Clean::new();
    let u = f(c.authorize.0.request.url.clone());
    c.authorize = c.authorize.url(&u);
    c.steps()
}

#[test]
fn fires_on_no_pkce() {
    assert_fires(
        "AUTHZ-NO-PKCE",
        authz(|u| u.replace("&code_challenge=", "&x=")),
    );
}
#[test]
fn quiet_on_no_pkce() {
    assert_quiet("AUTHZ-NO-PKCE", Clean::new().steps());
}
#[test]
fn fires_on_pkce_plain() {
    assert_fires(
        "AUTHZ-PKCE-PLAIN",
        authz(|u| u.replace("&code_challenge_method=S256", "")),
    );
}
#[test]
fn quiet_on_pkce_plain() {
    assert_quiet("AUTHZ-PKCE-PLAIN", Clean::new().steps());
}
#[test]
fn fires_on_pkce_format() {
    assert_fires(
        "AUTHZ-PKCE-FORMAT",
        authz(|u| u.replace("&code_challenge=", "&code_challenge=abc%3D")),
    );
}
#[test]
fn quiet_on_pkce_format() {
    assert_quiet("AUTHZ-PKCE-FORMAT", Clean::new().steps());
}
#[test]
fn fires_on_response_type() {
    assert_fires(
        "AUTHZ-RESPONSE-TYPE",
        authz(|u| u.replace("response_type=code", "response_type=token")),
    );
}
#[test]
fn quiet_on_response_type() {
    assert_quiet("AUTHZ-RESPONSE-TYPE", Clean::new().steps());
}
#[test]
fn fires_on_no_state() {
    assert_fires(
        "AUTHZ-NO-STATE",
        authz(|u| u.replace(&format!("&state={STATE}"), "")),
    );
}
#[test]
fn quiet_on_no_state() {
    assert_quiet("AUTHZ-NO-STATE", Clean::new().steps());
}
#[test]
fn fires_on_no_resource() {
    assert_fires(
        "AUTHZ-NO-RESOURCE",
        authz(|u| u.replace("&resource=", "&x=")),
    );
}
#[test]
fn quiet_on_no_resource() {
    assert_quiet("AUTHZ-NO-RESOURCE", Clean::new().steps());
}
#[test]
fn fires_on_resource_invalid() {
    assert_fires(
        "AUTHZ-RESOURCE-INVALID",
        authz(|u| u.replace("&resource=", "&resource=mcp&x=")),
    );
}
#[test]
fn quiet_on_resource_invalid() {
    assert_quiet("AUTHZ-RESOURCE-INVALID", Clean::new().steps());
}
#[test]
fn fires_on_redirect_scheme() {
    assert_fires(
        "AUTHZ-REDIRECT-SCHEME",
        authz(|u| u.replace(&enc(REDIRECT), &enc("http://client.example/cb"))),
    );
}
#[test]
fn quiet_on_redirect_scheme() {
    assert_quiet("AUTHZ-REDIRECT-SCHEME", Clean::new().steps());
}
#[test]
fn fires_on_scope_malformed() {
    assert_fires(
        "AUTHZ-SCOPE-MALFORMED",
        authz(|u| u.replace("scope=mcp", "scope=+offline_access")),
    );
}
#[test]
fn quiet_on_scope_malformed() {
    assert_quiet("AUTHZ-SCOPE-MALFORMED", Clean::new().steps());
}
#[test]
fn fires_on_scope_strategy() {
    assert_fires(
        "AUTHZ-SCOPE-STRATEGY",
        authz(|u| u.replace("scope=mcp", "scope=admin")),
    );
}
#[test]
fn quiet_on_scope_strategy() {
    assert_quiet("AUTHZ-SCOPE-STRATEGY", Clean::new().steps());
}
#[test]
fn fires_on_offline_unadvertised() {
    let offline = authz(|u| u.replace("scope=mcp", "scope=mcp+offline_access"));
    assert_fires(
        "AUTHZ-OFFLINE-UNADVERTISED",
        at_revision(offline, "2026-07-28"),
    );
}
#[test]
fn quiet_on_offline_unadvertised() {
    assert_quiet("AUTHZ-OFFLINE-UNADVERTISED", Clean::new().steps());
    // A 2026-07-28 requirement: not judged on a 2025-11-25 flow.
    let offline = authz(|u| u.replace("scope=mcp", "scope=mcp+offline_access"));
    assert_quiet("AUTHZ-OFFLINE-UNADVERTISED", offline);
}
#[test]
fn fires_on_resource_rejected() {
    let mut c = Clean::new();
    c.authorize = c.authorize.set_resp_header(
        "location",
        &format!("{REDIRECT}?error=invalid_target&state={STATE}"),
    );
    assert_fires("AUTHZ-RESOURCE-REJECTED", c.steps());
}
#[test]
fn quiet_on_resource_rejected() {
    assert_quiet("AUTHZ-RESOURCE-REJECTED", Clean::new().steps());
}
#[test]
fn fires_on_307_after_post() {
    let mut c = Clean::new();
    let consent = req("POST", &format!("{ISSUER}/consent"))
        .at(4.5)
        .status(307)
        .resp_header(
            "location",
            &format!("{REDIRECT}?code={CODE}&state={STATE}&iss={}", enc(ISSUER)),
        );
    c.authorize = c
        .authorize
        .status(200)
        .no_resp_header("location")
        .resp_body("text/html", "<form method=post action=/consent>");
    let mut s = c.steps();
    s.insert(5, consent);
    assert_fires("AUTHZ-307-AFTER-POST", s);
}
#[test]
fn quiet_on_307_after_post() {
    assert_quiet("AUTHZ-307-AFTER-POST", Clean::new().steps());
}
#[test]
fn fires_on_form_post() {
    let mut c = Clean::new();
    c.authorize = c.authorize.status(200).no_resp_header("location").resp_body("text/html", &format!("<html><form method=\"post\" action=\"{REDIRECT}\"><input name=\"code\" value=\"c\"></form></html>"));
    assert_fires("AUTHZ-FORM-POST", c.steps());
}
#[test]
fn quiet_on_form_post() {
    assert_quiet("AUTHZ-FORM-POST", Clean::new().steps());
}
#[test]
fn fires_on_error_not_redirected() {
    let mut c = Clean::new();
    c.authorize = c
        .authorize
        .status(400)
        .no_resp_header("location")
        .resp_json(r#"{"error":"invalid_scope"}"#);
    assert_fires("AUTHZ-ERROR-NOT-REDIRECTED", c.steps());
}
#[test]
fn quiet_on_error_not_redirected() {
    assert_quiet("AUTHZ-ERROR-NOT-REDIRECTED", Clean::new().steps());
}
#[test]
fn fires_on_loopback_port_rejected() {
    let mut c = Clean::new();
    let u = c
        .authorize
        .0
        .request
        .url
        .replace(&enc(REDIRECT), &enc("http://127.0.0.1:50000/callback"));
    c.authorize = c
        .authorize
        .url(&u)
        .status(400)
        .no_resp_header("location")
        .resp_json(r#"{"error":"invalid_request"}"#);
    assert_fires("AUTHZ-LOOPBACK-PORT-REJECTED", c.steps());
}
#[test]
fn quiet_on_loopback_port_rejected() {
    assert_quiet("AUTHZ-LOOPBACK-PORT-REJECTED", Clean::new().steps());
}
