//! Routes each exchange to a flow and records what it adds to that flow's state: the MCP URL,
//! `resource_metadata`, issuer, `client_id`, `state`, `code`, PKCE, `redirect_uri`, token
//! hashes, session ids, protocol version. Secrets are hashed here and never stored in clear.
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

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::flow::phase::CallbackView;
use crate::flow::state::*;
use crate::model::Phase;
use crate::model::{Exchange, FlowId, Headers};
use crate::parse::form::Pairs;
use crate::parse::jwt::Jwt;
use crate::parse::metadata;
use crate::parse::urls;
use crate::parse::www_authenticate;

/// When an exchange ended (start + `end_ms`, or start).
pub fn end_time(ex: &Exchange) -> OffsetDateTime {
    let ms = ex
        .timings
        .end_ms
        .or(ex.timings.first_byte_ms)
        .unwrap_or(0.0);
    ex.started_at + Duration::seconds_f64(ms.max(0.0) / 1000.0)
}

/// The bearer token of a request, if `Authorization: Bearer <t>`.
pub fn bearer_token(ex: &Exchange) -> Option<&str> {
    let v = ex.request.header("authorization")?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The form body of a request (form-encoded), or empty.
pub fn form_body(ex: &Exchange) -> Pairs {
    Pairs::parse(ex.request.body_text().unwrap_or(""))
}

/// Whether two MCP URLs name the same endpoint for flow keying: identical, or trailing-slash
/// twins (a `/mcp` → `/mcp/` redirect keeps the flow; the redirect itself is a finding).
pub fn same_mcp_url(a: &str, b: &str) -> bool {
    a == b || a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Whether an MCP request that would join `flow` (same MCP URL) starts a new client run.
pub fn new_run(flow: &Flow, ex: &Exchange) -> Option<RunStart> {
    // A bearer this run obtained and has not used yet: the client goes on with what it just
    // got (e.g. a fresh session after OAuth), whatever else changed.
    if let Some(hash) = bearer_token(ex).map(urls::secret_hash) {
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
    let method = rpc_method(ex.request.body_text())?;
    let fresh = session.is_none() && matches!(method.as_str(), "initialize" | "server/discover");
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
    (fresh && answered_before && new_connection).then_some(RunStart::Handshake { method })
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
    ex: &Exchange,
    phase: Phase,
    cb: Option<&CallbackView>,
) -> Option<usize> {
    let url = urls::without_query(&ex.request.url).to_string();
    let origin = urls::origin(&ex.request.url);
    let same_origin = |f: &Flow| {
        origin.is_some()
            && (f.mcp_url.as_deref().and_then(urls::origin) == origin
                || f.asm.iter().any(|d| urls::origin(&d.url) == origin)
                || f.prm_auth_servers()
                    .iter()
                    .any(|i| urls::origin(i) == origin)
                || [
                    "authorization_endpoint",
                    "token_endpoint",
                    "registration_endpoint",
                ]
                .iter()
                .any(|n| f.asm_str(n).and_then(urls::origin) == origin))
    };
    let recent = |flows: &Vec<Flow>| {
        flows
            .iter()
            .enumerate()
            .max_by_key(|(_, f)| f.last_at)
            .map(|(i, _)| i)
    };
    let found = match phase {
        Phase::McpTransport => {
            let same_url = |f: &Flow| f.mcp_url.as_deref().is_some_and(|m| same_mcp_url(m, &url));
            // A request in a session belongs to the run that was issued the session: a GET
            // stream of one session is recorded when it ends, after later runs began.
            let session = ex.request.header("mcp-session-id");
            let issued_in = session.and_then(|s| {
                flows
                    .iter()
                    .rposition(|f| same_url(f) && f.sessions.iter().any(|x| x == s))
            });
            if issued_in.is_some() {
                issued_in
            } else if let Some(i) = flows.iter().rposition(same_url) {
                match flows.get(i).and_then(|f| new_run(f, ex)) {
                    Some(why) => Some(next_run(flows, i, ex.started_at, why)),
                    None => Some(i),
                }
            } else if let Some(i) = flows.iter().rposition(|f| {
                f.mcp_url.is_none()
                    && (f
                        .prm_resource()
                        .is_some_and(|r| urls::compare(r, &url) != urls::UrlDiff::Origin)
                        || same_origin(f))
            }) {
                if let Some(f) = flows.get_mut(i) {
                    f.mcp_url = Some(url.clone());
                }
                Some(i)
            } else {
                let id = FlowId(flows.len() as u64 + 1);
                let mut f = Flow::new(id, ex.started_at);
                f.mcp_url = Some(url.clone());
                flows.push(f);
                Some(flows.len() - 1)
            }
        }
        Phase::DiscoveryPrm => flows
            .iter()
            .rposition(|f| {
                f.challenges
                    .iter()
                    .any(|c| c.resource_metadata.as_deref() == Some(ex.request.url.as_str()))
            })
            .or_else(|| {
                let res = urls::resource_from_prm_url(&ex.request.url);
                flows.iter().rposition(|f| {
                    f.mcp_url.is_some()
                        && f.mcp_url.as_deref().map(|m| m.trim_end_matches('/'))
                            == res.as_deref().map(|r| r.trim_end_matches('/'))
                })
            })
            .or_else(|| {
                flows
                    .iter()
                    .rposition(|f| f.mcp_url.as_deref().and_then(urls::origin) == origin)
            }),
        Phase::DiscoveryAs => flows
            .iter()
            .rposition(|f| {
                f.prm_auth_servers()
                    .iter()
                    .any(|i| urls::asm_candidates(i).contains(&url))
            })
            .or_else(|| flows.iter().rposition(&same_origin)),
        Phase::Callback => cb.and_then(|v| v.get("state")).and_then(|s| {
            flows
                .iter()
                .rposition(|f| f.authorize_by_state(s).is_some())
        }),
        Phase::Authorize => {
            let q = Pairs::from_url_query(&ex.request.url);
            let cid = q.first("client_id");
            flows
                .iter()
                .rposition(|f| {
                    cid.is_some()
                        && f.registrations
                            .iter()
                            .any(|r| r.client_id.as_deref() == cid)
                })
                .or_else(|| {
                    flows.iter().rposition(|f| {
                        f.asm_str("authorization_endpoint")
                            .is_some_and(|e| urls::without_query(e) == url)
                    })
                })
                .or_else(|| {
                    let st = cb.and_then(|v| v.get("state"));
                    st.and_then(|s| {
                        flows
                            .iter()
                            .rposition(|f| f.authorize_by_state(s).is_some())
                    })
                })
        }
        Phase::Token | Phase::Refresh => {
            let form = form_body(ex);
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
                .or_else(|| {
                    flows.iter().rposition(|f| {
                        f.asm_str("token_endpoint")
                            .is_some_and(|e| urls::without_query(e) == url)
                    })
                })
        }
        Phase::Registration => flows.iter().rposition(|f| {
            f.asm_str("registration_endpoint")
                .is_some_and(|e| urls::without_query(e) == url)
        }),
        Phase::Cors | Phase::Other => flows
            .iter()
            .rposition(|f| f.mcp_url.as_deref() == Some(url.as_str()))
            .or_else(|| flows.iter().rposition(&same_origin)),
    };
    let found = found.or_else(|| {
        if phase == Phase::Other || phase == Phase::Cors {
            None
        } else {
            recent(flows)
        }
    });
    if found.is_some() || matches!(phase, Phase::Other | Phase::Cors) {
        return found;
    }
    let id = FlowId(flows.len() as u64 + 1);
    let mut f = Flow::new(id, ex.started_at);
    if phase == Phase::DiscoveryPrm {
        f.mcp_url =
            urls::resource_from_prm_url(&ex.request.url).filter(|r| urls::raw_path(r).len() > 1);
    }
    flows.push(f);
    Some(flows.len() - 1)
}

/// Records what an exchange adds to its flow.
pub fn update(flow: &mut Flow, ex: &Exchange, phase: Phase, cb: Option<&CallbackView>) {
    let end = end_time(ex);
    let step = Step {
        exchange: ex.id,
        at: ex.started_at,
        end,
        attempt: flow.attempt,
    };
    let status = ex.response.as_ref().map(|r| r.status);
    let resp_json = ex
        .response
        .as_ref()
        .and_then(|r| r.body.as_ref())
        .and_then(|b| b.json());
    let resp_obj = resp_json.as_ref().and_then(Value::as_object).cloned();
    if !flow.phases.contains(&phase) && phase != Phase::Other {
        flow.phases.push(phase);
    }
    flow.timeline
        .push((ex.id, phase, status, ex.started_at, end));
    if end > flow.last_at {
        flow.last_at = end;
    }
    if ex.started_at < flow.first_at {
        flow.first_at = ex.started_at;
    }
    let asm_issuer = flow.asm_str("issuer").map(str::to_owned);
    match phase {
        Phase::DiscoveryPrm => flow.prm.push(DocFetch {
            step,
            url: ex.request.url.clone(),
            status,
            doc: resp_obj,
            via_challenge: flow
                .challenges
                .iter()
                .any(|c| c.resource_metadata.as_deref() == Some(ex.request.url.as_str())),
            error_kind: ex.error.as_ref().map(|e| e.kind.clone()),
        }),
        Phase::DiscoveryAs => flow.asm.push(DocFetch {
            step,
            url: ex.request.url.clone(),
            status,
            doc: resp_obj,
            via_challenge: false,
            error_kind: ex.error.as_ref().map(|e| e.kind.clone()),
        }),
        Phase::Registration if ex.request.method.eq_ignore_ascii_case("POST") => {
            let req = ex.request.body_text().and_then(metadata::object);
            let get = |d: &Option<serde_json::Map<String, Value>>, k: &str| {
                d.as_ref()
                    .and_then(|d| d.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let list = |d: &Option<serde_json::Map<String, Value>>| {
                d.as_ref()
                    .and_then(|d| metadata::str_list(d, "redirect_uris"))
                    .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>())
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            flow.registrations.push(RegistrationSeen {
                step,
                url: ex.request.url.clone(),
                status,
                requested_method: get(&req, "token_endpoint_auth_method"),
                client_id: if ok {
                    get(&resp_obj, "client_id")
                } else {
                    None
                },
                redirect_uris: list(&resp_obj).or_else(|| list(&req)).unwrap_or_default(),
                method: get(&resp_obj, "token_endpoint_auth_method"),
                issuer: asm_issuer.clone(),
            });
        }
        Phase::Authorize => {
            let q = Pairs::from_url_query(&ex.request.url);
            if q.has("response_type") || q.has("client_id") && q.has("redirect_uri") {
                flow.authorizes.push(AuthorizeSeen {
                    step: Some(step),
                    client_id: q.first("client_id").map(str::to_owned),
                    state: q.first("state").map(str::to_owned),
                    code_challenge: q.first("code_challenge").map(str::to_owned),
                    challenge_method: q.first("code_challenge_method").map(str::to_owned),
                    redirect_uri: q.first("redirect_uri").map(str::to_owned),
                    resource: q
                        .0
                        .iter()
                        .filter(|(k, _)| k == "resource")
                        .map(|(_, v)| v.clone())
                        .collect(),
                    scope: q.first("scope").map(str::to_owned),
                    issuer: asm_issuer.clone(),
                });
            }
        }
        Phase::Token | Phase::Refresh => record_token(flow, ex, step, status, resp_obj.as_ref()),
        Phase::McpTransport => record_mcp(flow, ex, step, status, resp_json.as_ref()),
        _ => {}
    }
    if let Some(v) = cb {
        let code_hash = v.get("code").map(urls::secret_hash);
        let dup = code_hash.is_some() && flow.callbacks.iter().any(|c| c.code_hash == code_hash);
        if !dup {
            let state = v.get("state").map(str::to_owned);
            let authorize = state
                .as_deref()
                .and_then(|s| flow.authorize_by_state(s))
                .map(|(i, _)| i);
            flow.callbacks.push(CallbackSeen {
                step,
                code_hash,
                state,
                iss: v.get("iss").map(str::to_owned),
                error: v.get("error").map(str::to_owned),
                authorize,
            });
        }
    }
}

fn record_token(
    flow: &mut Flow,
    ex: &Exchange,
    step: Step,
    status: Option<u16>,
    resp: Option<&serde_json::Map<String, Value>>,
) {
    let form = form_body(ex);
    let basic_user = ex.request.header("authorization").and_then(basic_user);
    let auth_method = if basic_user.is_some() {
        "client_secret_basic"
    } else if form.has("client_secret") {
        "client_secret_post"
    } else {
        "none"
    };
    let ok = status == Some(200);
    let issued = resp.filter(|_| ok).and_then(|r| {
        let at = r.get("access_token")?.as_str()?;
        let jwt = Jwt::decode(at).map(|j| JwtClaims {
            iss: j.iss().map(str::to_owned),
            aud: j.aud(),
            exp: j.num("exp"),
            iat: j.num("iat"),
            scopes: j.scopes(),
            kid: j.header_str("kid").map(str::to_owned),
        });
        Some(IssuedToken {
            access_hash: urls::secret_hash(at),
            refresh_hash: r
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(urls::secret_hash),
            jwt,
            scope: r.get("scope").and_then(Value::as_str).map(str::to_owned),
            expires_in: r.get("expires_in").and_then(Value::as_f64),
        })
    });
    flow.tokens.push(TokenCall {
        step: Some(step),
        grant: form.first("grant_type").unwrap_or("").to_string(),
        code_hash: form.first("code").map(urls::secret_hash),
        verifier_s256: form
            .first("code_verifier")
            .filter(|v| !crate::parse::is_redacted(v))
            .map(urls::pkce_s256),
        verifier_redacted: form
            .first("code_verifier")
            .is_some_and(crate::parse::is_redacted),
        redirect_uri: form.first("redirect_uri").map(str::to_owned),
        resource: form
            .0
            .iter()
            .filter(|(k, _)| k == "resource")
            .map(|(_, v)| v.clone())
            .collect(),
        client_id: form.first("client_id").map(str::to_owned).or(basic_user),
        auth_method: auth_method.to_string(),
        refresh_hash: form.first("refresh_token").map(urls::secret_hash),
        scope: form.first("scope").map(str::to_owned),
        status,
        error: resp
            .and_then(|r| r.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        issued,
    });
}

/// The user name of a `Basic` Authorization header.
pub fn basic_user(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let user = text.split(':').next()?;
    Some(
        url::form_urlencoded::parse(format!("u={user}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    )
}

/// The JSON-RPC method of a request body (single message).
pub fn rpc_method(body: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_str(body?).ok()?;
    v.get("method")?.as_str().map(str::to_owned)
}

fn record_mcp(
    flow: &mut Flow,
    ex: &Exchange,
    step: Step,
    status: Option<u16>,
    resp_json: Option<&Value>,
) {
    let token = bearer_token(ex);
    let had_auth = ex.request.header("authorization").is_some();
    let rpc = rpc_method(ex.request.body_text());
    let resp = ex.response.as_ref();
    // New attempt: a challenge after a success (authenticated 2xx or a token issued).
    if matches!(status, Some(401)) {
        let succeeded = flow
            .mcp
            .iter()
            .any(|m| m.step.is_some_and(|s| s.attempt == flow.attempt) && m.had_auth && m.ok());
        if succeeded {
            flow.attempt += 1;
        }
    }
    let step = Step {
        attempt: flow.attempt,
        ..step
    };
    if let Some(s @ (401 | 403)) = status {
        let parsed = www_authenticate::parse(
            resp.map(|r| r.header_all("www-authenticate").collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        let b = parsed.bearer();
        flow.challenges.push(ChallengeSeen {
            step,
            status: s,
            had_auth,
            resource_metadata: b
                .and_then(|c| c.param("resource_metadata"))
                .map(str::to_owned),
            scope: b.and_then(|c| c.param("scope")).map(str::to_owned),
            error: b.and_then(|c| c.param("error")).map(str::to_owned),
            has_bearer: b.is_some(),
        });
    }
    if matches!(rpc.as_deref(), Some("initialize" | "server/discover")) {
        // The result, as a JSON body or the SSE event that carries it.
        let result = resp_json
            .and_then(|v| v.get("result"))
            .cloned()
            .or_else(|| {
                resp.and_then(|r| {
                    r.sse_events.iter().find_map(|e| {
                        let v: Value = serde_json::from_str(&e.data).ok()?;
                        v.get("result").cloned()
                    })
                })
            });
        if let Some(caps) = result
            .as_ref()
            .and_then(|r| r.get("capabilities"))
            .and_then(Value::as_object)
        {
            flow.server_capabilities = Some(caps.clone());
        }
    }
    if rpc.as_deref() == Some("initialize") {
        let from_json = resp_json
            .and_then(|v| v.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let from_sse = resp.and_then(|r| {
            r.sse_events.iter().find_map(|e| {
                let v: Value = serde_json::from_str(&e.data).ok()?;
                v.pointer("/result/protocolVersion")?
                    .as_str()
                    .map(str::to_owned)
            })
        });
        if let Some(v) = from_json.or(from_sse) {
            flow.protocol_version = Some(v);
        }
        if let Some(sid) = resp.and_then(|r| r.header("mcp-session-id")) {
            flow.sessions.push(sid.to_string());
        }
    }
    flow.mcp.push(McpCall {
        step: Some(step),
        method: ex.request.method.to_ascii_uppercase(),
        rpc_method: rpc,
        status,
        token_hash: token.map(urls::secret_hash),
        had_auth,
        session_id: ex.request.header("mcp-session-id").map(str::to_owned),
        response_session: resp
            .and_then(|r| r.header("mcp-session-id"))
            .map(str::to_owned),
        protocol_header: ex.request.header("mcp-protocol-version").map(str::to_owned),
        user_agent: ex.request.header("user-agent").map(str::to_owned),
        client_addr: ex.client_addr.clone(),
    });
}
