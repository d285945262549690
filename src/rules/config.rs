//! The engine's tunables: correlation time windows, thresholds, the client profile and what
//! is known about the capture.

use crate::rules::profiles::ClientProfile;

/// Tunables for the engine (correlation time windows, thresholds, client profile).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// callback → token window, seconds.
    pub code_exchange_window_s: f64,
    /// token → first MCP request window, seconds.
    pub token_use_window_s: f64,
    /// authorize → callback window, seconds.
    pub authorize_window_s: f64,
    /// GEN-SLOW threshold for PRM/ASM/DCR/token responses, seconds.
    pub slow_threshold_s: f64,
    /// X-DCR-LOOP: this many registrations without an authorize…
    pub dcr_storm_count: usize,
    /// …within this many seconds.
    pub dcr_storm_window_s: f64,
    /// Client profile: per-rule severity overrides (`authtap check --client claude-ai`).
    pub profile: ClientProfile,
    /// Which kind of proxy captured the trace (forward-only rules need it).
    pub capture_mode: crate::model::CaptureMode,
    /// The server is known to require authorization even before the traffic shows it
    /// (`authtap check` probes a server the user says is OAuth-protected).
    pub requires_auth: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            code_exchange_window_s: 60.0,
            token_use_window_s: 30.0,
            authorize_window_s: 600.0,
            slow_threshold_s: 10.0,
            dcr_storm_count: 3,
            dcr_storm_window_s: 300.0,
            profile: ClientProfile::generic(),
            capture_mode: crate::model::CaptureMode::Reverse,
            requires_auth: false,
        }
    }
}
