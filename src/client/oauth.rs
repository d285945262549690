//! Registration, authorization and token steps: DCR with lenient response parsing, the
//! authorize leg with PKCE S256 (redirects followed by hand, HTML consent forms submitted like a
//! user would), the code exchange and the refresh with rotation check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::Value;

use super::config::BrowserLeg;
use super::flow::{Flow, Registered, Res, redirect_target};
use super::form::parse_form;
use super::message::{Reply, Req};
use super::report::Outcome;
use crate::model::Phase;
use crate::parse::urls::pkce_s256;

/// Optional DCR members a strict (Zod) client rejects when `null`.
const OPTIONAL_DCR: &[&str] = &[
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "jwks_uri",
    "scope",
    "contacts",
    "client_secret",
    "client_secret_expires_at",
];

/// A PKCE pair (RFC 7636): 43-character verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = random_b64(32);
    let challenge = pkce_s256(&verifier);
    (verifier, challenge)
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

fn same_endpoint(a: &str, b: &str) -> bool {
    let strip = |u: &str| u.split(['?', '#']).next().unwrap_or("").to_string();
    strip(a) == strip(b)
}

impl Flow {
    pub(super) fn asm_str(&self, key: &str) -> String {
        self.asm
            .as_ref()
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// Dynamic client registration with the profile's body.
    pub(super) async fn register(&mut self) -> Res<()> {
        let url = self.asm_str("registration_endpoint");
        let body = self.cfg.profile.registration_body(&self.redirect_uri);
        let req = Req::new(Method::POST, url.clone())
            .header("accept", "application/json")
            .json(&body);
        let reply = self.call("dcr", Phase::Registration, req).await?;
        let doc = match reply.json() {
            Some(Value::Object(doc)) if (200..300).contains(&reply.status) => doc,
            other => {
                let note = format!(
                    "registration refused ({}) {}",
                    reply.status,
                    refusal_detail(&reply, other.as_ref())
                );
                return self
                    .step("dcr", Phase::Registration)
                    .at("POST", &url)
                    .reply(&reply)
                    .fail(note);
            }
        };
        let Some(client_id) = doc
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return self
                .step("dcr", Phase::Registration)
                .at("POST", &url)
                .reply(&reply)
                .fail("no client_id");
        };
        self.report.registered_client_id = Some(client_id.clone());
        let warnings = registration_warnings(&reply, &doc);
        let auth_method = doc
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or(&self.cfg.profile.token_endpoint_auth_method)
            .to_string();
        let client_secret = doc
            .get("client_secret")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (outcome, note) = if warnings.is_empty() {
            (
                Outcome::Ok,
                format!("registered {client_id} ({auth_method})"),
            )
        } else {
            (
                self.lenient(),
                format!("registered {client_id}, but {}", warnings.join("; ")),
            )
        };
        self.step("dcr", Phase::Registration)
            .at("POST", &url)
            .reply(&reply)
            .outcome(outcome, note)?;
        self.registered = Some(Registered {
            client_id,
            client_secret,
            auth_method,
        });
        Ok(())
    }

    fn scope_to_request(&self) -> Option<String> {
        if let Some(scope) = self.challenge.as_ref().and_then(|c| c.scope.clone()) {
            return Some(scope);
        }
        let scopes = self.prm.as_ref()?.get("scopes_supported")?.as_array()?;
        let joined: Vec<&str> = scopes.iter().filter_map(Value::as_str).collect();
        (!joined.is_empty()).then(|| joined.join(" "))
    }

    /// The authorize leg; returns the code (and the verifier, stored on `self`).
    pub(super) async fn authorize(&mut self) -> Res<(String, String)> {
        let (verifier, challenge) = pkce_pair();
        let state = random_b64(24);
        // Browser navigation: no Origin, no CORS; redirects followed by hand.
        let authorize_url = self.authorize_url(&state, challenge);
        let mut req = Req::new(Method::GET, authorize_url.clone())
            .header("accept", "text/html")
            .step("authorize");
        for _hop in 0..6 {
            let reply = match self.http.send(&req).await {
                Ok(r) => r,
                Err(err) => {
                    return Err(self.transport_failure("authorize", Phase::Authorize, &req, err));
                }
            };
            let hop = if let Some(location) = redirect_target(&req, &reply) {
                self.follow_redirect(req, &reply, location, &state)?
            } else if let Some(browser) = self.cfg.browser.clone() {
                let code = self
                    .browser_leg(browser.as_ref(), &req, &reply, &authorize_url, &state)
                    .await?;
                Hop::Code(code)
            } else {
                Hop::Next(self.submit_form(&req, &reply)?)
            };
            match hop {
                Hop::Next(next) => req = next,
                Hop::Code(code) => return Ok((code, verifier)),
            }
        }
        let url = req.url.clone();
        self.step("authorize", Phase::Authorize)
            .at("GET", &url)
            .fail("too many redirects")?;
        Err(super::flow::Stop)
    }

