//! Reading traces back: authtap's own JSONL ([`reader`]), HAR files from any tool
//! ([`har_import`]), and [`load`], which picks the reader by content and can re-run the rules
//! over what it read. Writing a trace is the store's job ([`crate::store`]); the record model
//! itself lives in [`crate::model`].

pub mod har_import;
pub mod load;
pub mod reader;
