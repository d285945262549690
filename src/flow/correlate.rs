//! Routes each exchange to a flow; what the exchange adds to that flow is recorded by the
//! sibling `record` module.
//!
//! A flow is one client run against one MCP URL. A later run against the same URL opens a new
//! flow that [`Flow::follows`] the previous one ([`new_run`]): a fresh `initialize` or
//! `server/discover` without a session, on a connection the run never used, after the run's
//! previous handshake was answered (a second process, a reconnect, a version probe's fallback
//! on a new connection), or MCP requests from another client program (`User-Agent`) — unless
//! the request carries a token this run obtained and has not used yet. A request in a session
//! goes to the run that was issued the session, however late it is recorded. Lookups
//! prefer the newest flow, so the discovery, registration, authorize and token legs of a run
//! land in that run. (A registration is no run boundary by itself: re-registering within one
//! run is what X-DCR-PER-CONNECT and X-REFRESH-RECOVERY judge; a new process's registration
//! follows its own fresh handshake, which is.)

use time::{Duration, OffsetDateTime};

use crate::flow::callback::CallbackView;
use crate::flow::state::{Flow, RunStart};
use crate::model::{Exchange, FlowId, Headers, Phase};
use crate::parse::urls;
use crate::parse::view::ExchangeView;

/// When an exchange ended (start + `end_ms`, or start).
pub fn end_time(ex: &Exchange) -> OffsetDateTime {
    let ms = ex
        .timings
        .end_ms
        .or(ex.timings.first_byte_ms)
        .unwrap_or(0.0);
    ex.started_at + Duration::seconds_f64(ms.max(0.0) / 1000.0)
}

/// Whether an MCP request that would join `flow` (same MCP URL) starts a new client run.
pub fn new_run(flow: &Flow, view: &ExchangeView<'_>) -> Option<RunStart> {
    let ex = view.exchange();
    // A bearer this run obtained and has not used yet: the client goes on with what it just
    // got (e.g. a fresh session after OAuth), whatever else changed.
    if let Some(hash) = view.bearer_token().map(urls::secret_hash) {
        let issued_here = flow.issuer_of_token(&hash).is_some();
        let used = flow
            .mcp
            .iter()
            .any(|m| m.token_hash.as_deref() == Some(hash.as_str()));
        if issued_here && !used {
            return None;
        }
    }
    let session = ex.request.header("mcp-session-id");
    let known_session = session.is_some_and(|s| flow.sessions.iter().any(|x| x == s));
    if let (Some(now), Some(was)) = (
        ex.request.header("user-agent"),
        flow.mcp.iter().rev().find_map(|m| m.user_agent.as_deref()),
    ) {
        if now != was && !known_session {
            return Some(RunStart::UserAgent {
                was: was.to_string(),
                now: now.to_string(),
            });
        }
    }
    let method = view.rpc_method()?;
    let fresh = session.is_none() && matches!(method, "initialize" | "server/discover");
    let answered_before = flow
        .mcp
        .iter()
        .any(|m| m.is_handshake() && m.answered_on_the_merits());
    // Without a recorded client address (an imported HAR, a unit fixture) a connection is
    // never new: the run boundary then needs another signal.
    let new_connection = ex.client_addr.as_deref().is_some_and(|addr| {
        !flow
            .mcp
            .iter()
            .any(|m| m.client_addr.as_deref() == Some(addr))
    });
    (fresh && answered_before && new_connection).then(|| RunStart::Handshake {
        method: method.to_owned(),
    })
}

/// A new flow for the next client run after `previous`, on the same MCP URL.
fn next_run(flows: &mut Vec<Flow>, previous: usize, at: OffsetDateTime, why: RunStart) -> usize {
    let id = FlowId(flows.len() as u64 + 1);
    let mut f = Flow::new(id, at);
    if let Some(p) = flows.get(previous) {
        f.mcp_url = p.mcp_url.clone();
        f.follows = Some((p.id, why));
    }
    flows.push(f);
    flows.len() - 1
}

