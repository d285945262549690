//! The MCP protocol revisions the reference server speaks, selectable per run (`authtap demo
//! --protocol`): the stateless 2026-07-28 revision (`server/discover`, `Mcp-Method`/`Mcp-Name`,
//! no session) and the `initialize`-based revisions 2025-11-25, 2025-06-18 and 2025-03-26.
//! With both eras on, the server is dual-era as MCP 2026-07-28 Versioning "Backward
//! Compatibility with Initialization-Based Versions" describes: a request carrying the modern
//! per-request `_meta` is served statelessly, an `initialize` opens a legacy session.

use std::fmt;
use std::str::FromStr;

/// One MCP protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    /// 2025-03-26 (Streamable HTTP, no `MCP-Protocol-Version` header yet).
    V2025_03_26,
    /// 2025-06-18.
    V2025_06_18,
    /// 2025-11-25.
    V2025_11_25,
    /// 2026-07-28: stateless, per-request `_meta`, `server/discover`.
    V2026_07_28,
}

impl Revision {
    /// Every revision, newest first.
    pub const ALL: [Revision; 4] = [
        Revision::V2026_07_28,
        Revision::V2025_11_25,
        Revision::V2025_06_18,
        Revision::V2025_03_26,
    ];

    /// The version string on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether the revision is stateless (per-request metadata, no `initialize`).
    pub fn is_modern(self) -> bool {
        self == Revision::V2026_07_28
    }

    /// The revision named by a version string.
    pub fn from_version(v: &str) -> Option<Revision> {
        Revision::ALL.into_iter().find(|r| r.as_str() == v)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that names no revision the server knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown MCP protocol revision `{0}` (known: 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26)"
)]
pub struct UnknownRevision(pub String);

impl FromStr for Revision {
    type Err = UnknownRevision;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Revision::from_version(s).ok_or_else(|| UnknownRevision(s.to_string()))
    }
}

/// The revisions enabled for a run, newest first, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revisions(Vec<Revision>);

impl Default for Revisions {
    /// Dual-era: every revision.
    fn default() -> Self {
        Revisions(Revision::ALL.to_vec())
    }
}

impl Revisions {
    /// The given revisions (deduplicated, newest first); every revision when empty.
    pub fn of(list: &[Revision]) -> Self {
        if list.is_empty() {
            return Self::default();
        }
        let mut v = list.to_vec();
        v.sort_by(|a, b| b.cmp(a));
        v.dedup();
        Revisions(v)
    }

    /// Whether `r` is enabled.
    pub fn has(&self, r: Revision) -> bool {
        self.0.contains(&r)
    }

    /// Whether the version string names an enabled revision.
    pub fn speaks(&self, version: &str) -> bool {
        Revision::from_version(version).is_some_and(|r| self.has(r))
    }

    /// Whether the stateless revision is enabled.
    pub fn modern(&self) -> bool {
        self.0.iter().any(|r| r.is_modern())
    }

    /// The enabled `initialize`-based revisions, newest first.
    pub fn legacy(&self) -> impl Iterator<Item = Revision> + '_ {
        self.0.iter().copied().filter(|r| !r.is_modern())
    }

    /// Every enabled version string, newest first.
    pub fn versions(&self) -> Vec<&'static str> {
        self.0.iter().map(|r| r.as_str()).collect()
    }
}

impl fmt::Display for Revisions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.versions().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orders_and_splits_eras() {
        assert_eq!("2026-07-28".parse::<Revision>(), Ok(Revision::V2026_07_28));
        assert!("2024-11-05".parse::<Revision>().is_err());
        let set = Revisions::of(&[
            Revision::V2025_06_18,
            Revision::V2026_07_28,
            Revision::V2025_06_18,
        ]);
        assert_eq!(set.versions(), ["2026-07-28", "2025-06-18"]);
        assert!(set.modern());
        assert_eq!(set.legacy().collect::<Vec<_>>(), [Revision::V2025_06_18]);
        assert!(set.speaks("2025-06-18") && !set.speaks("2025-11-25") && !set.speaks("x"));
        let legacy_only = Revisions::of(&[Revision::V2025_11_25]);
        assert!(!legacy_only.modern());
        assert_eq!(Revisions::of(&[]), Revisions::default());
        assert_eq!(Revisions::default().versions().len(), 4);
    }
}
