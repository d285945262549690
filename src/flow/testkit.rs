//! Test builders (mitmproxy's `tflow` idea): terse exchange builders and a compliant reference
//! flow to mutate one step at a time. The runners that feed them to the rule engine are
//! `rules::testkit`.

use base64::Engine as _;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::model::*;
use crate::parse::urls;

/// 2026-11-22T12:00:00Z, the start of every test flow.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_348_800).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub const MCP: &str = "https://mcp.example.com/mcp";
pub const PRM_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
pub const ISSUER: &str = "https://auth.example.com";
pub const ASM_URL: &str = "https://auth.example.com/.well-known/oauth-authorization-server";
pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const STATE: &str = "st-0123456789abcdef";
pub const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abc";
pub const CODE: &str = "code-1";

/// An exchange under construction.
#[derive(Debug, Clone)]
pub struct B(pub Exchange);

fn base(method: &str, url: &str) -> B {
    B(Exchange {
        id: ExchangeId(0),
        started_at: t0(),
        timings: Timings {
            end_ms: Some(20.0),
            first_byte_ms: Some(10.0),
            ..Default::default()
        },
        client_addr: None,
        request: RequestRecord {
            method: method.into(),
            url: url.into(),
            client_url: None,
            http_version: "HTTP/1.1".into(),
            headers: Vec::new(),
            body: None,
        },
        response: None,
        outcome: Outcome::Complete,
        error: None,
        rewrites: Vec::new(),
        phase: None,
        flow: None,
        findings: Vec::new(),
        ofids: Vec::new(),
        mode: Default::default(),
    })
}

pub fn get(url: &str) -> B {
    base("GET", url)
}
pub fn options(url: &str) -> B {
    base("OPTIONS", url)
}
pub fn req(method: &str, url: &str) -> B {
    base(method, url)
}
pub fn post_json(url: &str, body: &str) -> B {
    base("POST", url)
        .req_header("content-type", "application/json")
        .req_body(body)
}
pub fn post_form(url: &str, body: &str) -> B {
    base("POST", url)
        .req_header("content-type", "application/x-www-form-urlencoded")
        .req_body(body)
}
pub fn rpc(method: &str, id: Option<u64>) -> String {
    match id {
        Some(i) => json!({"jsonrpc":"2.0","id":i,"method":method,"params":{}}).to_string(),
        None => json!({"jsonrpc":"2.0","method":method}).to_string(),
    }
}

fn capture(text: &str) -> BodyCapture {
    BodyCapture {
        wire_size: text.len() as u64,
        text: Some(text.into()),
        ..Default::default()
    }
}

