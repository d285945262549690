//! Client runs (`correlate::new_run`): a second process, a version probe's fallback on a new
//! connection and another client program each open a new flow against the same MCP URL, so
//! their sessions are judged alone; an OAuth retry of `initialize`, a request in a known
//! session and traffic without client addresses stay in one run; a stream recorded after the
//! next run began stays in the run of its session.

use crate::flow::state::RunStart;
use crate::flow::testkit::*;
use crate::model::ExchangeId;
use crate::rules::engine::Engine;
use crate::rules::testkit::*;

/// `b` sent from the client connection with this source port.
fn conn(mut b: B, port: u16) -> B {
    b.0.client_addr = Some(format!("127.0.0.1:{port}"));
    b
}

/// The clean flow, every exchange on connection 50001.
fn first_run() -> Vec<B> {
    Clean::new()
        .steps()
        .into_iter()
        .map(|b| conn(b, 50001))
        .collect()
}

/// A second process reusing the cached token: a 2026-07-28 `server/discover` probe answered
/// 400, then `initialize` with 2025-11-25 and a request in its new session.
fn second_process(probe_port: u16, init_port: u16) -> Vec<B> {
    let bearer = format!("Bearer {}", access_token());
    let accept = "application/json, text/event-stream";
    vec![
        conn(
            post_json(MCP, &rpc("server/discover", Some(0)))
                .req_header("accept", accept)
                .req_header("authorization", &bearer)
                .req_header("mcp-protocol-version", "2026-07-28")
                .at(20.0)
                .status(400)
                .resp_json(r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32600,"message":"Bad Request: unsupported MCP-Protocol-Version 2026-07-28"}}"#),
            probe_port,
        ),
        conn(
            post_json(MCP, &rpc("initialize", Some(1)))
                .req_header("accept", accept)
                .req_header("authorization", &bearer)
                .at(21.0)
                .resp_header("mcp-session-id", "sess-2")
                .resp_json(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"demo","version":"1"}}}"#),
            init_port,
        ),
        conn(
            post_json(MCP, &rpc("tools/list", Some(2)))
                .req_header("accept", accept)
                .req_header("authorization", &bearer)
                .req_header("mcp-session-id", "sess-2")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(22.0)
                .resp_json(r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#),
            init_port,
        ),
    ]
}

fn flows_of(steps: Vec<B>) -> Engine {
    let mut engine = Engine::default();
    for (i, b) in steps.into_iter().enumerate() {
        let mut x = b.build();
        x.id = ExchangeId(i as u64 + 1);
        engine.observe(&mut x);
    }
    engine
}

const MERGED_RUN_ALARMS: [&str; 2] = ["X-SESSION-NOT-ECHOED", "X-PROTOCOL-VERSION-MISMATCH"];

#[test]
fn a_second_process_and_its_fallback_are_new_runs() {
    let mut steps = first_run();
    steps.extend(second_process(50002, 50003));
    let engine = flows_of(steps.clone());
    let flows = engine.flows();
    assert_eq!(
        flows.len(),
        3,
        "{:#?}",
        flows.iter().map(|f| &f.follows).collect::<Vec<_>>()
    );
    assert_eq!(flows[0].follows, None);
    let probe = RunStart::Handshake {
        method: "server/discover".into(),
    };
    assert_eq!(flows[1].follows, Some((flows[0].id, probe)));
    assert!(
        matches!(&flows[2].follows, Some((id, RunStart::Handshake { method })) if *id == flows[1].id && method == "initialize")
    );
    assert_eq!(flows[2].sessions, ["sess-2"]);
    assert!(flows.iter().all(|f| f.mcp_url.as_deref() == Some(MCP)));
    let found = ids(&run(steps));
    for id in MERGED_RUN_ALARMS {
        assert!(
            !found.iter().any(|f| f.starts_with(&format!("{id}:"))),
            "{id} in {found:?}"
        );
    }
}

#[test]
fn without_client_addresses_the_runs_merge() {
    // The same traffic with no connection information (an imported HAR): one flow holding
    // both processes' sessions — so the segmentation asserted above can fail. (The probe's
    // session and version alarms are also kept quiet by the revision rules: a refused
    // 2026-07-28 `server/discover` is no session and no negotiated version.)
    let mut steps = Clean::new().steps();
    steps.extend(second_process(0, 0).into_iter().map(|mut b| {
        b.0.client_addr = None;
        b
    }));
    let engine = flows_of(steps);
    let flows = engine.flows();
    assert_eq!(flows.len(), 1);
    assert!(flows[0].follows.is_none());
    assert!(
        flows[0].sessions.len() >= 2 && flows[0].sessions.iter().any(|s| s == "sess-2"),
        "{:?}",
        flows[0].sessions
    );
}

#[test]
fn a_probe_and_fallback_on_one_connection_stay_one_run() {
    let mut steps = first_run();
    steps.extend(second_process(50002, 50002));
    assert_eq!(flows_of(steps).flows().len(), 2);
}

