//! Firing and near-miss tests of the prm rules.

use crate::flow::testkit::*;
use crate::model::Severity;
use crate::rules::testkit::*;

fn prm_edit(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<B> {
    let mut c = Clean::new();
    c.prm = c.prm.edit_json(f);
    c.steps()
}

#[test]
fn fires_on_prm_401() {
    let mut c = Clean::new();
    c.prm = c.prm.status(401);
    assert_fires("PRM-401", c.steps());
}
#[test]
fn quiet_on_prm_401() {
    assert_quiet("PRM-401", Clean::new().steps());
}
#[test]
fn fires_on_prm_not_200() {
    let mut c = Clean::new();
    c.prm = c.prm.status(500);
    assert_fires("PRM-NOT-200", c.steps());
}
#[test]
fn quiet_on_prm_not_200() {
    assert_quiet("PRM-NOT-200", Clean::new().steps());
}
#[test]
fn fires_on_absent() {
    let c = Clean::new();
    let steps = vec![
        c.challenge.set_resp_header("www-authenticate", "Bearer"),
        get(PRM_URL).at(1.0).status(404),
        get("https://mcp.example.com/.well-known/oauth-protected-resource")
            .at(1.5)
            .status(404),
    ];
    assert_fires("PRM-ABSENT", steps);
}
#[test]
fn quiet_on_absent() {
    let c = Clean::new();
    let steps = vec![
        c.challenge.set_resp_header("www-authenticate", "Bearer"),
        get(PRM_URL).at(1.0).status(404),
        get("https://mcp.example.com/.well-known/oauth-protected-resource").at(1.5).resp_json(r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"]}"#),
    ];
    assert_quiet("PRM-ABSENT", steps);
}
#[test]
fn fires_on_resource_missing() {
    assert_fires(
        "PRM-RESOURCE-MISSING",
        prm_edit(|d| {
            d.remove("resource");
        }),
    );
}
#[test]
fn quiet_on_resource_missing() {
    assert_quiet("PRM-RESOURCE-MISSING", Clean::new().steps());
}
#[test]
fn fires_on_resource_ne_request_url() {
    let f = assert_fires(
        "PRM-RESOURCE-NE-REQUEST-URL",
        prm_edit(|d| {
            d.insert("resource".into(), "https://mcp.example.com/".into());
        }),
    );
    assert!(f.message.contains("different path"), "{}", f.message);
    let f = assert_fires(
        "PRM-RESOURCE-NE-REQUEST-URL",
        prm_edit(|d| {
            d.insert("resource".into(), "https://mcp.example.com/mcp/".into());
        }),
    );
    assert!(f.message.contains("trailing slash"), "{}", f.message);
}
#[test]
fn quiet_on_resource_ne_request_url() {
    assert_quiet("PRM-RESOURCE-NE-REQUEST-URL", Clean::new().steps());
}
#[test]
fn origin_or_prefix_resource_is_a_warning_naming_strict_clients_only() {
    for res in ["https://mcp.example.com", "https://mcp.example.com/"] {
        let f = assert_fires(
            "PRM-RESOURCE-NE-REQUEST-URL",
            prm_edit(|d| {
                d.insert("resource".into(), res.into());
            }),
        );
        assert_eq!(f.severity, Severity::Warning, "{res}");
        assert!(f.breaks.starts_with("Strict"), "{}", f.breaks);
        assert!(!f.breaks.contains("TS (\""), "{}", f.breaks);
    }
    // Not a prefix (sibling path, trailing slash the SDKs reject, other origin): error.
    for res in [
        "https://mcp.example.com/v1/mcp",
        "https://mcp.example.com/mcp/",
        "https://other.example.com/mcp",
        "https://mcp.example.com/mc",
    ] {
        let f = assert_fires(
            "PRM-RESOURCE-NE-REQUEST-URL",
            prm_edit(|d| {
                d.insert("resource".into(), res.into());
            }),
        );
        assert_eq!(f.severity, Severity::Error, "{res}");
    }
}
#[test]
fn sdk_prefix_check_matches_the_sdks() {
    let mcp = "https://h.example/api/mcp";
    assert!(super::sdk_accepts("https://h.example", mcp));
    assert!(super::sdk_accepts("https://h.example/api", mcp));
    assert!(super::sdk_accepts("https://h.example/api/", mcp));
    assert!(!super::sdk_accepts("https://h.example/ap", mcp));
    assert!(!super::sdk_accepts("https://h.example/api/mcp/", mcp));
    assert!(!super::sdk_accepts("http://h.example/api", mcp));
    assert!(!super::sdk_accepts("https://h.example:8443/api", mcp));
}
#[test]
fn fires_on_resource_ne_location() {
    let steps = vec![get("https://mcp.example.com/.well-known/oauth-protected-resource/other").resp_json(r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"]}"#)];
    assert_fires("PRM-RESOURCE-NE-LOCATION", steps);
}
#[test]
fn quiet_on_resource_ne_location() {
    let steps = vec![get(PRM_URL).resp_json(r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"]}"#)];
    assert_quiet("PRM-RESOURCE-NE-LOCATION", steps);
}
#[test]
fn fires_on_resource_fragment() {
    assert_fires(
        "PRM-RESOURCE-FRAGMENT",
        prm_edit(|d| {
            d.insert("resource".into(), "https://mcp.example.com/mcp#x".into());
        }),
    );
    let f = assert_fires(
        "PRM-RESOURCE-FRAGMENT",
        prm_edit(|d| {
            d.insert("resource".into(), "https://mcp.example.com/mcp?x=1".into());
        }),
    );
    assert_eq!(f.severity, Severity::Info);
}
#[test]
fn quiet_on_resource_fragment() {
    assert_quiet("PRM-RESOURCE-FRAGMENT", Clean::new().steps());
}
#[test]
fn fires_on_resource_trailing_slash() {
    assert_fires(
        "PRM-RESOURCE-TRAILING-SLASH",
        prm_edit(|d| {
            d.insert("resource".into(), "https://mcp.example.com/mcp/".into());
        }),
    );
}
#[test]
fn quiet_on_resource_trailing_slash() {
    assert_quiet("PRM-RESOURCE-TRAILING-SLASH", Clean::new().steps());
}
#[test]
fn fires_on_no_auth_servers() {
    assert_fires(
        "PRM-NO-AUTH-SERVERS",
        prm_edit(|d| {
            d.insert("authorization_servers".into(), serde_json::json!([]));
        }),
    );
}
#[test]
fn quiet_on_no_auth_servers() {
    assert_quiet("PRM-NO-AUTH-SERVERS", Clean::new().steps());
}
#[test]
fn fires_on_as_not_issuer() {
    assert_fires(
        "PRM-AS-NOT-ISSUER",
        prm_edit(|d| {
            d.insert(
                "authorization_servers".into(),
                serde_json::json!([
                    "https://auth.example.com/.well-known/oauth-authorization-server"
                ]),
            );
        }),
    );
}
#[test]
fn quiet_on_as_not_issuer() {
    assert_quiet("PRM-AS-NOT-ISSUER", Clean::new().steps());
}
#[test]
fn fires_on_multiple_as() {
    assert_fires(
        "PRM-MULTIPLE-AS",
        prm_edit(|d| {
            d.insert(
                "authorization_servers".into(),
                serde_json::json!(["https://a.example", "https://b.example"]),
            );
        }),
    );
}
#[test]
fn quiet_on_multiple_as() {
    assert_quiet("PRM-MULTIPLE-AS", Clean::new().steps());
}
#[test]
fn fires_on_bearer_methods() {
    assert_fires(
        "PRM-BEARER-METHODS",
        prm_edit(|d| {
            d.insert(
                "bearer_methods_supported".into(),
                serde_json::json!(["query"]),
            );
        }),
    );
}
#[test]
fn quiet_on_bearer_methods() {
    assert_quiet("PRM-BEARER-METHODS", Clean::new().steps());
}
#[test]
fn fires_on_scopes_offline() {
    let offline = prm_edit(|d| {
        d.insert(
            "scopes_supported".into(),
            serde_json::json!(["mcp", "offline_access"]),
        );
    });
    assert_fires(
        "PRM-SCOPES-OFFLINE",
        at_revision(offline.clone(), "2026-07-28"),
    );
    // A 2026-07-28 recommendation: not judged on a 2025-11-25 flow.
    assert_quiet("PRM-SCOPES-OFFLINE", offline);
}
#[test]
fn quiet_on_scopes_offline() {
    assert_quiet("PRM-SCOPES-OFFLINE", Clean::new().steps());
}
