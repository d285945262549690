//! GEN-UNREACHABLE: the request never got an answer because the server could not be reached
//! (connection refused, a name that does not resolve, a connect or response timeout). TLS
//! failures have their own rule (GEN-TLS); an unreachable authorization server behind every
//! metadata candidate is X-AS-UNREACHABLE.

use crate::model::Phase;
use crate::model::{ErrorKind, Exchange};
use crate::model::{Severity::*, Who::*};
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};

/// Whether an exchange error means the server was never reached.
fn unreached(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connect | ErrorKind::Dns | ErrorKind::Timeout
    )
}

/// GEN-UNREACHABLE.
pub struct Unreachable;
impl Rule for Unreachable {
    const META: RuleMeta = RuleMeta {
        id: "GEN-UNREACHABLE",
        severity: Error,
        phase: Phase::Other,
        on: &[],
        who: &[Rs, Infra],
        breaks: "all clients (\"There was an error connecting\")",
        source: "RFC 9110 §4.3 (a server must accept connections at the URL's authority); MCP 2025-11-25 Transports \"Streamable HTTP\"",
        title: "The server could not be reached (connection refused, DNS, timeout)",
        fix: "Check the URL's host and port from where the client runs: the name resolves (`dig host`), the port is open and listening (`curl -v URL`), and no firewall, VPN or allow-list drops the connection.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some(e) = ex.error.as_ref().filter(|e| unreached(&e.kind)) {
            out.push(
                &Self::META,
                format!(
                    "{} was not reached ({}): {}",
                    cx.view.origin().unwrap_or_default(),
                    e.kind,
                    e.message
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::model::ErrorKind;
    use crate::rules::testkit::*;

    #[test]
    fn fires_on_unreachable() {
        let mut c = Clean::new();
        c.challenge = c.challenge.no_response(ErrorKind::Connect);
        assert_fires("GEN-UNREACHABLE", c.steps());
    }

    #[test]
    fn quiet_on_reached_and_on_tls_or_cut() {
        assert_quiet("GEN-UNREACHABLE", Clean::new().steps());
        // Near misses: a TLS failure (GEN-TLS) and an answer cut mid-way reached the server.
        for kind in [ErrorKind::Tls, ErrorKind::UpstreamCut] {
            let mut c = Clean::new();
            c.challenge = c.challenge.no_response(kind);
            assert_quiet("GEN-UNREACHABLE", c.steps());
        }
    }
}
