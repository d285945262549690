//! JSON metadata rewrites (R2, R3, R5, R6, R12) on PRM, ASM and DCR bodies.
//!
//! The fields to change are found by parsing, but the change is made by exact substitution
//! of the JSON string literal in the original text, so numbers, key order and spacing reach
//! the client as the upstream sent them. Only when a literal cannot be found verbatim (e.g.
//! escaped slashes) is the document re-serialised.

use serde_json::Value;

use super::Rewriter;
use crate::model::{Rewrite, RewriteDirection};

/// Endpoint fields whose legs should pass the proxy (R6, R12).
const ENDPOINTS: [&str; 10] = [
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
    "device_authorization_endpoint",
    "jwks_uri",
    "registration_client_uri",
];

impl Rewriter {
    /// Rewrites the URLs of a metadata document (PRM, ASM, DCR response) towards the proxy,
    /// learning registration endpoints on the way; `None` when nothing changed.
    pub(super) fn rewrite_metadata(&self, body: &[u8]) -> Option<(Vec<u8>, Vec<Rewrite>)> {
        let mut doc: Value = serde_json::from_slice(body).ok()?;
        let obj = doc.as_object_mut()?;
        if let Some(endpoint) = obj.get("registration_endpoint").and_then(Value::as_str)
            && obj.contains_key("issuer")
        {
            self.learned.registration_endpoint(endpoint);
        }
        // RFC 7592: reading or updating the registration there lists the redirect URIs too.
        if let Some(endpoint) = obj.get("registration_client_uri").and_then(Value::as_str) {
            self.learned.registration_endpoint(endpoint);
        }
        let mut changes: Vec<(String, String, String)> = Vec::new();
        let mut change =
            |field: String, value: &mut Value, map: &dyn Fn(&str) -> Option<String>| {
                if let Some(old) = value.as_str()
                    && let Some(new) = map(old)
                    && new != old
                {
                    changes.push((field, old.to_string(), new.clone()));
                    *value = Value::String(new);
                }
            };
        if let Some(v) = obj.get_mut("resource") {
            change("$.resource".into(), v, &|s| self.upstream_to_proxy(s));
        }
        if let Some(Value::Array(servers)) = obj.get_mut("authorization_servers") {
            for (i, v) in servers.iter_mut().enumerate() {
                change(format!("$.authorization_servers[{i}]"), v, &|s| {
                    self.any_to_proxy(s)
                });
            }
        }
        if let Some(v) = obj.get_mut("issuer") {
            change("$.issuer".into(), v, &|s| self.any_to_proxy(s));
        }
        if let Some(v) = obj.get_mut("authorization_endpoint") {
            change("$.authorization_endpoint".into(), v, &|s| {
                self.authorize_to_proxy(s)
            });
        }
        for field in ENDPOINTS {
            if let Some(v) = obj.get_mut(field) {
                change(format!("$.{field}"), v, &|s| self.any_to_proxy(s));
            }
        }
        if changes.is_empty() {
            return None;
        }
        let text = std::str::from_utf8(body).ok();
        let substituted = text.and_then(|text| {
            let mut out = text.to_string();
            for (_, old, new) in &changes {
                let old_lit = serde_json::to_string(old).ok()?;
                if !out.contains(&old_lit) {
                    return None;
                }
                out = out.replace(&old_lit, &serde_json::to_string(new).ok()?);
            }
            Some(out.into_bytes())
        });
        let body = match substituted {
            Some(body) => body,
            None => serde_json::to_vec(&doc).ok()?,
        };
        let rewrites = changes
            .into_iter()
            .map(|(field, from, to)| Rewrite {
                direction: RewriteDirection::Response,
                location: format!("body:{field}"),
                from,
                to,
            })
            .collect();
        Some((body, rewrites))
    }
}
