//! Flow playbooks (mitmproxy style): feed a list of exchanges to the engine, then assert the
//! phase sequence, the correlations kept in flow state, and the findings. No sockets.

use crate::flow::testkit::*;
use crate::model::{Exchange, ExchangeId};
use crate::parse::urls;
use crate::rules::engine::Engine;
use crate::rules::testkit::*;

fn feed(engine: &mut Engine, steps: Vec<B>) -> Vec<Exchange> {
    steps
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let mut x = b.build();
            x.id = ExchangeId(i as u64 + 1);
            engine.observe(&mut x);
            x
        })
        .collect()
}

#[test]
fn clean_flow_phases_and_correlations() {
    let mut e = Engine::default();
    let xs = feed(&mut e, Clean::new().steps());
    let phases: Vec<&str> = xs
        .iter()
        .map(|x| x.phase.map_or("?", |p| p.as_str()))
        .collect();
    assert_eq!(
        phases,
        [
            "mcp-transport",
            "discovery-prm",
            "discovery-as",
            "registration",
            "authorize",
            "token",
            "mcp-transport",
            "mcp-transport",
            "mcp-transport"
        ]
    );
    assert_eq!(e.flows().len(), 1);
    let f = &e.flows()[0];
    assert_eq!(f.mcp_url.as_deref(), Some(MCP));
    assert_eq!(f.challenges[0].resource_metadata.as_deref(), Some(PRM_URL));
    // authorize ↔ callback (from the 302 Location) ↔ token ↔ MCP use of the token
    assert_eq!(f.callbacks.len(), 1);
    assert_eq!(f.callbacks[0].authorize, Some(0));
    assert_eq!(f.callbacks[0].iss.as_deref(), Some(ISSUER));
    let t = &f.tokens[0];
    assert_eq!(t.code_hash, f.callbacks[0].code_hash);
    assert_eq!(
        t.verifier_s256.as_deref(),
        f.authorizes[0].code_challenge.as_deref()
    );
    let issued = t.issued.as_ref().unwrap();
    assert_eq!(issued.access_hash, urls::secret_hash(&access_token()));
    assert_eq!(issued.jwt.as_ref().unwrap().aud, vec![MCP.to_string()]);
    assert!(
        f.mcp
            .iter()
            .filter(|m| m.token_hash.as_deref() == Some(issued.access_hash.as_str()))
            .count()
            == 3
    );
    assert_eq!(f.protocol_version.as_deref(), Some("2025-11-25"));
    assert_eq!(f.sessions, ["sess-1"]);
    // no secret is stored in clear
    let dump = format!("{f:?}");
    assert!(
        !dump.contains(CODE)
            && !dump.contains(VERIFIER)
            && !dump.contains(&access_token())
            && !dump.contains("rt-1")
    );
}

/// Two authorize attempts in flight; the token request must use the verifier of the
/// attempt whose state came back.
#[test]
fn concurrent_attempts_are_kept_apart_by_state() {
    let c = Clean::new();
    let v2 = "second-verifier-0123456789-0123456789-0123456";
    let state2 = "st-second-attempt-0001";
    let authz2 = c
        .authorize
        .0
        .request
        .url
        .replace(STATE, state2)
        .replace(&urls::pkce_s256(VERIFIER), &urls::pkce_s256(v2));
    let first = c.authorize.clone().status(200).no_resp_header("location");
    let second = c.authorize.clone().url(&authz2).at(4.5).set_resp_header(
        "location",
        &format!("{REDIRECT}?code={CODE}&state={state2}&iss={}", enc(ISSUER)),
    );
    let token_ok = c.token.clone().at(5.0);
    let right = vec![
        c.challenge.clone(),
        c.prm.clone(),
        c.asm.clone(),
        c.dcr.clone(),
        first.clone(),
        second.clone(),
        token_ok.clone().edit_req_body(|b| b.replace(VERIFIER, v2)),
    ];
    assert!(!run(right).iter().any(|f| f.rule == "X-PKCE-MISMATCH"));
    // The verifier of the first attempt with the code of the second: mismatch, naming #5.
    let wrong = vec![c.challenge, c.prm, c.asm, c.dcr, first, second, token_ok];
    let f = run(wrong)
        .into_iter()
        .find(|f| f.rule == "X-PKCE-MISMATCH")
        .expect("mismatch");
    assert!(f.message.contains("authorize #5 instead"), "{}", f.message);
}

