//! MCP protocol revisions, and the revision a flow is judged by: the engine learns it from the
//! traffic (the `initialize` result, the `MCP-Protocol-Version` header, the protocol version a
//! client offers, or a 2026-07-28 `server/discover`). What each rule means in each revision is
//! `rules::revision`.

use serde::{Deserialize, Serialize};

use crate::flow::Flow;
use crate::model::Headers;
use crate::parse::view::ExchangeView;

/// An MCP specification revision with an authorization chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Revision {
    /// 2025-03-26: OAuth 2.1 with RFC 8414 discovery from the MCP origin, no PRM.
    #[serde(rename = "2025-03-26")]
    R2025_03_26,
    /// 2025-06-18: RFC 9728 protected resource metadata, RFC 8707 resource indicators.
    #[serde(rename = "2025-06-18")]
    R2025_06_18,
    /// 2025-11-25: well-known PRM discovery as an alternative to the challenge, CIMD, scopes.
    #[serde(rename = "2025-11-25")]
    R2025_11_25,
    /// 2026-07-28: stateless transport, `server/discover`, RFC 9207 `iss` checks.
    #[serde(rename = "2026-07-28")]
    R2026_07_28,
}

impl Revision {
    /// Every revision, oldest first.
    pub const ALL: [Revision; 4] = [
        Revision::R2025_03_26,
        Revision::R2025_06_18,
        Revision::R2025_11_25,
        Revision::R2026_07_28,
    ];

    /// The revision assumed when a flow shows none (the newest stable one before 2026-07-28,
    /// which is what current clients offer first).
    pub const ASSUMED: Revision = Revision::R2025_11_25;

    /// The date string used on the wire (`MCP-Protocol-Version`, `protocolVersion`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Revision::R2025_03_26 => "2025-03-26",
            Revision::R2025_06_18 => "2025-06-18",
            Revision::R2025_11_25 => "2025-11-25",
            Revision::R2026_07_28 => "2026-07-28",
        }
    }

    /// Parses a wire version. 2024-11-05 (no authorization chapter) is judged as 2025-03-26,
    /// the oldest revision with one; a later unknown date as the newest revision known.
    pub fn parse(wire: &str) -> Option<Revision> {
        let wire = wire.trim();
        let date_like = wire.len() == 10
            && wire.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !date_like {
            return None;
        }
        Some(
            Revision::ALL
                .iter()
                .rev()
                .copied()
                .find(|r| r.as_str() <= wire)
                .unwrap_or(Revision::R2025_03_26),
        )
    }

    /// Position in [`Revision::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a flow's revision was learned, for the report's "judged by" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionEvidence {
    /// The server's `initialize` result (`protocolVersion`).
    Negotiated,
    /// A 2026-07-28 `server/discover` exchange the server answered.
    Discovered,
    /// The `MCP-Protocol-Version` request header or the version the client offered.
    Announced,
    /// Nothing in the traffic: [`Revision::ASSUMED`].
    Assumed,
}

/// The revision a judgement was made by, and how it was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgedBy {
    /// The revision.
    pub revision: Revision,
    /// How it was learned.
    pub evidence: RevisionEvidence,
}

impl JudgedBy {
    /// The assumption used when the traffic names no revision.
    pub const ASSUMED: JudgedBy = JudgedBy {
        revision: Revision::ASSUMED,
        evidence: RevisionEvidence::Assumed,
    };

    /// `MCP 2025-11-25 (negotiated in initialize)` and the like.
    pub fn describe(&self) -> String {
        let how = match self.evidence {
            RevisionEvidence::Negotiated => "negotiated in initialize",
            RevisionEvidence::Discovered => "answered to server/discover",
            RevisionEvidence::Announced => "announced by the client",
            RevisionEvidence::Assumed => "assumed: the traffic names no revision",
        };
        format!("MCP {} ({how})", self.revision)
    }
}

