//! Feeding a session from a built-in client's recording hook (`check`'s probe, `demo --direct`):
//! the hook sends each exchange with the name of the client step that made it, the feeder
//! numbers them in arrival order and hands them to the [`Session`].

use tokio::sync::mpsc;

use super::Session;
use crate::model::{Exchange, ExchangeId};

/// What a client's recording hook sends.
#[derive(Debug)]
pub enum HookEntry {
    /// A finished exchange (id still 0) and the client step that made it.
    Exchange {
        /// The client step (`probe`, `prm`, `dcr (preflight)`…).
        step: String,
        /// The exchange.
        exchange: Box<Exchange>,
    },
    /// The client is done (hook clones may outlive it, so the end is said explicitly).
    End,
}

/// Numbers each exchange (1, 2, … in arrival order), hands it to `session` and flushes (one
/// complete trace line per exchange, readable after a kill), until [`HookEntry::End`] or every
/// sender is gone. Returns the step names in id order.
pub async fn feed_from_hook(
    session: &mut Session,
    rx: &mut mpsc::UnboundedReceiver<HookEntry>,
) -> Vec<String> {
    let mut steps = Vec::new();
    while let Some(HookEntry::Exchange { step, exchange }) = rx.recv().await {
        let mut exchange = *exchange;
        steps.push(step);
        exchange.id = ExchangeId(steps.len() as u64);
        session.exchange(exchange);
        session.flush();
    }
    steps
}
