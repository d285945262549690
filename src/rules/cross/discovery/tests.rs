//! Firing and near-miss tests of the discovery rules.

use crate::flow::testkit::*;
use crate::rules::testkit::*;

#[test]
fn fires_on_issuer_chain() {
    let mut c = Clean::new();
    c.asm = c.asm.edit_json(|d| {
        d.insert("issuer".into(), "https://auth.example.com/".into());
    });
    let f = assert_fires("X-ISSUER-CHAIN", c.steps());
    assert!(f.message.contains("ASM issuer"), "{}", f.message);
}
#[test]
fn quiet_on_issuer_chain() {
    assert_quiet("X-ISSUER-CHAIN", Clean::new().steps());
    // TS SDK example server: PRM entry and issuer both `https://auth.example.com/`.
    let mut c = Clean::new();
    c.prm = c.prm.edit_json(|d| {
        d.insert(
            "authorization_servers".into(),
            serde_json::json!(["https://auth.example.com/"]),
        );
    });
    c.asm = c.asm.edit_json(|d| {
        d.insert("issuer".into(), "https://auth.example.com/".into());
    });
    c.authorize = c.authorize.set_resp_header(
        "location",
        &format!(
            "{REDIRECT}?code={CODE}&state={STATE}&iss={}",
            enc("https://auth.example.com/")
        ),
    );
    let steps = c.steps();
    let all = run(steps);
    assert!(
        !all.iter()
            .any(|f| f.rule == "ASM-ISSUER-MISMATCH" || f.rule == "CB-ISS-MISMATCH"),
        "{:?}",
        ids(&all)
    );
    // The test token's iss has no slash: the only break left is PRM/ASM → JWT iss.
    let chain: Vec<_> = all.iter().filter(|f| f.rule == "X-ISSUER-CHAIN").collect();
    assert!(
        chain.iter().all(|f| f.message.contains("≠ JWT iss")),
        "{chain:?}"
    );
}
#[test]
fn fires_on_resource_vs_prm() {
    let mut c = Clean::new();
    let u = c.authorize.0.request.url.replace(
        &format!("resource={}", enc(MCP)),
        &format!("resource={}", enc("https://mcp.example.com/mcp/")),
    );
    c.authorize = c.authorize.url(&u);
    let f = assert_fires("X-RESOURCE-VS-PRM", c.steps());
    assert_eq!(f.severity, crate::model::Severity::Warning);
}
#[test]
fn quiet_on_resource_vs_prm() {
    assert_quiet("X-RESOURCE-VS-PRM", Clean::new().steps());
}
/// The client sends the PRM `resource` byte for byte, and the PRM names the server's
/// origin (seen with real servers) or comes from the root well-known URL.
fn resource_is_published(resource: &str, prm_url: &str) -> Vec<B> {
    let mut c = Clean::new();
    c.prm = c.prm.url(prm_url).edit_json(|d| {
        d.insert("resource".into(), resource.into());
    });
    let swap = |u: &str| u.replace(&enc(MCP), &enc(resource));
    let authz = swap(&c.authorize.0.request.url);
    c.authorize = c.authorize.url(&authz);
    c.token = c.token.edit_req_body(|b| swap(&b));
    c.challenge = c.challenge.set_resp_header(
        "www-authenticate",
        &format!(r#"Bearer resource_metadata="{prm_url}", scope="mcp""#),
    );
    // The AS mints that audience, and the server accepts it.
    let now = t0().unix_timestamp();
    let minted = jwt(serde_json::json!({
        "iss": ISSUER, "aud": resource, "exp": now + 3600, "iat": now, "scope": "mcp"
    }));
    let old = access_token();
    c.steps()
        .into_iter()
        .map(|mut b| {
            for h in b.0.request.headers.iter_mut() {
                h.value = h.value.replace(&old, &minted);
            }
            if let Some(r) = b.0.response.as_mut() {
                if let Some(text) = r.body.as_mut().and_then(|b| b.text.as_mut()) {
                    *text = text.replace(&old, &minted);
                }
            }
            b
        })
        .collect()
}
#[test]
fn quiet_on_resource_equal_to_an_origin_or_root_prm() {
    let origin = "https://mcp.example.com";
    let root = "https://mcp.example.com/.well-known/oauth-protected-resource";
    assert_quiet("X-RESOURCE-VS-PRM", resource_is_published(origin, root));
    assert_quiet("X-RESOURCE-VS-PRM", resource_is_published(origin, PRM_URL));
    // The whole flow of such a server: only the strict-client warning remains.
    let all = run(resource_is_published(origin, PRM_URL));
    let serious = serious(&all);
    assert_eq!(serious.len(), 1, "{serious:#?}");
    assert!(
        serious[0].starts_with(&format!(
            "PRM-RESOURCE-NE-REQUEST-URL: resource \"{origin}\" ≠ MCP URL \"{MCP}\" (different path; a same-origin path prefix, which the TS and Python SDK clients accept)"
        )),
        "{serious:#?}"
    );
    // Still fires when the client sends something else than that PRM names.
    let mut s = resource_is_published(origin, root);
    let authz = s[4].0.request.url.replace(&enc(origin), &enc(MCP));
    s[4] = s[4].clone().url(&authz);
    assert_fires("X-RESOURCE-VS-PRM", s);
}
#[test]
fn fires_on_mcp_url_vs_prm() {
    let mut c = Clean::new();
    c.prm = c.prm.edit_json(|d| {
        d.insert("resource".into(), "https://mcp.example.com/v2/mcp".into());
    });
    c.init = c
        .init
        .status(404)
        .no_resp_header("mcp-session-id")
        .resp_json("{}");
    c.initialized = c.initialized.status(404).resp_json("{}");
    c.list = c.list.status(404).resp_json("{}");
    assert_fires("X-MCP-URL-VS-PRM", c.steps());
}
#[test]
fn quiet_on_mcp_url_vs_prm() {
    assert_quiet("X-MCP-URL-VS-PRM", Clean::new().steps());
    // A GET 404 (no stream offered) while the authenticated POSTs got 200.
    let mut c = Clean::new();
    c.prm = c.prm.edit_json(|d| {
        d.insert("resource".into(), "https://mcp.example.com/v2/mcp".into());
    });
    let get_stream = get(MCP)
        .req_header("accept", "text/event-stream")
        .req_header("authorization", &format!("Bearer {}", access_token()))
        .at(7.5)
        .status(404)
        .resp_body("text/html", "<html>Cannot GET /mcp</html>");
    let mut s = c.steps();
    s.insert(7, get_stream);
    assert_quiet("X-MCP-URL-VS-PRM", s);
}
#[test]
fn fires_on_as_unreachable() {
    let c = Clean::new();
    assert_fires(
        "X-AS-UNREACHABLE",
        vec![
            c.challenge,
            c.prm,
            c.asm.no_response(crate::model::ErrorKind::Dns),
        ],
    );
}
#[test]
fn quiet_on_as_unreachable() {
    assert_quiet("X-AS-UNREACHABLE", Clean::new().steps());
}
#[test]
fn fires_on_as_changed_reuse() {
    let mut s = Clean::new().steps();
    let asm2 = s[2].clone().at(3.5).edit_json(|d| {
        d.insert("issuer".into(), "https://auth2.example.com".into());
    });
    s.insert(
        4,
        asm2.url("https://auth.example.com/.well-known/openid-configuration"),
    );
    assert_fires("X-AS-CHANGED-REUSE", at_revision(s.clone(), "2026-07-28"));
    // A 2026-07-28 requirement: not judged on a 2025-11-25 flow.
    assert_quiet("X-AS-CHANGED-REUSE", s);
}
#[test]
fn quiet_on_as_changed_reuse() {
    assert_quiet("X-AS-CHANGED-REUSE", Clean::new().steps());
}
#[test]
fn fires_on_discovery_order() {
    let mut s = Clean::new().steps();
    s.insert(
        2,
        get("https://mcp.example.com/.well-known/oauth-protected-resource")
            .at(1.5)
            .status(404),
    );
    assert_fires("X-DISCOVERY-ORDER", s);
}
#[test]
fn quiet_on_discovery_order() {
    assert_quiet("X-DISCOVERY-ORDER", Clean::new().steps());
}
#[test]
fn fires_on_default_endpoints() {
    let mut s = Clean::new().steps();
    s.insert(
        3,
        post_form(
            "https://mcp.example.com/token",
            "grant_type=authorization_code&code=zz",
        )
        .at(2.5)
        .status(404),
    );
    let f = assert_fires("X-DEFAULT-ENDPOINTS", s);
    assert_eq!(f.severity, crate::model::Severity::Error);
}
#[test]
fn quiet_on_default_endpoints() {
    assert_quiet("X-DEFAULT-ENDPOINTS", Clean::new().steps());
}
/// ASM discovery fails (404) and the client uses the origin's default endpoints.
fn fallback_to_defaults() -> Vec<B> {
    let c = Clean::new();
    vec![
        c.challenge,
        c.asm.status(404).resp_json("{}"),
        post_form(
            "https://mcp.example.com/token",
            "grant_type=authorization_code&code=zz",
        )
        .at(2.5)
        .status(400),
    ]
}
#[test]
fn default_endpoints_are_the_2025_03_26_fallback() {
    let sev = |wire: &str| {
        let all = run(at_revision(fallback_to_defaults(), wire));
        all.iter()
            .find(|f| f.rule == "X-DEFAULT-ENDPOINTS")
            .map(|f| f.severity)
    };
    assert_eq!(sev("2025-06-18"), Some(crate::model::Severity::Warning));
    // Specified behaviour in 2025-03-26: shown, not a warning.
    assert_eq!(sev("2025-03-26"), Some(crate::model::Severity::Info));
}
#[test]
fn fires_on_challenge_ignored() {
    let c = Clean::new();
    let s = vec![
        c.challenge.clone(),
        c.challenge.clone().at(2.0),
        c.challenge.at(4.0),
    ];
    assert_fires("X-CHALLENGE-IGNORED", s);
}
#[test]
fn quiet_on_challenge_ignored() {
    assert_quiet("X-CHALLENGE-IGNORED", Clean::new().steps());
}
#[test]
fn quiet_on_challenge_answered_with_a_stored_token() {
    // Unauthenticated retries (a GET for the SSE stream, a second POST), then the token the
    // client already held: no discovery was needed, so nothing was ignored.
    let c = Clean::new();
    let s = vec![
        c.challenge.clone(),
        c.challenge.clone().at(2.0),
        c.challenge.at(4.0),
        c.init.at(4.5),
    ];
    assert_quiet("X-CHALLENGE-IGNORED", s);
}
#[test]
fn quiet_while_a_challenged_client_waits_for_its_user() {
    // claude.ai and Claude Desktop show "Connect" after the 401 and discover only when the
    // person presses it: ticks in between judge nothing.
    let mut engine = crate::rules::Engine::new(crate::rules::EngineConfig::default());
    let c = Clean::new();
    let mut fired = Vec::new();
    let steps = [c.challenge.clone(), c.prm.at(40.0), c.asm.at(41.0)];
    for (i, b) in steps.into_iter().enumerate() {
        if i == 1 {
            for ff in engine.tick(t0() + time::Duration::seconds(30)) {
                fired.extend(ff.findings);
            }
        }
        let mut ex = b.build();
        ex.id = crate::model::ExchangeId(i as u64 + 1);
        fired.extend(
            engine
                .observe(&mut ex)
                .into_iter()
                .flat_map(|ff| ff.findings),
        );
        fired.extend(ex.findings);
    }
    assert!(
        !fired.iter().any(|f| f.rule == "X-CHALLENGE-IGNORED"),
        "{fired:?}"
    );
}
#[test]
fn fires_on_resource_metadata_changed() {
    let mut s = Clean::new().steps();
    let c2 = s[0].clone().at(8.5).set_resp_header("www-authenticate", r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/v2""#);
    s.push(c2);
    assert_fires("X-RESOURCE-METADATA-CHANGED", s);
}
#[test]
fn quiet_on_resource_metadata_changed() {
    assert_quiet("X-RESOURCE-METADATA-CHANGED", Clean::new().steps());
}