/// The revision to judge `ex` (or the flow as a whole, without one) by: the flow's
/// `initialize` result, else a `server/discover` the server answered 2xx, else what the client
/// announced (this request's `MCP-Protocol-Version` or offered `protocolVersion`, then the
/// latest header of the flow that was not refused with 400, then `offered`: what the client
/// offered earlier in the flow), else [`JudgedBy::ASSUMED`].
pub fn judged_by(
    flow: Option<&Flow>,
    ex: Option<&ExchangeView<'_>>,
    offered: Option<Revision>,
) -> JudgedBy {
    let found = |wire: &str, evidence| {
        Revision::parse(wire).map(|revision| JudgedBy { revision, evidence })
    };
    let negotiated = flow
        .and_then(|f| f.protocol_version.as_deref())
        .and_then(|v| found(v, RevisionEvidence::Negotiated));
    let discovered = || {
        flow?.mcp.iter().rev().find_map(|c| {
            let discover = c.rpc_method.as_deref() == Some("server/discover") && c.ok();
            discover
                .then_some(c.protocol_header.as_deref())
                .flatten()
                .and_then(|v| found(v, RevisionEvidence::Discovered))
        })
    };
    let this_request = || {
        announced(ex?).map(|revision| JudgedBy {
            revision,
            evidence: RevisionEvidence::Announced,
        })
    };
    let offered = || {
        offered.map(|revision| JudgedBy {
            revision,
            evidence: RevisionEvidence::Announced,
        })
    };
    let flow_header = || {
        flow?.mcp.iter().rev().find_map(|c| {
            (c.status != Some(400))
                .then_some(c.protocol_header.as_deref())
                .flatten()
                .and_then(|v| found(v, RevisionEvidence::Announced))
        })
    };
    negotiated
        .or_else(discovered)
        .or_else(this_request)
        .or_else(flow_header)
        .or_else(offered)
        .unwrap_or(JudgedBy::ASSUMED)
}

/// The revision a request announces: its `MCP-Protocol-Version` header, else the
/// `protocolVersion` an `initialize` offers, else (2026-07-28, no handshake) the version every
/// request carries in `params._meta["io.modelcontextprotocol/protocolVersion"]`.
pub fn announced(view: &ExchangeView<'_>) -> Option<Revision> {
    if let Some(v) = view.exchange().request.header("mcp-protocol-version") {
        return Revision::parse(v);
    }
    let params = view.request_json()?.get("params")?;
    let wire = params.get("protocolVersion").or_else(|| {
        params
            .get("_meta")?
            .get("io.modelcontextprotocol/protocolVersion")
    })?;
    Revision::parse(wire.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wire_versions() {
        assert_eq!(Revision::parse("2025-06-18"), Some(Revision::R2025_06_18));
        assert_eq!(Revision::parse("2024-11-05"), Some(Revision::R2025_03_26));
        assert_eq!(Revision::parse("2025-12-01"), Some(Revision::R2025_11_25));
        assert_eq!(Revision::parse("2027-01-01"), Some(Revision::R2026_07_28));
        assert_eq!(Revision::parse("latest"), None);
        assert_eq!(Revision::parse("2025/06/18"), None);
    }

    #[test]
    fn learns_the_revision_from_the_traffic() {
        use crate::flow::state::McpCall;
        use crate::flow::testkit::{post_json, rpc};
        use crate::model::FlowId;
        let mut flow = Flow::new(FlowId(1), time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(judged_by(Some(&flow), None, None), JudgedBy::ASSUMED);
        let probe = |status, method: &str, v: &str| McpCall {
            step: None,
            method: "POST".into(),
            rpc_method: Some(method.into()),
            status: Some(status),
            token_hash: None,
            had_auth: false,
            session_id: None,
            response_session: None,
            user_agent: None,
            client_addr: None,
            protocol_header: Some(v.into()),
        };
        // A refused 2026-07-28 probe says nothing; the client's fallback header does.
        flow.mcp.push(probe(400, "server/discover", "2026-07-28"));
        assert_eq!(judged_by(Some(&flow), None, None), JudgedBy::ASSUMED);
        flow.mcp.push(probe(401, "tools/list", "2025-06-18"));
        let by = judged_by(Some(&flow), None, None);
        assert_eq!(
            (by.revision, by.evidence),
            (Revision::R2025_06_18, RevisionEvidence::Announced)
        );
        let init = post_json("https://mcp.example/mcp", &rpc("initialize", Some(1)))
            .edit_req_json(|v| {
                v.insert(
                    "params".into(),
                    serde_json::json!({"protocolVersion": "2025-03-26"}),
                );
            })
            .build();
        assert_eq!(
            judged_by(Some(&flow), Some(&ExchangeView::new(&init)), None).revision,
            Revision::R2025_03_26
        );
        let stateless = post_json(
            "https://mcp.example/mcp",
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
        )
        .build();
        assert_eq!(
            announced(&ExchangeView::new(&stateless)),
            Some(Revision::R2026_07_28)
        );
        flow.mcp.push(probe(200, "server/discover", "2026-07-28"));
        assert_eq!(
            judged_by(Some(&flow), Some(&ExchangeView::new(&init)), None).evidence,
            RevisionEvidence::Discovered
        );
        flow.protocol_version = Some("2025-11-25".into());
        assert_eq!(
            judged_by(Some(&flow), None, None).describe(),
            "MCP 2025-11-25 (negotiated in initialize)"
        );
    }
}