/// The recorder observes in completion order: a GET stream opened early and closed last must
/// not change phases, flows or verdicts.
#[test]
fn completion_order_gives_the_same_verdicts() {
    let bearer = format!("Bearer {}", access_token());
    let stream = get(MCP)
        .req_header("accept", "text/event-stream")
        .req_header("authorization", &bearer)
        .req_header("mcp-session-id", "sess-1")
        .req_header("mcp-protocol-version", "2025-11-25")
        .at(7.5)
        .took_ms(60_000.0)
        .sse(&[(
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
            Some("g1"),
        )]);
    let mut start_order = Clean::new().steps();
    start_order.insert(8, stream.clone());
    let mut completion_order = Clean::new().steps();
    completion_order.push(stream);
    let ids = |v: Vec<B>| {
        let mut r: Vec<String> = run(v)
            .into_iter()
            .map(|f| format!("{}:{}", f.rule, f.severity))
            .collect();
        r.sort();
        r
    };
    assert_eq!(ids(start_order), ids(completion_order));
}

#[test]
fn a_challenge_after_success_opens_a_new_attempt() {
    let mut steps = Clean::new().steps();
    let c = Clean::new();
    steps.push(c.list.at(20.0).status(401).set_resp_header(
        "www-authenticate",
        &format!(r#"Bearer error="invalid_token", resource_metadata="{PRM_URL}""#),
    ));
    let mut e = Engine::default();
    feed(&mut e, steps);
    let f = &e.flows()[0];
    assert_eq!(f.attempt, 2);
    assert_eq!(f.challenges.last().unwrap().step.attempt, 2);
    assert_eq!(f.challenges.first().unwrap().step.attempt, 1);
}

#[test]
fn two_mcp_servers_are_two_flows() {
    let a = Clean::new().steps();
    let other = "https://other.example.net/mcp";
    let b: Vec<B> = vec![
        post_json(other, &rpc("initialize", Some(0))).req_header("accept", "application/json, text/event-stream").at(0.5).status(401).resp_header(
            "www-authenticate",
            r#"Bearer resource_metadata="https://other.example.net/.well-known/oauth-protected-resource/mcp""#,
        ),
        get("https://other.example.net/.well-known/oauth-protected-resource/mcp")
            .at(1.2)
            .resp_json(r#"{"resource":"https://other.example.net/mcp","authorization_servers":["https://login.other.example.net"]}"#),
    ];
    let mut all: Vec<B> = a.into_iter().chain(b).collect();
    all.sort_by_key(|x| x.0.started_at);
    let mut e = Engine::default();
    let xs = feed(&mut e, all);
    assert_eq!(e.flows().len(), 2);
    let other_flow = e
        .flows()
        .iter()
        .find(|f| f.mcp_url.as_deref() == Some(other))
        .unwrap();
    assert_eq!(other_flow.prm.len(), 1);
    assert!(
        xs.iter()
            .filter(|x| x.request.url.contains("other.example.net"))
            .all(|x| x.flow == Some(other_flow.id))
    );
}

#[test]
fn narrative_names_phases_last_actor_and_first_blocking_finding() {
    let c = Clean::new();
    let mut e = Engine::default();
    let steps = vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize];
    let last = feed(&mut e, steps)
        .last()
        .map(crate::flow::correlate::end_time)
        .unwrap();
    let out = e.finish(last + time::Duration::seconds(90));
    let n = out[0].narrative.clone().unwrap();
    assert!(n.contains("phases reached: mcp-transport → discovery-prm → discovery-as → registration → authorize"), "{n}");
    assert!(n.contains("the authorization server answered 302"), "{n}");
    assert!(
        n.contains("X-CODE-NOT-EXCHANGED") && n.contains("the client dropped the flow"),
        "{n}"
    );
}

#[test]
fn tick_emits_timeouts_once() {
    let c = Clean::new();
    let mut e = Engine::default();
    let last = feed(&mut e, vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize])
        .last()
        .map(crate::flow::correlate::end_time)
        .unwrap();
    assert!(e.tick(last + time::Duration::seconds(10)).is_empty());
    let due = e.tick(last + time::Duration::seconds(61));
    assert_eq!(
        due.iter()
            .flat_map(|f| &f.findings)
            .filter(|f| f.rule == "X-CODE-NOT-EXCHANGED")
            .count(),
        1
    );
    assert!(
        e.tick(last + time::Duration::seconds(62))
            .iter()
            .all(|f| f.findings.is_empty())
    );
}
