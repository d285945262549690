//! The official MCP conformance suite as a test oracle: where it is installed and what authtap
//! must say about each of its scenarios. Shared by `conformance_oracle` (reverse mode) and
//! `conformance_forward` (`authtap run`). The suite's Node project itself stays in
//! tests/conformance (`scripts/ci/install-conformance.sh`).

pub mod expectations;
pub mod install;
