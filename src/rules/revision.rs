//! MCP protocol revisions and what each rule means in them.
//!
//! A rule declares, next to its `META`, the revisions it applies to and its severity in each
//! (`Rule::REVISIONS`, default: every revision at `META.severity`). The engine learns the
//! revision a flow negotiated (the `initialize` result, the `MCP-Protocol-Version` header, the
//! protocol version a client offers, or a 2026-07-28 `server/discover`) and judges each finding
//! by it: a rule that does not apply there is dropped, and its severity becomes that revision's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::flow::Flow;
use crate::model::Severity;
use crate::model::{Exchange, Headers};

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

    const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's standing in one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Applies at the rule's `META.severity`.
    Default,
    /// Applies at this severity.
    At(Severity),
    /// Does not apply (not yet required, or relaxed away).
    NotApplicable,
}

/// The revisions a rule applies to and its severity in each; build it with the const
/// functions, e.g. `Revisions::since(Revision::R2025_06_18).at(Revision::R2025_11_25, Severity::Info)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    standing: [Standing; 4],
}

impl Revisions {
    /// Every revision, at the rule's default severity.
    pub const ALL: Revisions = Revisions {
        standing: [Standing::Default; 4],
    };

    /// From `first` on (a requirement that revision added), at the default severity.
    pub const fn since(first: Revision) -> Revisions {
        let mut standing = [Standing::Default; 4];
        let mut i = 0;
        while i < first.index() {
            standing[i] = Standing::NotApplicable;
            i += 1;
        }
        Revisions { standing }
    }

    /// Up to and including `last` (a requirement the next revision dropped).
    pub const fn until(last: Revision) -> Revisions {
        let mut standing = [Standing::Default; 4];
        let mut i = last.index() + 1;
        while i < 4 {
            standing[i] = Standing::NotApplicable;
            i += 1;
        }
        Revisions { standing }
    }

    /// Not in `revision` (a requirement that revision dropped, e.g. sessions in 2026-07-28).
    pub const fn not_in(self, revision: Revision) -> Revisions {
        let mut standing = self.standing;
        standing[revision.index()] = Standing::NotApplicable;
        Revisions { standing }
    }

    /// This severity from `from` on (e.g. a MUST relaxed to a MAY becomes info).
    pub const fn from(self, from: Revision, severity: Severity) -> Revisions {
        let mut standing = self.standing;
        let mut i = from.index();
        while i < 4 {
            if !matches!(standing[i], Standing::NotApplicable) {
                standing[i] = Standing::At(severity);
            }
            i += 1;
        }
        Revisions { standing }
    }

    /// This severity in `revision` only.
    pub const fn at(self, revision: Revision, severity: Severity) -> Revisions {
        let mut standing = self.standing;
        standing[revision.index()] = Standing::At(severity);
        Revisions { standing }
    }

    /// The rule's standing in `revision`.
    pub const fn standing(&self, revision: Revision) -> Standing {
        self.standing[revision.index()]
    }

    /// The severity in `revision` (None: the rule does not apply there).
    pub fn severity(&self, revision: Revision, default: Severity) -> Option<Severity> {
        match self.standing(revision) {
            Standing::Default => Some(default),
            Standing::At(s) => Some(s),
            Standing::NotApplicable => None,
        }
    }

    /// Whether the rule means the same in every revision.
    pub fn is_uniform(&self) -> bool {
        self.standing.iter().all(|s| *s == Standing::Default)
    }

    /// Whether the severity differs between the revisions the rule applies to.
    pub fn severity_varies(&self, default: Severity) -> bool {
        let mut seen = Revision::ALL
            .iter()
            .filter_map(|r| self.severity(*r, default));
        let first = seen.next();
        seen.any(|s| Some(s) != first)
    }

    /// `(revision, severity or None)` for every revision, oldest first.
    pub fn table(&self, default: Severity) -> [(Revision, Option<Severity>); 4] {
        Revision::ALL.map(|r| (r, self.severity(r, default)))
    }

    /// One line: `2025-03-26 n/a · 2025-06-18 error · …`.
    pub fn summary(&self, default: Severity) -> String {
        self.table(default)
            .iter()
            .map(|(r, s)| format!("{r} {}", s.map_or("n/a", Severity::as_str)))
            .collect::<Vec<_>>()
            .join(" · ")
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
    ex: Option<&Exchange>,
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
pub fn announced(ex: &Exchange) -> Option<Revision> {
    if let Some(v) = ex.request.header("mcp-protocol-version") {
        return Revision::parse(v);
    }
    let body = ex.request.body.as_ref()?.text.as_deref()?;
    let v: Value = serde_json::from_str(body).ok()?;
    let params = v.get("params")?;
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
        use crate::model::FlowId;
        use crate::rules::testkit::{post_json, rpc};
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
            judged_by(Some(&flow), Some(&init), None).revision,
            Revision::R2025_03_26
        );
        let stateless = post_json(
            "https://mcp.example/mcp",
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
        )
        .build();
        assert_eq!(announced(&stateless), Some(Revision::R2026_07_28));
        flow.mcp.push(probe(200, "server/discover", "2026-07-28"));
        assert_eq!(
            judged_by(Some(&flow), Some(&init), None).evidence,
            RevisionEvidence::Discovered
        );
        flow.protocol_version = Some("2025-11-25".into());
        assert_eq!(
            judged_by(Some(&flow), None, None).describe(),
            "MCP 2025-11-25 (negotiated in initialize)"
        );
    }

    #[test]
    fn builds_policies() {
        use Revision::*;
        let p = Revisions::since(R2025_06_18).from(R2025_11_25, Severity::Info);
        assert_eq!(p.severity(R2025_03_26, Severity::Error), None);
        assert_eq!(
            p.severity(R2025_06_18, Severity::Error),
            Some(Severity::Error)
        );
        assert_eq!(
            p.severity(R2025_11_25, Severity::Error),
            Some(Severity::Info)
        );
        assert_eq!(
            p.severity(R2026_07_28, Severity::Error),
            Some(Severity::Info)
        );
        assert_eq!(
            p.summary(Severity::Error),
            "2025-03-26 n/a · 2025-06-18 error · 2025-11-25 info · 2026-07-28 info"
        );
        let added = Revisions::since(R2026_07_28);
        assert_eq!(added.severity(R2025_11_25, Severity::Warning), None);
        assert!(Revisions::ALL.is_uniform() && !added.is_uniform());
        assert!(!added.severity_varies(Severity::Warning));
        assert!(p.severity_varies(Severity::Error));
        let sessions = Revisions::since(R2025_11_25).not_in(R2026_07_28);
        assert_eq!(
            sessions.severity(R2025_11_25, Severity::Info),
            Some(Severity::Info)
        );
        assert_eq!(sessions.severity(R2026_07_28, Severity::Info), None);
        let dropped = Revisions::until(R2025_03_26);
        assert_eq!(dropped.severity(R2025_06_18, Severity::Error), None);
        assert_eq!(
            Revisions::ALL
                .at(R2025_03_26, Severity::Warning)
                .severity(R2025_03_26, Severity::Error),
            Some(Severity::Warning)
        );
    }
}
