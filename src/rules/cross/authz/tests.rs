//! Firing and near-miss tests of the cross/authz rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;

fn token_body(f: impl FnOnce(String) -> String) -> Vec<B> {
    let mut c = Clean::new();
    c.token = c.token.edit_req_body(f);
    c.steps()
}

#[test]
fn fires_on_pkce_mismatch() {
    let f = assert_fires(
        "X-PKCE-MISMATCH",
        token_body(|b| b.replace(VERIFIER, "another-verifier-0123456789-0123456789-012345")),
    );
    assert!(f.exchange.is_some());
}
#[test]
fn quiet_on_pkce_mismatch() {
    assert_quiet("X-PKCE-MISMATCH", Clean::new().steps());
}
#[test]
fn fires_on_pkce_not_enforced() {
    assert_fires(
        "X-PKCE-NOT-ENFORCED",
        token_body(|b| b.replace(&format!("&code_verifier={VERIFIER}"), "")),
    );
}
#[test]
fn quiet_on_pkce_not_enforced() {
    assert_quiet("X-PKCE-NOT-ENFORCED", Clean::new().steps());
}
#[test]
fn fires_on_state_mismatch() {
    let mut c = Clean::new();
    c.authorize = c.authorize.set_resp_header(
        "location",
        &format!(
            "{REDIRECT}?code={CODE}&state=other-state-000000&iss={}",
            enc(ISSUER)
        ),
    );
    assert_fires("X-STATE-MISMATCH", c.steps());
}
#[test]
fn quiet_on_state_mismatch() {
    assert_quiet("X-STATE-MISMATCH", Clean::new().steps());
}
#[test]
fn fires_on_callback_orphan() {
    let c = Clean::new();
    let again = c
        .authorize
        .clone()
        .at(30.0)
        .no_resp_header("location")
        .status(200);
    assert_fires(
        "X-CALLBACK-ORPHAN",
        vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize, again],
    );
}
#[test]
fn quiet_on_callback_orphan() {
    assert_quiet("X-CALLBACK-ORPHAN", Clean::new().steps());
}
#[test]
fn fires_on_code_not_exchanged() {
    let c = Clean::new();
    let all = run_with(
        vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize],
        61.0,
        Default::default(),
    );
    let f = all
        .iter()
        .find(|f| f.rule == "X-CODE-NOT-EXCHANGED")
        .expect("fires");
    assert!(
        f.message.contains("no token request followed within 60 s"),
        "{}",
        f.message
    );
}
#[test]
fn quiet_on_code_not_exchanged() {
    let c = Clean::new();
    // The recording ended 10 s after the code: too early to blame the client.
    let all = run_with(
        vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize],
        10.0,
        Default::default(),
    );
    assert!(!all.iter().any(|f| f.rule == "X-CODE-NOT-EXCHANGED"));
    assert_quiet("X-CODE-NOT-EXCHANGED", Clean::new().steps());
}
#[test]
fn fires_on_code_reuse() {
    let mut s = Clean::new().steps();
    let again = s[5]
        .clone()
        .at(5.5)
        .status(400)
        .resp_json(r#"{"error":"invalid_grant"}"#);
    s.insert(6, again);
    assert_fires("X-CODE-REUSE", s);
}
#[test]
fn quiet_on_code_reuse() {
    assert_quiet("X-CODE-REUSE", Clean::new().steps());
}
#[test]
fn fires_on_redirect_uri_token() {
    assert_fires(
        "X-REDIRECT-URI-TOKEN",
        token_body(|b| b.replace(&enc(REDIRECT), &enc("http://127.0.0.1:33418/other"))),
    );
}
#[test]
fn quiet_on_redirect_uri_token() {
    assert_quiet("X-REDIRECT-URI-TOKEN", Clean::new().steps());
}
#[test]
fn fires_on_redirect_uri_unregistered() {
    let mut c = Clean::new();
    let u = c.authorize.0.request.url.replace(
        &enc(REDIRECT),
        &enc("http://127.0.0.1:33418/oauth/callback"),
    );
    c.authorize = c.authorize.url(&u);
    assert_fires("X-REDIRECT-URI-UNREGISTERED", c.steps());
}
#[test]
fn quiet_on_redirect_uri_unregistered() {
    let mut c = Clean::new();
    let u = c
        .authorize
        .0
        .request
        .url
        .replace(&enc(REDIRECT), &enc("http://127.0.0.1:50001/callback"));
    c.authorize = c.authorize.url(&u);
    assert_quiet("X-REDIRECT-URI-UNREGISTERED", c.steps());
}
#[test]
fn fires_on_client_id_mismatch() {
    assert_fires(
        "X-CLIENT-ID-MISMATCH",
        token_body(|b| b.replace("client_id=client-1", "client_id=client-2")),
    );
}
#[test]
fn quiet_on_client_id_mismatch() {
    assert_quiet("X-CLIENT-ID-MISMATCH", Clean::new().steps());
}
#[test]
fn fires_on_client_id_unknown() {
    let mut c = Clean::new();
    c.token = c
        .token
        .status(401)
        .resp_json(r#"{"error":"invalid_client","error_description":"client not found"}"#);
    let f = assert_fires("X-CLIENT-ID-UNKNOWN", c.steps());
    assert!(f.message.contains("lost the registration"), "{}", f.message);
}
#[test]
fn quiet_on_client_id_unknown() {
    assert_quiet("X-CLIENT-ID-UNKNOWN", Clean::new().steps());
}
#[test]
fn fires_on_dcr_loop() {
    let c = Clean::new();
    let s = vec![
        c.challenge,
        c.prm,
        c.asm,
        c.dcr.clone().at(3.0),
        c.dcr.clone().at(10.0),
        c.dcr.at(20.0),
    ];
    assert_fires("X-DCR-LOOP", s);
}
#[test]
fn quiet_on_dcr_loop() {
    assert_quiet("X-DCR-LOOP", Clean::new().steps());
}
#[test]
fn fires_on_dcr_per_connect() {
    let mut s = Clean::new().steps();
    let mut again: Vec<B> = Clean::new()
        .steps()
        .into_iter()
        .skip(3)
        .map(|b| {
            let t = b.0.started_at;
            b.at((t - t0()).as_seconds_f64() + 100.0)
        })
        .collect();
    s.append(&mut again);
    assert_fires("X-DCR-PER-CONNECT", s);
}
#[test]
fn quiet_on_dcr_per_connect() {
    assert_quiet("X-DCR-PER-CONNECT", Clean::new().steps());
}
#[test]
fn fires_on_auth_method_inconsistent() {
    assert_fires(
        "X-AUTH-METHOD-INCONSISTENT",
        token_body(|b| format!("{b}&client_secret=s")),
    );
}
#[test]
fn quiet_on_auth_method_inconsistent() {
    assert_quiet("X-AUTH-METHOD-INCONSISTENT", Clean::new().steps());
}
#[test]
fn fires_on_resource_authz_token() {
    assert_fires(
        "X-RESOURCE-AUTHZ-TOKEN",
        token_body(|b| {
            b.replace(
                &format!("resource={}", enc(MCP)),
                &format!("resource={}", enc("https://mcp.example.com/")),
            )
        }),
    );
}
#[test]
fn quiet_on_resource_authz_token() {
    assert_quiet("X-RESOURCE-AUTHZ-TOKEN", Clean::new().steps());
}
