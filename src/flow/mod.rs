//! Flow intelligence, sans-io: the phase classifier ([`phase`]), per-flow state ([`state`]),
//! correlation of exchanges into flows — one flow per client run ([`correlate`]) — and the
//! end-of-flow narrative ([`narrative`]). The rule engine in `rules` drives these; nothing here does I/O.

pub mod correlate;
pub mod narrative;
pub mod phase;
pub mod state;

pub use state::Flow;

#[cfg(test)]
mod playbook_test;
#[cfg(test)]
mod runs_test;
