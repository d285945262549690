//! Firing and near-miss tests of the dcr rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;
use serde_json::json;

fn dcr_edit(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<B> {
    let mut c = Clean::new();
    c.dcr = c.dcr.edit_json(f);
    c.steps()
}
fn dcr_req_edit(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<B> {
    let mut c = Clean::new();
    c.dcr = c.dcr.edit_req_json(f);
    c.steps()
}

#[test]
fn fires_on_requires_auth() {
    let mut c = Clean::new();
    c.dcr = c.dcr.status(401).resp_json(r#"{"error":"invalid_token"}"#);
    assert_fires("DCR-REQUIRES-AUTH", c.steps());
}
#[test]
fn quiet_on_requires_auth() {
    assert_quiet("DCR-REQUIRES-AUTH", Clean::new().steps());
}
#[test]
fn fires_on_rejects_secret_post() {
    let mut c = Clean::new();
    c.dcr = c.dcr.edit_req_json(|d| {
        d.insert(
            "token_endpoint_auth_method".into(),
            "client_secret_post".into(),
        );
    });
    c.dcr = c.dcr.status(400).resp_json(
        r#"{"error":"invalid_client_metadata","error_description":"needs authenticated session"}"#,
    );
    assert_fires("DCR-REJECTS-SECRET-POST", c.steps());
}
#[test]
fn quiet_on_rejects_secret_post() {
    assert_quiet("DCR-REJECTS-SECRET-POST", Clean::new().steps());
}
#[test]
fn fires_on_redirect_rejected() {
    let mut c = Clean::new();
    c.dcr = c
        .dcr
        .status(400)
        .resp_json(r#"{"error":"invalid_redirect_uri"}"#);
    assert_fires("DCR-REDIRECT-REJECTED", c.steps());
}
#[test]
fn quiet_on_redirect_rejected() {
    assert_quiet("DCR-REDIRECT-REJECTED", Clean::new().steps());
}
#[test]
fn fires_on_error_format() {
    let mut c = Clean::new();
    c.dcr = c.dcr.status(500).resp_body("", "");
    assert_fires("DCR-ERROR-FORMAT", c.steps());
}
#[test]
fn quiet_on_error_format() {
    let mut c = Clean::new();
    c.dcr = c
        .dcr
        .status(400)
        .resp_json(r#"{"error":"invalid_client_metadata"}"#);
    assert_quiet("DCR-ERROR-FORMAT", c.steps());
}
#[test]
fn fires_on_status() {
    let mut c = Clean::new();
    c.dcr = c.dcr.status(200);
    assert_fires("DCR-STATUS", c.steps());
}
#[test]
fn quiet_on_status() {
    assert_quiet("DCR-STATUS", Clean::new().steps());
}
#[test]
fn fires_on_no_client_id() {
    assert_fires(
        "DCR-NO-CLIENT-ID",
        dcr_edit(|d| {
            d.insert("client_id".into(), json!(42));
        }),
    );
}
#[test]
fn quiet_on_no_client_id() {
    assert_quiet("DCR-NO-CLIENT-ID", Clean::new().steps());
}
#[test]
fn fires_on_float_expiry() {
    let mut c = Clean::new();
    c.dcr = c.dcr.resp_json(&format!(r#"{{"client_id":"client-1","client_secret":"s","client_secret_expires_at":1749600000.0,"redirect_uris":["{REDIRECT}"]}}"#));
    let f = assert_fires("DCR-FLOAT-EXPIRY", c.steps());
    assert!(f.message.contains("1749600000.0"), "{}", f.message);
}
#[test]
fn quiet_on_float_expiry() {
    assert_quiet("DCR-FLOAT-EXPIRY", Clean::new().steps());
}
#[test]
fn fires_on_null_optional() {
    assert_fires(
        "DCR-NULL-OPTIONAL",
        dcr_edit(|d| {
            d.insert("client_uri".into(), json!(null));
            d.insert("software_id".into(), json!(null));
        }),
    );
}
#[test]
fn quiet_on_null_optional() {
    assert_quiet("DCR-NULL-OPTIONAL", Clean::new().steps());
}
#[test]
fn fires_on_url_fields() {
    assert_fires(
        "DCR-URL-FIELDS",
        dcr_edit(|d| {
            d.insert("client_uri".into(), "".into());
        }),
    );
}
#[test]
fn quiet_on_url_fields() {
    assert_quiet(
        "DCR-URL-FIELDS",
        dcr_edit(|d| {
            d.insert("logo_uri".into(), "".into());
        }),
    );
}
#[test]
fn fires_on_no_redirect_echo() {
    assert_fires(
        "DCR-NO-REDIRECT-ECHO",
        dcr_edit(|d| {
            d.remove("redirect_uris");
        }),
    );
}
#[test]
fn quiet_on_no_redirect_echo() {
    assert_quiet("DCR-NO-REDIRECT-ECHO", Clean::new().steps());
}
#[test]
fn fires_on_secret_no_expiry() {
    assert_fires(
        "DCR-SECRET-NO-EXPIRY",
        dcr_edit(|d| {
            d.insert("client_secret".into(), "s".into());
        }),
    );
}
#[test]
fn quiet_on_secret_no_expiry() {
    assert_quiet(
        "DCR-SECRET-NO-EXPIRY",
        dcr_edit(|d| {
            d.insert("client_secret".into(), "s".into());
            d.insert("client_secret_expires_at".into(), json!(0));
        }),
    );
}
#[test]
fn fires_on_secret_expired() {
    assert_fires(
        "DCR-SECRET-EXPIRED",
        dcr_edit(|d| {
            d.insert("client_secret".into(), "s".into());
            d.insert("client_secret_expires_at".into(), json!(1_000_000));
        }),
    );
}
#[test]
fn quiet_on_secret_expired() {
    assert_quiet("DCR-SECRET-EXPIRED", Clean::new().steps());
}
#[test]
fn fires_on_method_unsupported() {
    assert_fires(
        "DCR-METHOD-UNSUPPORTED",
        dcr_edit(|d| {
            d.insert(
                "token_endpoint_auth_method".into(),
                "client_secret_post".into(),
            );
        }),
    );
}
#[test]
fn quiet_on_method_unsupported() {
    assert_quiet("DCR-METHOD-UNSUPPORTED", Clean::new().steps());
}
#[test]
fn fires_on_method_changed() {
    assert_fires(
        "DCR-METHOD-CHANGED",
        dcr_req_edit(|d| {
            d.insert(
                "token_endpoint_auth_method".into(),
                "client_secret_post".into(),
            );
        }),
    );
}
#[test]
fn quiet_on_method_changed() {
    assert_quiet("DCR-METHOD-CHANGED", Clean::new().steps());
}
#[test]
fn fires_on_no_registration_client_uri() {
    assert_fires(
        "DCR-NO-REGISTRATION-CLIENT-URI",
        dcr_edit(|d| {
            d.remove("registration_client_uri");
        }),
    );
}
#[test]
fn quiet_on_no_registration_client_uri() {
    assert_quiet("DCR-NO-REGISTRATION-CLIENT-URI", Clean::new().steps());
}
#[test]
fn fires_on_req_malformed() {
    assert_fires(
        "DCR-REQ-MALFORMED",
        dcr_req_edit(|d| {
            d.remove("redirect_uris");
        }),
    );
}
#[test]
fn quiet_on_req_malformed() {
    assert_quiet("DCR-REQ-MALFORMED", Clean::new().steps());
}
#[test]
fn fires_on_req_no_app_type() {
    assert_fires(
        "DCR-REQ-NO-APP-TYPE",
        dcr_req_edit(|d| {
            d.insert("application_type".into(), "web".into());
        }),
    );
}
#[test]
fn quiet_on_req_no_app_type() {
    assert_quiet("DCR-REQ-NO-APP-TYPE", Clean::new().steps());
}
#[test]
fn names_an_omitted_app_type_with_loopback_redirects_as_info() {
    let found = ids(&run(dcr_req_edit(|d| {
        d.remove("application_type");
    })));
    assert!(
        found.iter().any(|f| f == "DCR-REQ-NO-APP-TYPE:info"),
        "{found:?}"
    );
    // Near miss: omitted, but with an https callback (a web client by default) — quiet.
    assert_quiet(
        "DCR-REQ-NO-APP-TYPE",
        dcr_req_edit(|d| {
            d.remove("application_type");
            d.insert(
                "redirect_uris".into(),
                json!(["https://claude.ai/api/mcp/auth_callback"]),
            );
        }),
    );
}
#[test]
fn fires_on_req_no_refresh_grant() {
    assert_fires(
        "DCR-REQ-NO-REFRESH-GRANT",
        dcr_req_edit(|d| {
            d.insert("grant_types".into(), json!(["authorization_code"]));
        }),
    );
}
#[test]
fn quiet_on_req_no_refresh_grant() {
    assert_quiet("DCR-REQ-NO-REFRESH-GRANT", Clean::new().steps());
}
#[test]
fn fires_on_cimd_unadvertised() {
    let mut c = Clean::new();
    let u = c.authorize.0.request.url.replace(
        "client_id=client-1",
        "client_id=https%3A%2F%2Fclient.example%2Fmeta.json",
    );
    c.authorize = c.authorize.url(&u);
    assert_fires("CIMD-UNADVERTISED", c.steps());
}
#[test]
fn quiet_on_cimd_unadvertised() {
    assert_quiet("CIMD-UNADVERTISED", Clean::new().steps());
}
#[test]
fn fires_on_cimd_url_invalid() {
    let mut c = Clean::new();
    let u = c.authorize.0.request.url.replace(
        "client_id=client-1",
        "client_id=http%3A%2F%2Fclient.example",
    );
    c.authorize = c.authorize.url(&u);
    assert_fires("CIMD-URL-INVALID", c.steps());
}
#[test]
fn quiet_on_cimd_url_invalid() {
    assert_quiet("CIMD-URL-INVALID", Clean::new().steps());
}
#[test]
fn fires_on_cimd_doc_invalid() {
    let c = Clean::new();
    let u = c.authorize.0.request.url.replace(
        "client_id=client-1",
        "client_id=https%3A%2F%2Fclient.example%2Fmeta.json",
    );
    let steps = vec![
        c.challenge,
        c.prm,
        c.asm,
        c.authorize.url(&u),
        get("https://client.example/meta.json")
            .at(4.5)
            .resp_body("text/html", "<html></html>"),
    ];
    assert_fires("CIMD-DOC-INVALID", steps);
}
#[test]
fn quiet_on_cimd_doc_invalid() {
    assert_quiet("CIMD-DOC-INVALID", Clean::new().steps());
}