/// Picks (or creates) the flow an exchange belongs to. Returns `None` for unrelated traffic.
pub fn route(
    flows: &mut Vec<Flow>,
    view: &ExchangeView<'_>,
    phase: Phase,
    cb: Option<&CallbackView<'_>>,
) -> Option<usize> {
    let url = view.base_url();
    let found = match phase {
        Phase::McpTransport => return Some(mcp_flow(flows, view)),
        Phase::DiscoveryPrm => prm_flow(flows, view),
        Phase::DiscoveryAs => flows
            .iter()
            .rposition(|f| {
                f.prm_auth_servers()
                    .iter()
                    .any(|i| urls::asm_candidates(i).iter().any(|c| c == url))
            })
            .or_else(|| flows.iter().rposition(|f| same_origin(f, view.origin()))),
        Phase::Callback => cb
            .and_then(|v| v.get("state"))
            .and_then(|s| by_state(flows, s)),
        Phase::Authorize => authorize_flow(flows, view, cb),
        Phase::Token | Phase::Refresh => token_flow(flows, view),
        Phase::Registration => by_endpoint(flows, "registration_endpoint", url),
        Phase::Cors | Phase::Other => {
            return flows
                .iter()
                .rposition(|f| f.mcp_url.as_deref() == Some(url))
                .or_else(|| flows.iter().rposition(|f| same_origin(f, view.origin())));
        }
    };
    found
        .or_else(|| most_recent(flows))
        .or_else(|| Some(open_flow(flows, view, phase)))
}

/// The flow an MCP request joins: the run that was issued its session, else the newest run on
/// its URL (or the next run, when this request starts one), else a flow that discovered the
/// URL's resource or origin without an MCP URL yet, else a new flow.
fn mcp_flow(flows: &mut Vec<Flow>, view: &ExchangeView<'_>) -> usize {
    let url = view.base_url();
    let same_url = |f: &Flow| {
        f.mcp_url
            .as_deref()
            .is_some_and(|m| urls::same_mcp_url(m, url))
    };
    // A request in a session belongs to the run that was issued the session: a GET stream of
    // one session is recorded when it ends, after later runs began.
    let session = view.exchange().request.header("mcp-session-id");
    let issued_in = session.and_then(|s| {
        flows
            .iter()
            .rposition(|f| same_url(f) && f.sessions.iter().any(|x| x == s))
    });
    if let Some(i) = issued_in {
        return i;
    }
    if let Some(i) = flows.iter().rposition(same_url) {
        return match flows.get(i).and_then(|f| new_run(f, view)) {
            Some(why) => next_run(flows, i, view.exchange().started_at, why),
            None => i,
        };
    }
    let discovered = flows.iter().rposition(|f| {
        f.mcp_url.is_none()
            && (f
                .prm_resource()
                .is_some_and(|r| urls::compare(r, url) != urls::UrlDiff::Origin)
                || same_origin(f, view.origin()))
    });
    if let Some(i) = discovered {
        if let Some(f) = flows.get_mut(i) {
            f.mcp_url = Some(url.to_owned());
        }
        return i;
    }
    let i = open_flow(flows, view, Phase::McpTransport);
    if let Some(f) = flows.get_mut(i) {
        f.mcp_url = Some(url.to_owned());
    }
    i
}

/// The flow a PRM fetch belongs to: the one whose challenge named this URL, else the one whose
/// MCP URL is the resource this well-known URL was built from, else one on the same origin.
fn prm_flow(flows: &[Flow], view: &ExchangeView<'_>) -> Option<usize> {
    let full_url = view.url();
    flows
        .iter()
        .rposition(|f| {
            f.challenges
                .iter()
                .any(|c| c.resource_metadata.as_deref() == Some(full_url))
        })
        .or_else(|| {
            let res = urls::resource_from_prm_url(full_url);
            flows.iter().rposition(|f| {
                f.mcp_url.is_some()
                    && f.mcp_url.as_deref().map(|m| m.trim_end_matches('/'))
                        == res.as_deref().map(|r| r.trim_end_matches('/'))
            })
        })
        .or_else(|| {
            flows.iter().rposition(|f| {
                f.mcp_url.as_deref().and_then(urls::origin).as_deref() == view.origin()
            })
        })
}

