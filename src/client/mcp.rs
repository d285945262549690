//! MCP steps with the token: `initialize` (session id and protocol version kept),
//! `notifications/initialized`, `tools/list`, `tools/call countdown` (SSE, events timed as they
//! arrive), `tools/call echo`, and `DELETE` of the session. Answers may be JSON or SSE.

use http::Method;
use serde_json::{Value, json};

use super::Outcome;
use super::challenge::parse_bearer;
use super::discovery::initialize_body;
use super::flow::{Flow, Res, Stop};
use super::http::rpc_id_of;
use super::message::{Reply, Req};
use crate::model::Phase;

impl Flow {
    fn mcp_req(&self, method: Method) -> Req {
        let mut req = Req::new(method, self.cfg.mcp_url.clone())
            .header("accept", "application/json, text/event-stream");
        if let Some(tokens) = &self.tokens {
            req = req.header("authorization", format!("Bearer {}", tokens.access));
        }
        if let Some(sid) = &self.session_id {
            req = req.header("mcp-session-id", sid.clone());
        }
        if let Some(v) = &self.report.protocol_version {
            req = req.header("mcp-protocol-version", v.clone());
        }
        req
    }

    /// Sends one JSON-RPC request; returns the reply and the JSON-RPC response object.
    async fn rpc(&mut self, name: &str, body: Value, id: u64) -> Res<(Reply, Value)> {
        let mut req = self.mcp_req(Method::POST).json(&body);
        req.until_rpc_id = Some(id);
        let url = req.url.clone();
        let reply = self.call(name, Phase::McpTransport, req).await?;
        if reply.status == 401 || reply.status == 403 {
            let ch = reply
                .header("www-authenticate")
                .and_then(parse_bearer)
                .unwrap_or_default();
            let note = format!(
                "{} to the fresh token: {} {} (token issued but rejected by the resource)",
                reply.status,
                ch.error.as_deref().unwrap_or("(no error)"),
                ch.error_description.as_deref().unwrap_or("")
            );
            self.step(name, Phase::McpTransport)
                .at("POST", &url)
                .reply(&reply)
                .fail(note)?;
        }
        let response = match reply.media_type().as_str() {
            "application/json" => reply.json(),
            "text/event-stream" => reply
                .events
                .iter()
                .find(|(_, ev)| rpc_id_of(&ev.data) == Some(id))
                .and_then(|(_, ev)| serde_json::from_str(&ev.data).ok()),
            _ => None,
        };
        let Some(response) = response.filter(|_| reply.status == 200) else {
            let what = if reply.is_html() {
                super::discovery::html_note(&reply)
            } else {
                reply.media_type()
            };
            let note = format!("no JSON-RPC response (status {}, {what})", reply.status);
            self.step(name, Phase::McpTransport)
                .at("POST", &url)
                .reply(&reply)
                .fail(note)?;
            return Err(Stop);
        };
        if let Some(err) = response.get("error") {
            let note = format!("JSON-RPC error {err}");
            self.step(name, Phase::McpTransport)
                .at("POST", &url)
                .reply(&reply)
                .fail(note)?;
        }
        Ok((reply, response))
    }

    /// `initialize` with the token.
    pub(super) async fn initialize(&mut self) -> Res<()> {
        let id = self.rpc_id();
        let body = initialize_body(id, &self.cfg.profile.protocol_version);
        let (reply, response) = self.rpc("initialize", body, id).await?;
        let version = response
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let sid = reply.header("mcp-session-id").map(str::to_string);
        let mut notes = vec![format!("protocol {version}")];
        let mut outcome = Outcome::Ok;
        match &sid {
            Some(s) if s.bytes().all(|b| (0x21..=0x7e).contains(&b)) => {
                notes.push("session issued".into())
            }
            Some(_) => {
                outcome = self.lenient();
                notes.push("session id has bytes outside visible ASCII".into());
            }
            None if self.cfg.origin.is_some() => {
                notes.push("no Mcp-Session-Id visible (stateless, or not exposed)".into())
            }
            None => notes.push("no Mcp-Session-Id (stateless server)".into()),
        }
        if version != self.cfg.profile.protocol_version {
            notes.push(format!("asked for {}", self.cfg.profile.protocol_version));
        }
        let url = self.cfg.mcp_url.clone();
        self.step("initialize", Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, notes.join("; "))?;
        self.session_id = sid;
        self.report.protocol_version = Some(version);
        Ok(())
    }

    /// `notifications/initialized`: expects 202 without body.
    pub(super) async fn initialized(&mut self) -> Res<()> {
        let req = self
            .mcp_req(Method::POST)
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        let url = req.url.clone();
        let reply = self
            .call("notifications/initialized", Phase::McpTransport, req)
            .await?;
        let (outcome, note) = match reply.status {
            202 if reply.body.is_empty() => (Outcome::Ok, "202 Accepted".to_string()),
            202 => (Outcome::Warn, "202 with a body".to_string()),
            s @ (200 | 204) => (Outcome::Warn, format!("{s} instead of 202")),
            s => (Outcome::Fail, format!("notification refused with {s}")),
        };
        self.step("notifications/initialized", Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)
    }

