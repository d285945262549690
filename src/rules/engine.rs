//! The rule engine: classifies and correlates each completed exchange, runs the rules, and
//! emits flow-level findings as flows advance or time out.
//!
//! The live recorder and `authtap lint` drive the same [`Engine`]:
//! `observe` for every exchange in start order, `tick` now and then, `finish` at the end.

use time::OffsetDateTime;

use crate::trace::model::{Exchange, FlowFindings};

/// Tunables for the engine (time windows of rules.md §2.0).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// callback → token window, seconds.
    pub code_exchange_window_s: f64,
    /// token → first MCP request window, seconds.
    pub token_use_window_s: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { code_exchange_window_s: 60.0, token_use_window_s: 30.0 }
    }
}

/// Stateful, sans-io rule engine for one trace.
#[derive(Debug, Default)]
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Self {
        Self { config }
    }

    /// Classifies, correlates and lints one completed exchange: fills `phase`, `flow` and
    /// `findings` on it. Returns flow-level findings that became due.
    pub fn observe(&mut self, exchange: &mut Exchange) -> Vec<FlowFindings> {
        let _ = (&self.config, exchange);
        Vec::new()
    }

    /// Runs timeout-based cross-request rules as of `now`.
    pub fn tick(&mut self, now: OffsetDateTime) -> Vec<FlowFindings> {
        let _ = now;
        Vec::new()
    }

    /// End of recording: remaining cross-request findings and each flow's narrative.
    pub fn finish(&mut self, now: OffsetDateTime) -> Vec<FlowFindings> {
        let _ = now;
        Vec::new()
    }
}
