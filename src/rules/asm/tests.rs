//! Firing and near-miss tests of the asm rules.

use crate::flow::testkit::*;
use crate::model::Severity;
use crate::rules::testkit::*;
use serde_json::json;

fn asm_edit(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<B> {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(f);
    c.steps()
}

#[test]
fn fires_on_not_found() {
    let c = Clean::new();
    let s = vec![
        c.challenge,
        c.prm,
        get(ASM_URL).at(2.0).status(404),
        get("https://auth.example.com/.well-known/openid-configuration")
            .at(2.1)
            .status(404),
    ];
    assert_fires("ASM-NOT-FOUND", s);
}
#[test]
fn quiet_on_not_found() {
    assert_quiet("ASM-NOT-FOUND", Clean::new().steps());
}
#[test]
fn fires_on_path_issuer_root_only() {
    assert_fires(
        "ASM-PATH-ISSUER-ROOT-ONLY",
        asm_edit(|d| {
            d.insert("issuer".into(), "https://auth.example.com/tenant1".into());
        }),
    );
}
#[test]
fn quiet_on_path_issuer_root_only() {
    assert_quiet("ASM-PATH-ISSUER-ROOT-ONLY", Clean::new().steps());
}
#[test]
fn fires_on_issuer_mismatch() {
    let f = assert_fires(
        "ASM-ISSUER-MISMATCH",
        asm_edit(|d| {
            d.insert("issuer".into(), "https://auth.example.com/".into());
        }),
    );
    assert!(f.message.contains("trailing slash"), "{}", f.message);
}
#[test]
fn quiet_on_issuer_mismatch() {
    assert_quiet("ASM-ISSUER-MISMATCH", Clean::new().steps());
}
#[test]
fn fires_on_issuer_syntax() {
    assert_fires(
        "ASM-ISSUER-SYNTAX",
        asm_edit(|d| {
            d.remove("issuer");
        }),
    );
}
#[test]
fn quiet_on_issuer_syntax() {
    assert_quiet("ASM-ISSUER-SYNTAX", Clean::new().steps());
}
#[test]
fn fires_on_required_missing() {
    assert_fires(
        "ASM-REQUIRED-MISSING",
        asm_edit(|d| {
            d.remove("response_types_supported");
        }),
    );
}
#[test]
fn quiet_on_required_missing() {
    assert_quiet("ASM-REQUIRED-MISSING", Clean::new().steps());
}
#[test]
fn fires_on_no_code() {
    assert_fires(
        "ASM-NO-CODE",
        asm_edit(|d| {
            d.insert("response_types_supported".into(), json!(["token"]));
        }),
    );
}
#[test]
fn quiet_on_no_code() {
    assert_quiet("ASM-NO-CODE", Clean::new().steps());
}
#[test]
fn fires_on_no_pkce() {
    assert_fires(
        "ASM-NO-PKCE",
        asm_edit(|d| {
            d.remove("code_challenge_methods_supported");
        }),
    );
}
#[test]
fn quiet_on_no_pkce() {
    assert_quiet("ASM-NO-PKCE", Clean::new().steps());
}
#[test]
fn fires_on_no_s256() {
    assert_fires(
        "ASM-NO-S256",
        asm_edit(|d| {
            d.insert("code_challenge_methods_supported".into(), json!(["plain"]));
        }),
    );
}
#[test]
fn quiet_on_no_s256() {
    assert_quiet("ASM-NO-S256", Clean::new().steps());
}
#[test]
fn fires_on_oidc_fields() {
    let mut c = Clean::new();
    c.asm = c
        .asm
        .url("https://auth.example.com/.well-known/openid-configuration");
    assert_fires("ASM-OIDC-FIELDS", c.steps());
}
#[test]
fn quiet_on_oidc_fields() {
    assert_quiet("ASM-OIDC-FIELDS", Clean::new().steps());
}
#[test]
fn fires_on_endpoint_invalid() {
    assert_fires(
        "ASM-ENDPOINT-INVALID",
        asm_edit(|d| {
            d.insert("token_endpoint".into(), "/token".into());
        }),
    );
}
#[test]
fn quiet_on_endpoint_invalid() {
    assert_quiet("ASM-ENDPOINT-INVALID", Clean::new().steps());
}
#[test]
fn fires_on_internal_host() {
    assert_fires(
        "ASM-INTERNAL-HOST",
        asm_edit(|d| {
            d.insert("token_endpoint".into(), "http://10.0.0.5:8080/token".into());
        }),
    );
}
#[test]
fn quiet_on_internal_host() {
    assert_quiet("ASM-INTERNAL-HOST", Clean::new().steps());
}
#[test]
fn fires_on_no_registration_no_cimd() {
    assert_fires(
        "ASM-NO-REGISTRATION-NO-CIMD",
        asm_edit(|d| {
            d.remove("registration_endpoint");
        }),
    );
}
#[test]
fn quiet_on_no_registration_no_cimd() {
    assert_quiet("ASM-NO-REGISTRATION-NO-CIMD", Clean::new().steps());
}
#[test]
fn fires_on_cimd_without_none() {
    assert_fires(
        "ASM-CIMD-WITHOUT-NONE",
        asm_edit(|d| {
            d.insert("client_id_metadata_document_supported".into(), true.into());
            d.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["client_secret_basic"]),
            );
        }),
    );
}
#[test]
fn quiet_on_cimd_without_none() {
    assert_quiet(
        "ASM-CIMD-WITHOUT-NONE",
        asm_edit(|d| {
            d.insert("client_id_metadata_document_supported".into(), true.into());
        }),
    );
}
#[test]
fn fires_on_auth_methods_defaulted() {
    assert_fires(
        "ASM-AUTH-METHODS-DEFAULTED",
        asm_edit(|d| {
            d.remove("token_endpoint_auth_methods_supported");
        }),
    );
}
#[test]
fn quiet_on_auth_methods_defaulted() {
    assert_quiet("ASM-AUTH-METHODS-DEFAULTED", Clean::new().steps());
}
#[test]
fn fires_on_basic_only() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert(
            "token_endpoint_auth_methods_supported".into(),
            json!(["client_secret_basic"]),
        );
    });
    c.token = c.token.edit_req_body(|b| format!("{b}&client_secret=s"));
    assert_fires("ASM-BASIC-ONLY", c.steps());
}
#[test]
fn quiet_on_basic_only() {
    assert_quiet("ASM-BASIC-ONLY", Clean::new().steps());
}
#[test]
fn fires_on_grants() {
    let f = assert_fires(
        "ASM-GRANTS",
        asm_edit(|d| {
            d.insert(
                "grant_types_supported".into(),
                json!(["client_credentials"]),
            );
        }),
    );
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("this flow uses"), "{}", f.message);
}
#[test]
fn quiet_on_grants() {
    assert_quiet("ASM-GRANTS", Clean::new().steps());
    // A client_credentials-only (or jwt-bearer-only) server used by a machine client.
    for (grant, extra) in [
        ("client_credentials", "client_secret=s3cret"),
        (
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion=eyJhbGciOiJub25lIn0.e30.",
        ),
    ] {
        let mut c = Clean::new();
        c.asm = c.asm.edit_json(|d| {
            d.insert("grant_types_supported".into(), json!([grant]));
        });
        c.token = c.token.req_body(&format!(
            "grant_type={}&client_id=client-1&{extra}&resource={}",
            enc(grant),
            enc(MCP)
        ));
        let steps = vec![
            c.challenge,
            c.prm,
            c.asm,
            c.token,
            c.init,
            c.initialized,
            c.list,
        ];
        let all = run(steps);
        assert!(
            !all.iter()
                .any(|f| f.rule == "ASM-GRANTS" && f.severity > Severity::Info),
            "{grant}: {:?}",
            ids(&all)
        );
    }
}
#[test]
fn fires_on_iss_flag_type() {
    assert_fires(
        "ASM-ISS-FLAG-TYPE",
        asm_edit(|d| {
            d.insert(
                "authorization_response_iss_parameter_supported".into(),
                "true".into(),
            );
        }),
    );
}
#[test]
fn quiet_on_iss_flag_type() {
    assert_quiet("ASM-ISS-FLAG-TYPE", Clean::new().steps());
}
