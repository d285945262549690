//! The trace store: the record model, the crash-safe JSONL writer and the reader.

pub mod har_import;
pub mod kinds;
pub mod load;
pub mod model;
pub mod reader;
pub mod writer;
