//! RFC 9207 `iss` as MCP 2026-07-28 Authorization "Authorization Response Validation" requires
//! it (SEP-2468), beyond CB-ISS-MISSING and CB-ISS-MISMATCH (which name the authorization
//! server that sends a wrong or no `iss`): CB-ISS-UNADVERTISED names the AS that sends `iss`
//! without advertising `authorization_response_iss_parameter_supported`, and
//! X-ISS-NOT-VALIDATED the client that redeemed the code anyway — a present `iss` must equal
//! the recorded issuer byte for byte (no normalisation), advertised or not, and a missing
//! `iss` must stop a client whose AS advertised it.

use serde_json::Value;

use crate::flow::Flow;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[&IssUnadvertised, &IssNotValidated];

/// Whether the flow's AS metadata says `authorization_response_iss_parameter_supported: true`.
fn advertises_iss(f: &Flow) -> bool {
    f.asm_doc()
        .and_then(|d| d.get("authorization_response_iss_parameter_supported"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// CB-ISS-UNADVERTISED.
pub struct IssUnadvertised;
impl Rule for IssUnadvertised {
    const META: RuleMeta = crate::rules::rule::rule_meta!(
        Phase::Callback,
        &[Phase::Callback],
        "CB-ISS-UNADVERTISED",
        Warning,
        &[As],
        "clients that key the check on the metadata flag skip the iss check (RFC 9207 §2.4 leaves it to local policy)",
        "RFC 9207 §2.3; MCP 2026-07-28 Authorization \"Authorization Response Validation\" (MUST advertise); SEP-2468 (modelcontextprotocol/modelcontextprotocol#2468); conformance sep-2468-client-compare-iss-unadvertised",
        "The authorization response carries iss but the AS metadata does not advertise authorization_response_iss_parameter_supported",
        "Set authorization_response_iss_parameter_supported: true in the authorization server metadata whenever authorization responses carry iss."
    );
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let (Some(v), Some(f)) = (cx.callback, cx.flow) else {
            return;
        };
        // Only once the client has read the AS metadata: without it there is nothing to judge.
        if f.asm_doc().is_none() || advertises_iss(f) {
            return;
        }
        if let Some(iss) = v.get("iss") {
            out.push(
                &Self::META,
                format!("the authorization response carries iss \"{iss}\" but the AS metadata does not set authorization_response_iss_parameter_supported to true"),
            );
        }
    }
}

/// X-ISS-NOT-VALIDATED.
pub struct IssNotValidated;
impl Rule for IssNotValidated {
    const META: RuleMeta = crate::rules::rule::rule_meta!(
        Phase::Token,
        &[],
        "X-ISS-NOT-VALIDATED",
        Error,
        &[Client],
        "mix-up attacks go unnoticed; strict ASes and clients disagree on the same flow",
        "RFC 9207 §2.4; MCP 2026-07-28 Key Changes minor 7 (SEP-2468, modelcontextprotocol/modelcontextprotocol#2468); conformance sep-2468-client-reject-missing-iss, sep-2468-client-no-normalization, sep-2468-client-compare-iss-unadvertised",
        "The client redeemed a code whose authorization response had a wrong iss, or none although the AS advertised it",
        "Before the token request, compare a present iss with the issuer recorded for the authorization request by exact string comparison, and reject a response without iss when the AS metadata advertises authorization_response_iss_parameter_supported."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let advertised = advertises_iss(f);
        for t in f.tokens.iter().filter(|t| t.grant == "authorization_code") {
            let (Some(step), Some(code)) = (t.step, t.code_hash.as_deref()) else {
                continue;
            };
            let Some(cb) = f.callback_by_code(code) else {
                continue;
            };
            let Some(issuer) = recorded_issuer(f, cb.authorize) else {
                continue;
            };
            let why = match cb.iss.as_deref() {
                Some(iss) if iss != issuer => format!(
                    "its authorization response carried iss \"{iss}\" but the issuer recorded for the request is \"{issuer}\" ({})",
                    crate::parse::urls::compare(iss, issuer).label()
                ),
                None if advertised => format!(
                    "its authorization response had no iss although {issuer} advertises authorization_response_iss_parameter_supported"
                ),
                _ => continue,
            };
            out.once(
                step.exchange.0.to_string(),
                &Self::META,
                format!("the client redeemed the code at {}: {why}", step.exchange),
            )
            .exchange = Some(step.exchange);
        }
    }
}

/// The issuer recorded when the authorization request was made (else the current ASM's).
fn recorded_issuer(f: &Flow, authorize: Option<usize>) -> Option<&str> {
    authorize
        .and_then(|i| f.authorizes.get(i))
        .and_then(|a| a.issuer.as_deref())
        .or_else(|| f.asm_str("issuer"))
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    /// The clean flow with an ASM that does not advertise iss; the callback carries `iss`.
    fn unadvertised(iss: Option<&str>) -> Vec<B> {
        let mut c = Clean::new();
        c.asm = c.asm.edit_json(|m| {
            m.remove("authorization_response_iss_parameter_supported");
        });
        let mut cb = format!("{REDIRECT}?code={CODE}&state={STATE}");
        if let Some(iss) = iss {
            cb.push_str(&format!("&iss={}", enc(iss)));
        }
        c.authorize = c.authorize.set_resp_header("location", &cb);
        c.steps()
    }

    #[test]
    fn fires_on_iss_unadvertised() {
        assert_fires("CB-ISS-UNADVERTISED", unadvertised(Some(ISSUER)));
    }
    #[test]
    fn quiet_on_iss_unadvertised() {
        // Advertised (the clean flow), or not advertised and not sent.
        assert_quiet("CB-ISS-UNADVERTISED", Clean::new().steps());
        assert_quiet("CB-ISS-UNADVERTISED", unadvertised(None));
    }

    /// The clean flow whose authorization response carries `iss` (None: no iss at all).
    fn with_iss(iss: Option<&str>) -> Vec<B> {
        let mut c = Clean::new();
        let mut cb = format!("{REDIRECT}?code={CODE}&state={STATE}");
        if let Some(iss) = iss {
            cb.push_str(&format!("&iss={}", enc(iss)));
        }
        c.authorize = c.authorize.set_resp_header("location", &cb);
        c.steps()
    }

    #[test]
    fn fires_when_the_client_redeems_a_code_with_a_wrong_iss() {
        let f = assert_fires(
            "X-ISS-NOT-VALIDATED",
            with_iss(Some("https://evil.example.com")),
        );
        assert!(f.message.contains("evil.example.com"), "{}", f.message);
        // No normalisation: a trailing slash is a different issuer.
        assert_fires("X-ISS-NOT-VALIDATED", with_iss(Some(&format!("{ISSUER}/"))));
        // Advertised (the clean ASM says true) and missing.
        assert_fires("X-ISS-NOT-VALIDATED", with_iss(None));
    }

    #[test]
    fn quiet_when_iss_matches_or_the_client_stops() {
        assert_quiet("X-ISS-NOT-VALIDATED", with_iss(Some(ISSUER)));
        // A wrong iss and no token request after it: the client rejected the response.
        let steps: Vec<B> = with_iss(Some("https://evil.example.com"))
            .into_iter()
            .take(5)
            .collect();
        assert_quiet("X-ISS-NOT-VALIDATED", steps);
        // No iss while the AS does not advertise it: nothing to validate.
        let mut c = Clean::new();
        c.asm = c.asm.edit_json(|m| {
            m.remove("authorization_response_iss_parameter_supported");
        });
        c.authorize = c
            .authorize
            .set_resp_header("location", &format!("{REDIRECT}?code={CODE}&state={STATE}"));
        assert_quiet("X-ISS-NOT-VALIDATED", c.steps());
    }
}
