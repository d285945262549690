//! What the scripted client reports: each step with its outcome, and the whole flow.

use serde::Serialize;

use crate::model::Phase;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As the spec says.
    Ok,
    /// A deviation the client worked around (or expected, like the first 401).
    Warn,
    /// The flow cannot go on.
    Fail,
}

impl Outcome {
    /// The label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// One request of the flow and what the client made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What the step is, e.g. `dcr`, `token`, `tools/call countdown`.
    pub name: String,
    /// Flow phase.
    pub phase: Phase,
    /// HTTP method.
    pub method: String,
    /// URL (query stripped for the callback so no code is printed).
    pub url: String,
    /// Response status, if a response came.
    pub status: Option<u16>,
    /// ok / warn / fail.
    pub outcome: Outcome,
    /// One line: what was checked or what went wrong.
    pub note: String,
    /// Time to the complete response, milliseconds.
    pub elapsed_ms: u64,
}

/// The result of a flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// The MCP URL.
    pub mcp_url: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The flow reached the end (session deleted).
    pub completed: bool,
    /// Name of the failing step, when not completed.
    pub stopped_at: Option<String>,
    /// Negotiated MCP protocol version.
    pub protocol_version: Option<String>,
    /// Tool names from `tools/list`.
    pub tools: Vec<String>,
    /// SSE events received from the streaming tool call.
    pub sse_events: usize,
    /// The `client_id` dynamic client registration created, if it did.
    pub registered_client_id: Option<String>,
}

impl FlowReport {
    /// Steps with a given outcome.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.outcome == outcome)
    }

    /// The first step with a given name.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}