/// The flow an authorization request belongs to: by registered `client_id`, else by
/// authorization endpoint, else by the `state` of the response it carries.
fn authorize_flow(
    flows: &[Flow],
    view: &ExchangeView<'_>,
    cb: Option<&CallbackView<'_>>,
) -> Option<usize> {
    let cid = view.query().first("client_id");
    flows
        .iter()
        .rposition(|f| {
            cid.is_some()
                && f.registrations
                    .iter()
                    .any(|r| r.client_id.as_deref() == cid)
        })
        .or_else(|| by_endpoint(flows, "authorization_endpoint", view.base_url()))
        .or_else(|| {
            cb.and_then(|v| v.get("state"))
                .and_then(|s| by_state(flows, s))
        })
}

/// The flow a token request belongs to: by the code it redeems, else by the refresh token it
/// presents, else by token endpoint.
fn token_flow(flows: &[Flow], view: &ExchangeView<'_>) -> Option<usize> {
    let form = view.form();
    let code = form.first("code").map(urls::secret_hash);
    let rt = form.first("refresh_token").map(urls::secret_hash);
    flows
        .iter()
        .rposition(|f| {
            code.as_deref()
                .is_some_and(|c| f.callback_by_code(c).is_some())
        })
        .or_else(|| {
            flows.iter().rposition(|f| {
                rt.as_deref().is_some_and(|h| {
                    f.tokens.iter().any(|t| {
                        t.issued.as_ref().and_then(|i| i.refresh_hash.as_deref()) == Some(h)
                    })
                })
            })
        })
        .or_else(|| by_endpoint(flows, "token_endpoint", view.base_url()))
}

/// The newest flow whose ASM names `url` (without query) as endpoint `name`.
fn by_endpoint(flows: &[Flow], name: &str, url: &str) -> Option<usize> {
    flows.iter().rposition(|f| {
        f.asm_str(name)
            .is_some_and(|e| urls::without_query(e) == url)
    })
}

/// The newest flow with an authorization request of this `state`.
fn by_state(flows: &[Flow], state: &str) -> Option<usize> {
    flows
        .iter()
        .rposition(|f| f.authorize_by_state(state).is_some())
}

/// The flow that was active last.
fn most_recent(flows: &[Flow]) -> Option<usize> {
    flows
        .iter()
        .enumerate()
        .max_by_key(|(_, f)| f.last_at)
        .map(|(i, _)| i)
}

/// Whether a flow's MCP URL, metadata, authorization servers or endpoints share `origin`.
fn same_origin(f: &Flow, origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return false;
    };
    let is = |u: &str| urls::origin(u).as_deref() == Some(origin);
    f.mcp_url.as_deref().is_some_and(is)
        || f.asm.iter().any(|d| is(&d.url))
        || f.prm_auth_servers().iter().any(|i| is(i))
        || [
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
        ]
        .iter()
        .any(|n| f.asm_str(n).is_some_and(is))
}

/// A new flow starting with this exchange (a PRM fetch names the MCP URL it was built from).
fn open_flow(flows: &mut Vec<Flow>, view: &ExchangeView<'_>, phase: Phase) -> usize {
    let id = FlowId(flows.len() as u64 + 1);
    let mut f = Flow::new(id, view.exchange().started_at);
    if phase == Phase::DiscoveryPrm {
        f.mcp_url = urls::resource_from_prm_url(view.url()).filter(|r| urls::raw_path(r).len() > 1);
    }
    flows.push(f);
    flows.len() - 1
}
