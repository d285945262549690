//! Firing and near-miss tests of the token rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;
use serde_json::json;

fn body(f: impl FnOnce(String) -> String) -> Vec<B> {
    let mut c = Clean::new();
    c.token = c.token.edit_req_body(f);
    c.steps()
}
fn resp(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<B> {
    let mut c = Clean::new();
    c.token = c.token.edit_json(f);
    c.steps()
}
fn status(st: u16, json: &str) -> Vec<B> {
    let mut c = Clean::new();
    c.token = c.token.status(st).resp_json(json);
    c.steps()
}

#[test]
fn fires_on_req_encoding() {
    let mut c = Clean::new();
    c.token = c
        .token
        .no_req_header("content-type")
        .req_header("content-type", "application/json");
    assert_fires("TOKEN-REQ-ENCODING", c.steps());
}
#[test]
fn quiet_on_req_encoding() {
    assert_quiet("TOKEN-REQ-ENCODING", Clean::new().steps());
}
#[test]
fn fires_on_req_no_verifier() {
    assert_fires(
        "TOKEN-REQ-NO-VERIFIER",
        body(|b| b.replace(&format!("&code_verifier={VERIFIER}"), "")),
    );
}
#[test]
fn quiet_on_req_no_verifier() {
    assert_quiet("TOKEN-REQ-NO-VERIFIER", Clean::new().steps());
}
#[test]
fn fires_on_req_verifier_format() {
    assert_fires(
        "TOKEN-REQ-VERIFIER-FORMAT",
        body(|b| b.replace(VERIFIER, "short")),
    );
}
#[test]
fn quiet_on_req_verifier_format() {
    assert_quiet("TOKEN-REQ-VERIFIER-FORMAT", Clean::new().steps());
}
#[test]
fn fires_on_req_no_resource() {
    assert_fires(
        "TOKEN-REQ-NO-RESOURCE",
        body(|b| b.replace(&format!("&resource={}", enc(MCP)), "")),
    );
}
#[test]
fn quiet_on_req_no_resource() {
    assert_quiet("TOKEN-REQ-NO-RESOURCE", Clean::new().steps());
}
#[test]
fn fires_on_req_multi_auth() {
    let mut c = Clean::new();
    c.token = c
        .token
        .edit_req_body(|b| format!("{b}&client_secret=s"))
        .req_header("authorization", "Basic Y2xpZW50LTE6cw==");
    assert_fires("TOKEN-REQ-MULTI-AUTH", c.steps());
}
#[test]
fn quiet_on_req_multi_auth() {
    assert_quiet("TOKEN-REQ-MULTI-AUTH", Clean::new().steps());
}
#[test]
fn fires_on_req_no_client_id() {
    assert_fires(
        "TOKEN-REQ-NO-CLIENT-ID",
        body(|b| b.replace("&client_id=client-1", "")),
    );
}
#[test]
fn quiet_on_req_no_client_id() {
    assert_quiet("TOKEN-REQ-NO-CLIENT-ID", Clean::new().steps());
}
#[test]
fn quiet_on_req_no_client_id_with_a_client_assertion() {
    // private_key_jwt (RFC 7523 §2.2): the assertion names the client, client_id may go.
    assert_quiet(
        "TOKEN-REQ-NO-CLIENT-ID",
        body(|b| {
            b.replace("&client_id=client-1", "")
                + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjbGllbnQtMSJ9.c2ln"
        }),
    );
    // An assertion type without the assertion still fires.
    assert_fires(
        "TOKEN-REQ-NO-CLIENT-ID",
        body(|b| {
            b.replace("&client_id=client-1", "")
                + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        }),
    );
}
#[test]
fn fires_on_resp_no_store() {
    let mut c = Clean::new();
    c.token = c.token.no_resp_header("cache-control");
    assert_fires("TOKEN-RESP-NO-STORE", c.steps());
}
#[test]
fn quiet_on_resp_no_store() {
    assert_quiet("TOKEN-RESP-NO-STORE", Clean::new().steps());
}
#[test]
fn fires_on_resp_fields() {
    assert_fires(
        "TOKEN-RESP-FIELDS",
        resp(|d| {
            d.remove("token_type");
        }),
    );
}
#[test]
fn quiet_on_resp_fields() {
    assert_quiet("TOKEN-RESP-FIELDS", Clean::new().steps());
}
#[test]
fn fires_on_resp_token_type() {
    assert_fires(
        "TOKEN-RESP-TOKEN-TYPE",
        resp(|d| {
            d.insert("token_type".into(), "DPoP".into());
        }),
    );
}
#[test]
fn quiet_on_resp_token_type() {
    assert_quiet("TOKEN-RESP-TOKEN-TYPE", Clean::new().steps());
}
#[test]
fn fires_on_resp_scope_array() {
    assert_fires(
        "TOKEN-RESP-SCOPE-ARRAY",
        resp(|d| {
            d.insert("scope".into(), json!(["mcp"]));
        }),
    );
}
#[test]
fn quiet_on_resp_scope_array() {
    assert_quiet("TOKEN-RESP-SCOPE-ARRAY", Clean::new().steps());
}
#[test]
fn fires_on_resp_expires() {
    let f = assert_fires(
        "TOKEN-RESP-EXPIRES",
        resp(|d| {
            d.insert("expires_in".into(), "3600".into());
        }),
    );
    assert_eq!(f.severity, crate::model::Severity::Warning);
}
#[test]
fn quiet_on_resp_expires() {
    assert_quiet("TOKEN-RESP-EXPIRES", Clean::new().steps());
}
#[test]
fn fires_on_resp_200_error() {
    assert_fires(
        "TOKEN-RESP-200-ERROR",
        status(200, r#"{"error":"bad_verification_code"}"#),
    );
}
#[test]
fn quiet_on_resp_200_error() {
    assert_quiet("TOKEN-RESP-200-ERROR", Clean::new().steps());
}
#[test]
fn fires_on_resp_invalid_client_400() {
    assert_fires(
        "TOKEN-RESP-INVALID-CLIENT-400",
        status(400, r#"{"error":"invalid_client"}"#),
    );
}
#[test]
fn quiet_on_resp_invalid_client_400() {
    assert_quiet(
        "TOKEN-RESP-INVALID-CLIENT-400",
        status(401, r#"{"error":"invalid_client"}"#),
    );
}
#[test]
fn fires_on_resp_error_format() {
    assert_fires(
        "TOKEN-RESP-ERROR-FORMAT",
        status(500, r#"{"message":"boom"}"#),
    );
}
#[test]
fn quiet_on_resp_error_format() {
    assert_quiet(
        "TOKEN-RESP-ERROR-FORMAT",
        status(400, r#"{"error":"invalid_grant"}"#),
    );
}
#[test]
fn fires_on_jwt_sanity() {
    let t = jwt(json!({"iss": ISSUER, "aud": MCP}));
    assert_fires(
        "TOKEN-JWT-SANITY",
        resp(|d| {
            d.insert("access_token".into(), t.into());
        }),
    );
}
#[test]
fn quiet_on_jwt_sanity() {
    assert_quiet("TOKEN-JWT-SANITY", Clean::new().steps());
}