    /// `tools/list`.
    pub(super) async fn list_tools(&mut self) -> Res<()> {
        let id = self.rpc_id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}});
        let (reply, response) = self.rpc("tools/list", body, id).await?;
        let names: Vec<String> = response
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let url = self.cfg.mcp_url.clone();
        self.step("tools/list", Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .ok(format!("tools: {}", names.join(", ")))?;
        self.report.tools = names;
        Ok(())
    }

    /// `tools/call countdown`: expects an SSE stream of progress notifications, then the result.
    pub(super) async fn countdown(&mut self) -> Res<()> {
        let name = "tools/call countdown";
        let url = self.cfg.mcp_url.clone();
        if !self.report.tools.iter().any(|t| t == "countdown") {
            return self
                .step(name, Phase::McpTransport)
                .at("POST", &url)
                .warn("server has no countdown tool; skipped");
        }
        let id = self.rpc_id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "countdown", "arguments": {"from": self.cfg.countdown_from},
            "_meta": {"progressToken": format!("authtap-{id}")},
        }});
        let (reply, _response) = self.rpc(name, body, id).await?;
        self.report.sse_events = reply.events.len();
        let (outcome, note) = if reply.media_type() == "text/event-stream" {
            let notes = reply
                .events
                .iter()
                .filter(|(_, ev)| ev.data.contains("\"notifications/"))
                .count();
            let times: Vec<String> = reply.events.iter().map(|(at, _)| format!("{at}")).collect();
            (
                Outcome::Ok,
                format!(
                    "SSE: {} events ({notes} notifications) at ms [{}], then the result",
                    reply.events.len(),
                    times.join(", ")
                ),
            )
        } else {
            (
                Outcome::Ok,
                "answered as one JSON response (no stream)".to_string(),
            )
        };
        self.step(name, Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)
    }

    /// `tools/call echo` (after the refresh: proves the new token works).
    pub(super) async fn echo(&mut self) -> Res<()> {
        let name = "tools/call echo";
        let id = self.rpc_id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "echo", "arguments": {"text": "hello from authtap"},
        }});
        let (reply, response) = self.rpc(name, body, id).await?;
        let text = response
            .pointer("/result/content/0/text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (outcome, note) = if text == "hello from authtap" {
            (Outcome::Ok, "echoed with the refreshed token".to_string())
        } else {
            (Outcome::Warn, format!("unexpected echo result {text:?}"))
        };
        let url = self.cfg.mcp_url.clone();
        self.step(name, Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)
    }

    /// `tools/call` of a named tool with arguments (`authtap check --call-tool`).
    pub(super) async fn call_tool(&mut self, tool: &str, args: Value) -> Res<()> {
        let name = format!("tools/call {tool}");
        if !self.report.tools.iter().any(|t| t == tool) {
            let url = self.cfg.mcp_url.clone();
            let note = format!("tools/list has no tool named {tool}");
            return self
                .step(&name, Phase::McpTransport)
                .at("POST", &url)
                .fail(note);
        }
        let id = self.rpc_id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": tool, "arguments": args,
        }});
        let (reply, response) = self.rpc(&name, body, id).await?;
        let text: String = response
            .pointer("/result/content")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| c.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let is_error = response.pointer("/result/isError") == Some(&Value::Bool(true));
        let (outcome, note) = if is_error {
            (Outcome::Warn, format!("the tool reported an error: {text}"))
        } else {
            (Outcome::Ok, format!("result: {text}"))
        };
        let url = self.cfg.mcp_url.clone();
        self.step(&name, Phase::McpTransport)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)
    }

    /// `DELETE` of the session.
    pub(super) async fn delete_session(&mut self) -> Res<()> {
        let url = self.cfg.mcp_url.clone();
        if self.session_id.is_none() {
            return self
                .step("delete session", Phase::McpTransport)
                .at("DELETE", &url)
                .ok("no session to end");
        }
        let req = self.mcp_req(Method::DELETE);
        let reply = self
            .call("delete session", Phase::McpTransport, req)
            .await?;
        let (outcome, note) = match reply.status {
            200..=299 => (Outcome::Ok, "session ended".to_string()),
            405 => (
                Outcome::Ok,
                "server does not allow DELETE (405)".to_string(),
            ),
            s => (Outcome::Warn, format!("unexpected status {s}")),
        };
        self.step("delete session", Phase::McpTransport)
            .at("DELETE", &url)
            .reply(&reply)
            .outcome(outcome, note)
    }
}