    /// The authorization request URL: PKCE S256, `state`, `resource` and, when known, `scope`.
    fn authorize_url(&self, state: &str, code_challenge: String) -> String {
        let client_id = self
            .registered
            .as_ref()
            .map(|r| r.client_id.clone())
            .unwrap_or_default();
        let mut params = vec![
            ("response_type", "code".to_string()),
            ("client_id", client_id),
            ("redirect_uri", self.redirect_uri.clone()),
            ("state", state.to_string()),
            ("code_challenge", code_challenge),
            ("code_challenge_method", "S256".into()),
            ("resource", self.resource.clone()),
        ];
        if let Some(scope) = self.scope_to_request() {
            params.push(("scope", scope));
        }
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            ser.append_pair(k, v);
        }
        let endpoint = self.asm_str("authorization_endpoint");
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        format!("{endpoint}{sep}{}", ser.finish())
    }

    /// A redirect during the authorize leg: to the callback (the code), or on to the next
    /// page, re-POSTing the body on 307/308 as a browser does.
    fn follow_redirect(
        &mut self,
        mut req: Req,
        reply: &Reply,
        location: String,
        state: &str,
    ) -> Res<Hop> {
        let method = req.method.to_string();
        if same_endpoint(&location, &self.redirect_uri) {
            if req.method == Method::POST && matches!(reply.status, 307 | 308) {
                let note = format!(
                    "{} after the consent POST: the browser re-POSTs to the callback {} (GET-only callbacks answer 405 / \"Cannot POST\")",
                    reply.status, self.redirect_uri
                );
                self.step("authorize", Phase::Authorize)
                    .at(&method, &req.url)
                    .reply(reply)
                    .fail(note)?;
            }
            self.step("authorize", Phase::Authorize)
                .at(&method, &req.url)
                .reply(reply)
                .ok("redirected to the callback")?;
            return self.callback(&location, state, Some(reply)).map(Hop::Code);
        }
        let shown = location.split('?').next().unwrap_or("");
        let note = format!("{} to {shown}; following", reply.status);
        self.step("authorize", Phase::Authorize)
            .at(&method, &req.url)
            .reply(reply)
            .ok(note)?;
        // A browser repeats a POST (and its body) on 307/308, and GETs otherwise.
        let repost = req.method == Method::POST && matches!(reply.status, 307 | 308);
        let mut next = Req::new(if repost { Method::POST } else { Method::GET }, location)
            .header("accept", "text/html")
            .step("authorize");
        if repost {
            next.body = req.body.take();
        }
        Ok(Hop::Next(next))
    }

    /// A page that is neither a redirect nor a form the client can submit, with a real
    /// browser configured: a person signs in; the code comes from the callback it reaches.
    async fn browser_leg(
        &mut self,
        browser: &dyn BrowserLeg,
        req: &Req,
        reply: &Reply,
        authorize_url: &str,
        state: &str,
    ) -> Res<String> {
        let note = format!(
            "{} {}: a person has to sign in; handing the authorize URL to the browser",
            reply.status,
            reply.media_type()
        );
        self.step("authorize", Phase::Authorize)
            .at(req.method.as_str(), &req.url)
            .reply(reply)
            .ok(note)?;
        let location = match browser.complete(authorize_url.to_string()).await {
            Ok(location) => location,
            Err(why) => {
                let shown = self.redirect_uri.clone();
                self.step("callback", Phase::Callback)
                    .at("GET", &shown)
                    .fail(why)?;
                return Err(super::flow::Stop);
            }
        };
        self.callback(&location, state, None)
    }

    /// An HTML consent page: submits its form as the user would (the request it makes), or
    /// fails the step when the page has no usable form or posts straight to the callback.
    fn submit_form(&mut self, req: &Req, reply: &Reply) -> Res<Req> {
        let method = req.method.to_string();
        let form = (reply.status == 200 && reply.is_html())
            .then(|| parse_form(&reply.text()))
            .flatten();
        let Some(form) = form else {
            let note = format!(
                "expected a redirect to the callback, got {}: {}",
                reply.status,
                snippet(reply)
            );
            self.step("authorize", Phase::Authorize)
                .at(&method, &req.url)
                .reply(reply)
                .fail(note)?;
            return Err(super::flow::Stop);
        };
        let action = url::Url::parse(&req.url)
            .ok()
            .and_then(|u| u.join(&form.action).ok())
            .map(String::from);
        let Some(action) = action else {
            let note = format!("HTML form with an unusable action {:?}", form.action);
            self.step("authorize", Phase::Authorize)
                .at(&method, &req.url)
                .reply(reply)
                .fail(note)?;
            return Err(super::flow::Stop);
        };
        if form.method == "POST" && same_endpoint(&action, &self.redirect_uri) {
            let note = "the authorization response is an auto-submitting form POST to the callback (form_post)";
            self.step("authorize", Phase::Authorize)
                .at(&method, &req.url)
                .reply(reply)
                .fail(note)?;
        }
        let note = format!(
            "HTML consent form ({} {}); submitting it as the user would",
            form.method, form.action
        );
        self.step("authorize", Phase::Authorize)
            .at(&method, &req.url)
            .reply(reply)
            .warn(note)?;
        let fields: Vec<(&str, &str)> = form
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(if form.method == "POST" {
            Req::new(Method::POST, action)
                .header("accept", "text/html")
                .step("authorize")
                .form(&fields)
        } else {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.extend_pairs(fields.iter());
            Req::new(Method::GET, format!("{action}?{}", ser.finish()))
                .header("accept", "text/html")
                .step("authorize")
        })
    }

    /// Checks the authorization response carried by the redirect to the callback.
    fn callback(&mut self, location: &str, sent_state: &str, reply: Option<&Reply>) -> Res<String> {
        let url = url::Url::parse(location).ok();
        let get = |k: &str| {
            url.as_ref().and_then(|u| {
                u.query_pairs()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.into_owned())
            })
        };
        let shown = location.split('?').next().unwrap_or("").to_string();
        if let Some(error) = get("error") {
            let note = format!(
                "authorization error {error}: {}",
                get("error_description").unwrap_or_default()
            );
            self.step("callback", Phase::Callback)
                .at("GET", &shown)
                .reply_opt(reply)
                .fail(note)?;
        }
        if get("state").as_deref() != Some(sent_state) {
            self.step("callback", Phase::Callback)
                .at("GET", &shown)
                .reply_opt(reply)
                .fail("state missing or different")?;
        }
        let issuer = self.asm_str("issuer");
        let iss_supported = self
            .asm
            .as_ref()
            .and_then(|a| a.get("authorization_response_iss_parameter_supported"))
            == Some(&Value::Bool(true));
        let (outcome, note) = match get("iss") {
            Some(iss) if iss != issuer => (
                self.lenient(),
                format!("iss {iss} differs from the metadata issuer {issuer} (RFC 9207)"),
            ),
            None if iss_supported => (
                self.lenient(),
                "iss missing though the AS advertises it (RFC 9207)".to_string(),
            ),
            _ => (
                Outcome::Ok,
                "code received; state and iss match".to_string(),
            ),
        };
        let Some(code) = get("code") else {
            return self
                .step("callback", Phase::Callback)
                .at("GET", &shown)
                .reply_opt(reply)
                .fail("no code")
                .map(|_| String::new());
        };
        self.step("callback", Phase::Callback)
            .at("GET", &shown)
            .reply_opt(reply)
            .outcome(outcome, note)?;
        Ok(code)
    }
}

