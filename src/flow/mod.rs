//! Flow intelligence, sans-io: the phase classifier ([`phase`]), the authorization response an
//! exchange carries ([`callback`]), per-flow state ([`state`]), correlation of exchanges into
//! flows — one flow per client run ([`correlate`]) — and what each adds to its flow
//! ([`record`]), and the end-of-flow narrative ([`narrative`]). Everything reads the exchange's
//! [`crate::parse::view::ExchangeView`]. The rule engine in `rules` drives these; nothing here
//! does I/O.

pub mod callback;
pub mod correlate;
pub mod narrative;
pub mod phase;
pub mod record;
pub mod revision;
pub mod state;

pub use state::Flow;

#[cfg(test)]
pub(crate) mod testkit;
