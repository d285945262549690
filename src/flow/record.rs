//! Records what an exchange adds to its flow's state: the MCP URL, `resource_metadata`,
//! issuer, `client_id`, `state`, `code`, PKCE, `redirect_uri`, token hashes, session ids,
//! protocol version. Secrets are hashed here and never stored in clear. Everything is read
//! from the exchange's [`ExchangeView`].

use serde_json::{Map, Value};

use crate::flow::callback::CallbackView;
use crate::flow::correlate::end_time;
use crate::flow::state::*;
use crate::model::{Headers, Phase};
use crate::parse::metadata;
use crate::parse::urls;
use crate::parse::view::ExchangeView;

/// Records what an exchange adds to its flow.
pub fn update(
    flow: &mut Flow,
    view: &ExchangeView<'_>,
    phase: Phase,
    cb: Option<&CallbackView<'_>>,
) {
    let ex = view.exchange();
    let end = end_time(ex);
    let step = Step {
        exchange: ex.id,
        at: ex.started_at,
        end,
        attempt: flow.attempt,
    };
    let status = view.status();
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
    let fetch = |via_challenge| DocFetch {
        step,
        url: ex.request.url.clone(),
        status,
        doc: view.response_object().cloned(),
        via_challenge,
        error_kind: ex.error.as_ref().map(|e| e.kind.clone()),
    };
    match phase {
        Phase::DiscoveryPrm => {
            let via_challenge = flow
                .challenges
                .iter()
                .any(|c| c.resource_metadata.as_deref() == Some(ex.request.url.as_str()));
            flow.prm.push(fetch(via_challenge));
        }
        Phase::DiscoveryAs => flow.asm.push(fetch(false)),
        Phase::Registration if view.method() == "POST" => record_registration(flow, view, step),
        Phase::Authorize => record_authorize(flow, view, step),
        Phase::Token | Phase::Refresh => record_token(flow, view, step),
        Phase::McpTransport => record_mcp(flow, view, step),
        _ => {}
    }
    if let Some(v) = cb {
        record_callback(flow, v, step);
    }
}

fn record_registration(flow: &mut Flow, view: &ExchangeView<'_>, step: Step) {
    let req = view.request_object();
    let resp = view.response_object();
    let get = |d: Option<&Map<String, Value>>, k: &str| {
        d.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let list = |d: Option<&Map<String, Value>>| {
        d.and_then(|d| metadata::str_list(d, "redirect_uris"))
            .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>())
    };
    let status = view.status();
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let issuer = flow.asm_str("issuer").map(str::to_owned);
    flow.registrations.push(RegistrationSeen {
        step,
        url: view.url().to_owned(),
        status,
        requested_method: get(req, "token_endpoint_auth_method"),
        client_id: if ok { get(resp, "client_id") } else { None },
        redirect_uris: list(resp).or_else(|| list(req)).unwrap_or_default(),
        method: get(resp, "token_endpoint_auth_method"),
        issuer,
    });
}

fn record_authorize(flow: &mut Flow, view: &ExchangeView<'_>, step: Step) {
    let q = view.query();
    if !(q.has("response_type") || q.has("client_id") && q.has("redirect_uri")) {
        return;
    }
    let issuer = flow.asm_str("issuer").map(str::to_owned);
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
        issuer,
    });
}

fn record_callback(flow: &mut Flow, v: &CallbackView<'_>, step: Step) {
    let code_hash = v.get("code").map(urls::secret_hash);
    let dup = code_hash.is_some() && flow.callbacks.iter().any(|c| c.code_hash == code_hash);
    if dup {
        return;
    }
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

fn record_token(flow: &mut Flow, view: &ExchangeView<'_>, step: Step) {
    let form = view.form();
    let basic_user = view.basic_user().map(str::to_owned);
    let auth_method = if basic_user.is_some() {
        "client_secret_basic"
    } else if form.has("client_secret") {
        "client_secret_post"
    } else {
        "none"
    };
    let status = view.status();
    let resp = view.response_object();
    let issued = resp.filter(|_| status == Some(200)).and_then(|r| {
        let at = r.get("access_token")?.as_str()?;
        let jwt = view.issued_jwt().map(|j| JwtClaims {
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

fn record_mcp(flow: &mut Flow, view: &ExchangeView<'_>, step: Step) {
    let ex = view.exchange();
    let status = view.status();
    let had_auth = ex.request.header("authorization").is_some();
    let rpc = view.rpc_method();
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
        let b = view.challenges().and_then(|p| p.bearer());
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
    if matches!(rpc, Some("initialize" | "server/discover")) {
        if let Some(caps) = handshake_result(view)
            .as_ref()
            .and_then(|r| r.get("capabilities"))
            .and_then(Value::as_object)
        {
            flow.server_capabilities = Some(caps.clone());
        }
    }
    if rpc == Some("initialize") {
        let from_json = view
            .response_json()
            .and_then(|v| v.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let from_sse = || {
            view.sse_json().iter().find_map(|v| {
                v.as_ref()?
                    .pointer("/result/protocolVersion")?
                    .as_str()
                    .map(str::to_owned)
            })
        };
        if let Some(v) = from_json.or_else(from_sse) {
            flow.protocol_version = Some(v);
        }
        if let Some(sid) = resp.and_then(|r| r.header("mcp-session-id")) {
            flow.sessions.push(sid.to_string());
        }
    }
    flow.mcp.push(McpCall {
        step: Some(step),
        method: view.method().to_owned(),
        rpc_method: rpc.map(str::to_owned),
        status,
        token_hash: view.bearer_token().map(urls::secret_hash),
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

/// The handshake's `result`, from the JSON body or the SSE event that carries it.
fn handshake_result(view: &ExchangeView<'_>) -> Option<Value> {
    view.response_json()
        .and_then(|v| v.get("result"))
        .cloned()
        .or_else(|| {
            view.sse_json()
                .iter()
                .find_map(|v| v.as_ref()?.get("result").cloned())
        })
}
