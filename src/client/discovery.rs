//! Discovery: the unauthenticated probe and its `WWW-Authenticate` challenge, protected
//! resource metadata (challenge URL, then path-aware, then root), and authorization server
//! metadata (RFC 8414 with path insertion, then OIDC forms; MCP 2025-11-25 order).

use http::Method;
use serde_json::{Value, json};

use super::challenge::parse_bearer;
use super::flow::{Flow, Res};
use super::message::{Reply, Req};
use super::report::Outcome;
use crate::model::Phase;
use crate::parse::urls::{asm_candidates, prm_well_known};

/// The `initialize` request body the client sends.
pub(super) fn initialize_body(id: u64, protocol_version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": protocol_version,
        "capabilities": {},
        "clientInfo": {"name": "authtap-client", "version": env!("CARGO_PKG_VERSION")},
    }})
}

/// A short description of an HTML answer: WAF markers and the page title.
pub(super) fn html_note(reply: &Reply) -> String {
    let mut parts = vec![format!("HTML ({}) instead of JSON", reply.media_type())];
    for h in ["cf-mitigated", "x-vercel-mitigated"] {
        if let Some(v) = reply.header(h) {
            parts.push(format!("{h}: {v} (WAF challenge)"));
        }
    }
    let text = reply.text();
    if let Some(title) = text
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
    {
        parts.push(format!("page \"{}\"", title.trim()));
    }
    parts.join("; ")
}

impl Flow {
    /// Unauthenticated `initialize`: expects 401 with a Bearer challenge. Returns whether the
    /// server wants authorization.
    pub(super) async fn probe(&mut self) -> Res<bool> {
        let id = self.rpc_id();
        let req = Req::new(Method::POST, self.cfg.mcp_url.clone())
            .header("accept", "application/json, text/event-stream")
            .json(&initialize_body(id, &self.cfg.profile.protocol_version));
        let reply = self.call("probe", Phase::McpTransport, req.clone()).await?;
        let (name, url) = ("probe", req.url.as_str());
        if (200..300).contains(&reply.status) {
            self.step(name, Phase::McpTransport)
                .at("POST", url)
                .reply(&reply)
                .warn("no authorization required")?;
            return Ok(false);
        }
        if reply.is_html() {
            let note = format!("expected 401, got {}", html_note(&reply));
            self.step(name, Phase::McpTransport)
                .at("POST", url)
                .reply(&reply)
                .fail(note)?;
        }
        if reply.status != 401 {
            let note = format!("expected 401 with a Bearer challenge, got {}", reply.status);
            self.step(name, Phase::McpTransport)
                .at("POST", url)
                .reply(&reply)
                .fail(note)?;
        }
        let (outcome, note) = match reply.header("www-authenticate").map(|v| (v.to_string(), parse_bearer(v))) {
            Some((_, Some(ch))) => {
                let note = format!(
                    "401 challenge: resource_metadata={}, scope={}",
                    ch.resource_metadata.as_deref().unwrap_or("(none)"),
                    ch.scope.as_deref().unwrap_or("(none)")
                );
                self.challenge = Some(ch);
                (Outcome::Ok, note)
            }
            Some((raw, None)) => (self.lenient(), format!("401 without a Bearer challenge ({raw}); probing well-known URLs")),
            None if self.cfg.origin.is_some() => (
                self.lenient(),
                "401 but WWW-Authenticate is not readable (missing or not exposed to this origin); probing well-known URLs"
                    .to_string(),
            ),
            None => (self.lenient(), "401 without WWW-Authenticate; probing well-known URLs".to_string()),
        };
        self.step(name, Phase::McpTransport)
            .at("POST", url)
            .reply(&reply)
            .outcome(outcome, note)?;
        Ok(true)
    }

    /// GETs one metadata candidate URL as the profile's client would. Returns the reply and
    /// its JSON object on a 200 JSON answer; otherwise records a `warn` step saying why the
    /// URL was unusable and returns `None`, so the caller tries the next candidate.
    async fn fetch_metadata(
        &mut self,
        step: &str,
        phase: Phase,
        url: &str,
    ) -> Res<Option<(Reply, serde_json::Map<String, Value>)>> {
        let req = Req::new(Method::GET, url.to_string())
            .header("accept", "application/json")
            .header(
                "mcp-protocol-version",
                self.cfg.profile.protocol_version.clone(),
            );
        let reply = self.call(step, phase, req).await?;
        match reply.json() {
            Some(Value::Object(doc)) if reply.status == 200 => Ok(Some((reply, doc))),
            _ => {
                let why = if reply.is_html() {
                    html_note(&reply)
                } else {
                    format!("status {}", reply.status)
                };
                let note = format!("no usable metadata here ({why}); trying the next URL");
                self.step(step, phase)
                    .at("GET", url)
                    .reply(&reply)
                    .warn(note)?;
                Ok(None)
            }
        }
    }

