//! Shared helpers for the `tests/it/export_*.rs` integration tests: the canary trace fixture and
//! running the Node tools in `tests/js`.

pub mod fixture;
pub mod node;
