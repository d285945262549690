//! Test helpers for the exporters' unit tests: the shared canary fixture as a [`Trace`].

#[path = "../../tests/it/export_support/fixture.rs"]
pub mod fixture;

use super::{ExportOptions, Trace};
use crate::model::Record;

/// The canary fixture as records.
pub fn records() -> Vec<Record> {
    fixture::canary_records()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

/// The canary fixture as an export input.
pub fn trace(opts: &ExportOptions) -> Trace {
    Trace::build(&records(), opts)
}
