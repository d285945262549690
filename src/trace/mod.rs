//! The trace store: the crash-safe JSONL writer and the readers (JSONL, HAR). The record model
//! itself lives in [`crate::model`].

pub mod har_import;
pub mod load;
pub mod reader;
pub mod writer;
