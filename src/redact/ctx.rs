//! What redaction may leave in place, and the state of one redaction pass: the values known
//! from the first pass and the values seen in this one.

use super::value::{MARKER_PREFIX, redact_value};

/// Values shorter than this are not searched for in free text (too likely to collide).
const MIN_KNOWN_LEN: usize = 6;

/// What redaction may leave in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep binary bodies (as base64) instead of replacing them with a placeholder. Binary
    /// bytes cannot be scanned for secrets, so this is an explicit user choice
    /// (`--keep-binary`).
    pub keep_binary: bool,
}

/// Redaction state for one pass: the values known from the first pass, and the values seen.
pub(crate) struct Ctx<'a> {
    pub(super) known: &'a [(String, String)],
    pub(super) seen: Vec<(String, String)>,
    pub(super) policy: Policy,
}

impl<'a> Ctx<'a> {
    #[cfg(test)]
    pub(crate) fn new(known: &'a [(String, String)]) -> Self {
        Self::with_policy(known, Policy::default())
    }

    pub(super) fn with_policy(known: &'a [(String, String)], policy: Policy) -> Self {
        Self {
            known,
            seen: Vec::new(),
            policy,
        }
    }

    /// Redacts one secret value and remembers it for the second pass.
    pub(crate) fn secret(&mut self, value: &str) -> String {
        let out = redact_value(value);
        if value.len() >= MIN_KNOWN_LEN && out != value && !MARKER_PREFIX.contains(value) {
            self.seen.push((value.to_string(), out.clone()));
        }
        out
    }
}