#[test]
fn the_oauth_retry_of_initialize_stays_in_the_run() {
    // initialize → 401 on one connection, the authenticated initialize on another: the first
    // was a challenge, not an answer, so this is one run.
    let steps: Vec<B> = Clean::new()
        .steps()
        .into_iter()
        .enumerate()
        .map(|(i, b)| conn(b, 50001 + i as u16))
        .collect();
    let engine = flows_of(steps);
    assert_eq!(engine.flows().len(), 1);
    assert_eq!(engine.flows()[0].sessions, ["sess-1"]);
}

#[test]
fn a_fresh_session_with_the_token_just_obtained_continues_the_run() {
    // A server that lets initialize through unauthenticated: initialize → 200, tools/list →
    // 401, OAuth, then the client starts over with a fresh initialize on a new connection,
    // carrying the token it just got. One run: the token was obtained here and is used here.
    let mut c = Clean::new();
    c.challenge = conn(
        post_json(MCP, &rpc("initialize", Some(0)))
            .req_header("accept", "application/json, text/event-stream")
            .at(0.0)
            .resp_header("mcp-session-id", "sess-0")
            .resp_json(r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"demo","version":"1"}}}"#),
        50001,
    );
    let mut steps = vec![c.challenge.clone()];
    steps.push(conn(
        post_json(MCP, &rpc("tools/list", Some(1)))
            .req_header("accept", "application/json, text/event-stream")
            .req_header("mcp-session-id", "sess-0")
            .req_header("mcp-protocol-version", "2025-11-25")
            .at(0.5)
            .status(401)
            .resp_header(
                "www-authenticate",
                &format!(r#"Bearer resource_metadata="{PRM_URL}""#),
            )
            .resp_json(r#"{"error":"unauthorized"}"#),
        50001,
    ));
    let rest: Vec<B> = Clean::new()
        .steps()
        .into_iter()
        .skip(1)
        .map(|b| conn(b, 50002))
        .collect();
    steps.extend(rest);
    let engine = flows_of(steps.clone());
    assert_eq!(engine.flows().len(), 1);
    let found = ids(&run(steps));
    assert!(
        !found.iter().any(|f| f.starts_with("X-TOKEN-NOT-USED:")),
        "{found:?}"
    );
}

#[test]
fn another_client_program_is_another_run() {
    let ua = |b: B, agent: &str| b.req_header("user-agent", agent);
    let mut steps: Vec<B> = first_run()
        .into_iter()
        .map(|b| ua(b, "claude-code/2.1.332"))
        .collect();
    let inspector = second_process(50001, 50001)
        .into_iter()
        .map(|b| ua(b, "node"))
        .collect::<Vec<_>>();
    steps.extend(inspector);
    let engine = flows_of(steps);
    assert_eq!(engine.flows().len(), 2);
    assert!(matches!(
        &engine.flows()[1].follows,
        Some((_, RunStart::UserAgent { was, now })) if was == "claude-code/2.1.332" && now == "node"
    ));
}

#[test]
fn another_agent_inside_a_known_session_is_the_same_run() {
    let mut steps = first_run();
    let bearer = format!("Bearer {}", access_token());
    steps.push(conn(
        post_json(MCP, &rpc("tools/list", Some(3)))
            .req_header("accept", "application/json, text/event-stream")
            .req_header("authorization", &bearer)
            .req_header("mcp-session-id", "sess-1")
            .req_header("mcp-protocol-version", "2025-11-25")
            .req_header("user-agent", "a-proxy-in-between")
            .at(9.0)
            .resp_json(r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#),
        50009,
    ));
    assert_eq!(flows_of(steps).flows().len(), 1);
}

/// The first run's standalone GET stream in session `sess-1`, opened at 19 s, recorded (when
/// it ends) after the second process's handshake: mcp-remote's probe connection does this.
fn first_runs_get_stream(session: &str) -> B {
    conn(
        get(MCP)
            .req_header("accept", "text/event-stream")
            .req_header("authorization", &format!("Bearer {}", access_token()))
            .req_header("mcp-session-id", session)
            .req_header("mcp-protocol-version", "2025-11-25")
            .at(19.0)
            .took_ms(5000.0)
            .resp_header("content-type", "text/event-stream"),
        50001,
    )
}

#[test]
fn a_stream_recorded_after_the_next_run_began_stays_in_its_sessions_run() {
    let mut steps = first_run();
    steps.extend(second_process(50002, 50003));
    steps.push(first_runs_get_stream("sess-1"));
    let engine = flows_of(steps.clone());
    let flows = engine.flows();
    assert_eq!(flows.len(), 3);
    let get_in = |f: &crate::flow::state::Flow| {
        f.mcp
            .iter()
            .any(|m| m.method == "GET" && m.session_id.as_deref() == Some("sess-1"))
    };
    assert!(get_in(&flows[0]), "the GET left the run of sess-1");
    assert!(!get_in(&flows[2]));
    let found = ids(&run(steps));
    assert!(
        !found.iter().any(|f| f.starts_with("X-SESSION-NOT-ECHOED:")),
        "{found:?}"
    );
}

#[test]
fn a_stream_in_a_session_no_run_was_issued_is_still_not_echoed() {
    let mut steps = first_run();
    steps.extend(second_process(50002, 50003));
    steps.push(first_runs_get_stream("sess-unknown"));
    let found = ids(&run(steps));
    assert!(
        found.iter().any(|f| f == "X-SESSION-NOT-ECHOED:error"),
        "{found:?}"
    );
}