    /// Protected resource metadata: challenge URL, then path-aware, then root.
    pub(super) async fn discover_prm(&mut self) -> Res<()> {
        let Some((inserted, root)) = prm_well_known(&self.cfg.mcp_url) else {
            let url = self.cfg.mcp_url.clone();
            return self
                .step("prm", Phase::DiscoveryPrm)
                .at("GET", &url)
                .fail("MCP URL does not parse");
        };
        let mut candidates: Vec<String> = self
            .challenge
            .iter()
            .filter_map(|c| c.resource_metadata.clone())
            .collect();
        candidates.extend(inserted);
        candidates.push(root);
        candidates.dedup();
        for url in candidates {
            let Some((reply, doc)) = self
                .fetch_metadata("prm", Phase::DiscoveryPrm, &url)
                .await?
            else {
                continue;
            };
            let resource = doc.get("resource").and_then(Value::as_str).unwrap_or("");
            let Some(issuer) = doc
                .get("authorization_servers")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                let note = "authorization_servers is missing or empty";
                return self
                    .step("prm", Phase::DiscoveryPrm)
                    .at("GET", &url)
                    .reply(&reply)
                    .fail(note);
            };
            let (outcome, note) = if resource == self.cfg.mcp_url {
                (
                    Outcome::Ok,
                    format!("resource matches; authorization server {issuer}"),
                )
            } else {
                let note = format!(
                    "resource {resource} differs from the MCP URL {} (TS SDK and conformance clients abort); continuing with the MCP URL",
                    self.cfg.mcp_url
                );
                (self.lenient(), note)
            };
            self.step("prm", Phase::DiscoveryPrm)
                .at("GET", &url)
                .reply(&reply)
                .outcome(outcome, note)?;
            self.prm = Some(Value::Object(doc));
            return Ok(());
        }
        let url = self.cfg.mcp_url.clone();
        let note = "no protected resource metadata found; MCP 2025-11-25 clients stop here";
        self.step("prm", Phase::DiscoveryPrm)
            .at("GET", &url)
            .fail(note)
    }

    /// Authorization server metadata for `authorization_servers[0]`.
    pub(super) async fn discover_asm(&mut self) -> Res<()> {
        let issuer = self
            .prm
            .as_ref()
            .and_then(|p| p.get("authorization_servers"))
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let candidates = asm_candidates(&issuer);
        if candidates.is_empty() {
            let note = format!("authorization server {issuer} is not a URL");
            return self
                .step("asm", Phase::DiscoveryAs)
                .at("GET", &issuer)
                .fail(note);
        }
        for url in candidates {
            let Some((reply, doc)) = self.fetch_metadata("asm", Phase::DiscoveryAs, &url).await?
            else {
                continue;
            };
            let str_of = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
            let s256 = doc
                .get("code_challenge_methods_supported")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|v| v == "S256"));
            let mut problems = Vec::new();
            if str_of("authorization_endpoint").is_none() || str_of("token_endpoint").is_none() {
                problems.push("authorization_endpoint or token_endpoint missing".to_string());
            }
            if !s256 {
                problems.push(
                    "code_challenge_methods_supported lacks S256 (MCP 2025-11-25 clients refuse)"
                        .to_string(),
                );
            }
            if str_of("registration_endpoint").is_none() {
                problems.push("no registration_endpoint (this client needs DCR)".to_string());
            }
            if !problems.is_empty() {
                let note = problems.join("; ");
                return self
                    .step("asm", Phase::DiscoveryAs)
                    .at("GET", &url)
                    .reply(&reply)
                    .fail(note);
            }
            let declared = str_of("issuer").unwrap_or_default();
            let (outcome, note) = if declared == issuer {
                (
                    Outcome::Ok,
                    "issuer matches; PKCE S256 supported".to_string(),
                )
            } else {
                let note = format!(
                    "issuer {declared} differs from {issuer} (byte comparison; TS SDK v2 and strict clients abort)"
                );
                (self.lenient(), note)
            };
            self.step("asm", Phase::DiscoveryAs)
                .at("GET", &url)
                .reply(&reply)
                .outcome(outcome, note)?;
            self.asm = Some(Value::Object(doc));
            return Ok(());
        }
        let note = format!("no authorization server metadata for {issuer}");
        self.step("asm", Phase::DiscoveryAs)
            .at("GET", &issuer)
            .fail(note)
    }
}
