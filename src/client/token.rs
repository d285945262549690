//! The token leg of the scripted client: the code exchange and the refresh (with rotation),
//! client authentication by the registered method, and what the token response says.

use base64::Engine;
use http::Method;
use serde_json::Value;

use super::flow::{Flow, Res, Tokens};
use super::message::Req;
use super::report::Outcome;
use crate::model::Phase;
use crate::parse::jwt::Jwt;

impl Flow {
    /// Adds client authentication to a token request per the registered method.
    fn token_request(&self, mut pairs: Vec<(&'static str, String)>) -> Req {
        let url = self.asm_str("token_endpoint");
        let reg = self.registered.clone();
        let mut basic = None;
        if let Some(reg) = reg {
            match (reg.auth_method.as_str(), reg.client_secret) {
                ("client_secret_basic", Some(secret)) => {
                    let enc = |s: &str| {
                        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                    };
                    let raw = format!("{}:{}", enc(&reg.client_id), enc(&secret));
                    basic = Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    ));
                }
                ("client_secret_post", Some(secret)) => {
                    pairs.push(("client_id", reg.client_id));
                    pairs.push(("client_secret", secret));
                }
                _ => pairs.push(("client_id", reg.client_id)),
            }
        }
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = Req::new(Method::POST, url)
            .header("accept", "application/json")
            .form(&borrowed);
        if let Some(b) = basic {
            req = req.header("authorization", b);
        }
        req
    }

    /// Parses a token response; records the step.
    async fn token_step(&mut self, name: &str, phase: Phase, req: Req) -> Res<Tokens> {
        let url = req.url.clone();
        let reply = self.call(name, phase, req).await?;
        let doc = reply.json().unwrap_or(Value::Null);
        let access = doc
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(access) = access.filter(|_| reply.status == 200) else {
            let note = format!(
                "token request refused ({}): {} {}",
                reply.status,
                doc.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("(no error code)"),
                doc.get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            self.step(name, phase)
                .at("POST", &url)
                .reply(&reply)
                .fail(note)?;
            return Err(super::flow::Stop);
        };
        let mut warnings = Vec::new();
        if !doc
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
        {
            warnings.push("token_type is not Bearer".to_string());
        }
        if !reply
            .header("cache-control")
            .is_some_and(|c| c.contains("no-store"))
        {
            warnings.push("no Cache-Control: no-store".to_string());
        }
        let refresh = doc
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        let aud = jwt_claim(&access, "aud");
        let mut note = format!(
            "access token{}{}",
            aud.map(|a| format!(" (JWT aud {a})")).unwrap_or_default(),
            if refresh.is_some() {
                " + refresh token"
            } else {
                ""
            }
        );
        let outcome = if warnings.is_empty() {
            Outcome::Ok
        } else {
            self.lenient()
        };
        if !warnings.is_empty() {
            note = format!("{note}; {}", warnings.join("; "));
        }
        self.step(name, phase)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)?;
        Ok(Tokens { access, refresh })
    }

    /// authorization_code grant.
    pub(super) async fn exchange_code(&mut self, code: &str, verifier: &str) -> Res<()> {
        let req = self.token_request(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.to_string()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("code_verifier", verifier.to_string()),
            ("resource", self.resource.clone()),
        ]);
        let tokens = self.token_step("token", Phase::Token, req).await?;
        self.tokens = Some(tokens);
        Ok(())
    }

    /// refresh_token grant; checks rotation.
    pub(super) async fn refresh(&mut self) -> Res<()> {
        let Some(old) = self.tokens.as_ref().and_then(|t| t.refresh.clone()) else {
            let url = self.asm_str("token_endpoint");
            return self
                .step("refresh", Phase::Refresh)
                .at("POST", &url)
                .warn("no refresh token issued; skipped");
        };
        let req = self.token_request(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", old.clone()),
            ("resource", self.resource.clone()),
        ]);
        let tokens = self.token_step("refresh", Phase::Refresh, req).await?;
        if tokens.refresh.as_deref().is_none_or(|new| new == old) {
            let url = self.asm_str("token_endpoint");
            let note = "the refresh response did not rotate the refresh token";
            self.step("refresh rotation", Phase::Refresh)
                .at("POST", &url)
                .warn(note)?;
        }
        self.tokens = Some(tokens);
        Ok(())
    }
}

/// A claim of an unverified JWT payload, as text.
fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    Jwt::decode(token)?
        .claims
        .get(claim)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
}