/// Why a registration was refused: the OAuth error and its description, a note on an HTML
/// page, or the lack of a JSON body.
fn refusal_detail(reply: &Reply, doc: Option<&Value>) -> String {
    match doc {
        Some(v) => format!(
            "{}: {}",
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error code"),
            v.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        None if reply.is_html() => super::discovery::html_note(reply),
        None => "no JSON body".into(),
    }
}

/// What a lenient client accepts in a registration response but a strict one refuses: a
/// status other than 201, non-integer timestamps, `null` optional fields, no `redirect_uris`.
fn registration_warnings(reply: &Reply, doc: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut warnings = Vec::new();
    if reply.status != 201 {
        warnings.push(format!("status {} instead of 201", reply.status));
    }
    for key in ["client_secret_expires_at", "client_id_issued_at"] {
        if let Some(v) = doc
            .get(key)
            .filter(|v| !v.is_null() && !v.is_i64() && !v.is_u64())
        {
            warnings.push(format!("{key} is {v}, not an integer (accepted leniently)"));
        }
    }
    let nulls: Vec<&str> = OPTIONAL_DCR
        .iter()
        .copied()
        .filter(|k| doc.get(*k).is_some_and(Value::is_null))
        .collect();
    if !nulls.is_empty() {
        warnings.push(format!(
            "null optional fields {nulls:?} (Zod-based clients reject)"
        ));
    }
    if !doc.get("redirect_uris").is_some_and(Value::is_array) {
        warnings.push("redirect_uris not echoed".into());
    }
    warnings
}

fn snippet(reply: &Reply) -> String {
    let text: String = reply.text().chars().take(120).collect();
    text.replace('\n', " ")
}

/// What one hop of the authorize leg leads to.
enum Hop {
    /// The next request the browser makes.
    Next(Req),
    /// The authorization code from the callback.
    Code(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn pkce_pair_is_s256_of_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.len(), 43);
        assert_eq!(challenge.len(), 43);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())),
            challenge
        );
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let digest = sha2::Sha256::digest(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
