//! The rule engine: the catalog, the [`Rule`] trait, the rule families and the [`Engine`] that runs
//! them over each exchange and flow.
//!
//! Rules are small units identified by catalog ids (`authtap rules`, `docs/rules.md`). This module
//! is sans-io: it sees only [`crate::model`] records, so the live proxy and `authtap lint` run
//! exactly the same code. The words findings are made of live in [`crate::model`].

pub mod catalog;
pub mod config;
pub mod engine;
pub mod format;
#[cfg(test)]
mod playbook_test;
pub mod profiles;
pub mod registry;
pub mod revision;
pub mod rule;
#[cfg(test)]
mod runs_test;
#[cfg(test)]
pub(crate) mod testkit;

mod asm;
mod authorize;
mod bypass;
mod callback;
mod cors;
mod cross;
mod dcr;
mod general;
mod history;
mod iss_check;
mod mcp;
mod modern_meta;
mod prm;
mod refresh;
mod reverse;
mod rpc;
mod sse;
mod token;
mod util;
mod www_auth;

pub use config::EngineConfig;
pub use engine::Engine;
pub use profiles::{ClientProfile, PROFILE_NAMES, ProfileError, ProfileKind};
pub use rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};