impl B {
    fn resp(&mut self) -> &mut ResponseRecord {
        self.0.response.get_or_insert_with(|| ResponseRecord {
            status: 200,
            http_version: "HTTP/1.1".into(),
            headers: Vec::new(),
            body: None,
            sse_events: Vec::new(),
        })
    }
    pub fn req_header(mut self, n: &str, v: &str) -> Self {
        self.0.request.headers.push(Header::new(n, v));
        self
    }
    pub fn no_req_header(mut self, n: &str) -> Self {
        self.0
            .request
            .headers
            .retain(|h| !h.name.eq_ignore_ascii_case(n));
        self
    }
    pub fn req_body(mut self, body: &str) -> Self {
        self.0.request.body = Some(capture(body));
        self
    }
    /// Replaces the request body text with `f(old text)`.
    pub fn edit_req_body(self, f: impl FnOnce(String) -> String) -> Self {
        let text = self
            .0
            .request
            .body
            .as_ref()
            .and_then(|b| b.text.clone())
            .expect("request body text");
        self.req_body(&f(text))
    }
    pub fn url(mut self, url: &str) -> Self {
        self.0.request.url = url.into();
        self
    }
    pub fn status(mut self, s: u16) -> Self {
        self.resp().status = s;
        self
    }
    pub fn resp_header(mut self, n: &str, v: &str) -> Self {
        self.resp().headers.push(Header::new(n, v));
        self
    }
    pub fn no_resp_header(mut self, n: &str) -> Self {
        self.resp()
            .headers
            .retain(|h| !h.name.eq_ignore_ascii_case(n));
        self
    }
    pub fn set_resp_header(self, n: &str, v: &str) -> Self {
        self.no_resp_header(n).resp_header(n, v)
    }
    pub fn resp_body(mut self, ct: &str, body: &str) -> Self {
        let r = self.resp();
        r.headers.retain(|h| h.name != "content-type");
        if !ct.is_empty() {
            r.headers.push(Header::new("content-type", ct));
        }
        r.body = Some(capture(body));
        self
    }
    pub fn resp_json(self, body: &str) -> Self {
        self.resp_body("application/json", body)
    }
    /// Replaces the JSON response body with a modified copy.
    pub fn edit_json(
        mut self,
        f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Self {
        let text = self
            .resp()
            .body
            .as_ref()
            .and_then(|b| b.text.clone())
            .unwrap_or_else(|| "{}".into());
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        f(&mut v);
        let s = serde_json::Value::Object(v).to_string();
        self.resp().body = Some(capture(&s));
        self
    }
    /// Replaces the request JSON body with a modified copy.
    pub fn edit_req_json(
        mut self,
        f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Self {
        let text = self
            .0
            .request
            .body
            .as_ref()
            .and_then(|b| b.text.clone())
            .unwrap_or_else(|| "{}".into());
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        f(&mut v);
        self.0.request.body = Some(capture(&serde_json::Value::Object(v).to_string()));
        self
    }
    pub fn sse(mut self, events: &[(&str, Option<&str>)]) -> Self {
        let r = self.resp();
        r.headers.retain(|h| h.name != "content-type");
        r.headers
            .push(Header::new("content-type", "text/event-stream"));
        r.sse_events = events
            .iter()
            .enumerate()
            .map(|(i, (data, id))| SseEvent {
                at_ms: i as f64,
                event: Some("message".into()),
                id: id.map(str::to_owned),
                retry: None,
                data: (*data).into(),
            })
            .collect();
        self
    }
    pub fn no_response(mut self, kind: ErrorKind) -> Self {
        self.0.response = None;
        self.0.outcome = Outcome::UpstreamError;
        self.0.error = Some(ExchangeError {
            message: format!("{kind} failed"),
            kind,
        });
        self
    }
    /// Starts `secs` seconds after [`t0`].
    pub fn at(mut self, secs: f64) -> Self {
        self.0.started_at = t0() + Duration::seconds_f64(secs);
        self
    }
    pub fn took_ms(mut self, ms: f64) -> Self {
        self.0.timings.end_ms = Some(ms);
        self.0.timings.first_byte_ms = Some(ms);
        self
    }
    pub fn build(self) -> Exchange {
        self.0
    }
}

/// A JWT (unsigned signature part) with the given claims.
pub fn jwt(claims: serde_json::Value) -> String {
    let e = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.c2ln",
        e(r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#),
        e(&claims.to_string())
    )
}

pub fn access_token() -> String {
    let now = t0().unix_timestamp();
    jwt(json!({"iss": ISSUER, "aud": MCP, "exp": now + 3600, "iat": now, "scope": "mcp"}))
}

/// A spec-compliant flow, one field per step, to be mutated by tests.
#[derive(Debug, Clone)]
pub struct Clean {
    pub challenge: B,
    pub prm: B,
    pub asm: B,
    pub dcr: B,
    pub authorize: B,
    pub token: B,
    pub init: B,
    pub initialized: B,
    pub list: B,
}

impl Clean {
    pub fn new() -> Self {
        let at = access_token();
        let bearer = format!("Bearer {at}");
        let authz_url = format!(
            "{ISSUER}/authorize?response_type=code&client_id=client-1&redirect_uri={}&state={STATE}&code_challenge={}&code_challenge_method=S256&resource={}&scope=mcp",
            enc(REDIRECT),
            urls::pkce_s256(VERIFIER),
            enc(MCP)
        );
        let cb = format!("{REDIRECT}?code={CODE}&state={STATE}&iss={}", enc(ISSUER));
        Clean {
            challenge: post_json(MCP, &rpc("initialize", Some(0)))
                .req_header("accept", "application/json, text/event-stream")
                .at(0.0)
                .status(401)
                .resp_header("www-authenticate", &format!(r#"Bearer resource_metadata="{PRM_URL}", scope="mcp""#))
                .resp_json(r#"{"error":"unauthorized"}"#),
            prm: get(PRM_URL).at(1.0).resp_json(
                &json!({"resource": MCP, "authorization_servers": [ISSUER], "scopes_supported": ["mcp"], "bearer_methods_supported": ["header"]}).to_string(),
            ),
            asm: get(ASM_URL).at(2.0).resp_json(
                &json!({
                    "issuer": ISSUER,
                    "authorization_endpoint": format!("{ISSUER}/authorize"),
                    "token_endpoint": format!("{ISSUER}/token"),
                    "registration_endpoint": format!("{ISSUER}/register"),
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code", "refresh_token"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": ["mcp"],
                    "authorization_response_iss_parameter_supported": true
                })
                .to_string(),
            ),
            dcr: post_json(
                &format!("{ISSUER}/register"),
                &json!({"client_name":"test","redirect_uris":[REDIRECT],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","application_type":"native"}).to_string(),
            )
            .at(3.0)
            .status(201)
            .resp_json(
                &json!({"client_id":"client-1","client_id_issued_at":1_795_348_800u64,"client_name":"test","redirect_uris":[REDIRECT],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","registration_client_uri":format!("{ISSUER}/register/client-1")}).to_string(),
            ),
            authorize: get(&authz_url).at(4.0).status(302).resp_header("location", &cb),
            token: post_form(
                &format!("{ISSUER}/token"),
                &format!(
                    "grant_type=authorization_code&code={CODE}&code_verifier={VERIFIER}&redirect_uri={}&client_id=client-1&resource={}",
                    enc(REDIRECT),
                    enc(MCP)
                ),
            )
            .at(5.0)
            .resp_header("cache-control", "no-store")
            .resp_json(&json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1", "scope": "mcp"}).to_string()),
            init: post_json(MCP, &rpc("initialize", Some(1)))
                .req_header("accept", "application/json, text/event-stream")
                .req_header("authorization", &bearer)
                .at(6.0)
                .resp_header("mcp-session-id", "sess-1")
                .resp_json(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"demo","version":"1"}}}"#),
            initialized: post_json(MCP, &rpc("notifications/initialized", None))
                .req_header("accept", "application/json, text/event-stream")
                .req_header("authorization", &bearer)
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(7.0)
                .status(202),
            list: post_json(MCP, &rpc("tools/list", Some(2)))
                .req_header("accept", "application/json, text/event-stream")
                .req_header("authorization", &bearer)
                .req_header("mcp-session-id", "sess-1")
                .req_header("mcp-protocol-version", "2025-11-25")
                .at(8.0)
                .sse(&[(r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#, Some("e1"))]),
        }
    }

    pub fn steps(self) -> Vec<B> {
        vec![
            self.challenge,
            self.prm,
            self.asm,
            self.dcr,
            self.authorize,
            self.token,
            self.init,
            self.initialized,
            self.list,
        ]
    }
}

impl Default for Clean {
    fn default() -> Self {
        Self::new()
    }
}

/// The steps as a flow of MCP revision `wire` instead of 2025-11-25: the client offers it in
/// `initialize`, the server answers it, and every `MCP-Protocol-Version` header carries it.
pub fn at_revision(steps: Vec<B>, wire: &str) -> Vec<B> {
    let swap = |text: &mut String| *text = text.replace("2025-11-25", wire);
    steps
        .into_iter()
        .map(|mut b| {
            let req = &mut b.0.request;
            for h in req.headers.iter_mut() {
                swap(&mut h.value);
            }
            if let Some(text) = req.body.as_mut().and_then(|b| b.text.as_mut()) {
                if text.contains(r#""method":"initialize""#) {
                    *text = text.replace(
                        r#""params":{}"#,
                        &format!(r#""params":{{"protocolVersion":"{wire}"}}"#),
                    );
                }
                swap(text);
            }
            if let Some(resp) = b.0.response.as_mut() {
                if let Some(text) = resp.body.as_mut().and_then(|b| b.text.as_mut()) {
                    swap(text);
                }
                for e in resp.sse_events.iter_mut() {
                    swap(&mut e.data);
                }
            }
            b
        })
        .collect()
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The clean flow plus one authenticated 2026-07-28 `tools/list` request (its `Mcp-Method`
/// header mirrored) with `body` and `answer`.
pub fn modern(body: &str, answer: &str) -> Vec<B> {
    let mut steps = Clean::new().steps();
    steps.push(
        post_json(MCP, body)
            .req_header("accept", "application/json, text/event-stream")
            .req_header("authorization", &format!("Bearer {}", access_token()))
            .req_header("mcp-protocol-version", "2026-07-28")
            .req_header("mcp-method", "tools/list")
            .at(9.0)
            .resp_json(answer),
    );
    steps
}
