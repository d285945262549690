//! What each rule means in each MCP protocol revision.
//!
//! A rule declares, next to its `META`, the revisions it applies to and its severity in each
//! (`Rule::REVISIONS`, default: every revision at `META.severity`). The engine judges each
//! finding by the revision its flow is judged by ([`crate::flow::revision`]): a rule that does
//! not apply there is dropped, and its severity becomes that revision's.

use crate::flow::revision::Revision;
use crate::model::Severity;

/// A rule's standing in one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Applies at the rule's `META.severity`.
    Default,
    /// Applies at this severity.
    At(Severity),
    /// Does not apply (not yet required, or relaxed away).
    NotApplicable,
}

/// The revisions a rule applies to and its severity in each; build it with the const
/// functions, e.g. `Revisions::since(Revision::R2025_06_18).at(Revision::R2025_11_25, Severity::Info)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    standing: [Standing; 4],
}

impl Revisions {
    /// Every revision, at the rule's default severity.
    pub const ALL: Revisions = Revisions {
        standing: [Standing::Default; 4],
    };

    /// From `first` on (a requirement that revision added), at the default severity.
    pub const fn since(first: Revision) -> Revisions {
        let mut standing = [Standing::Default; 4];
        let mut i = 0;
        while i < first.index() {
            standing[i] = Standing::NotApplicable;
            i += 1;
        }
        Revisions { standing }
    }

    /// Up to and including `last` (a requirement the next revision dropped).
    pub const fn until(last: Revision) -> Revisions {
        let mut standing = [Standing::Default; 4];
        let mut i = last.index() + 1;
        while i < 4 {
            standing[i] = Standing::NotApplicable;
            i += 1;
        }
        Revisions { standing }
    }

    /// Not in `revision` (a requirement that revision dropped, e.g. sessions in 2026-07-28).
    pub const fn not_in(self, revision: Revision) -> Revisions {
        let mut standing = self.standing;
        standing[revision.index()] = Standing::NotApplicable;
        Revisions { standing }
    }

    /// This severity from `from` on (e.g. a MUST relaxed to a MAY becomes info).
    pub const fn from(self, from: Revision, severity: Severity) -> Revisions {
        let mut standing = self.standing;
        let mut i = from.index();
        while i < 4 {
            if !matches!(standing[i], Standing::NotApplicable) {
                standing[i] = Standing::At(severity);
            }
            i += 1;
        }
        Revisions { standing }
    }

    /// This severity in `revision` only.
    pub const fn at(self, revision: Revision, severity: Severity) -> Revisions {
        let mut standing = self.standing;
        standing[revision.index()] = Standing::At(severity);
        Revisions { standing }
    }

    /// The rule's standing in `revision`.
    pub const fn standing(&self, revision: Revision) -> Standing {
        self.standing[revision.index()]
    }

    /// The severity in `revision` (None: the rule does not apply there).
    pub fn severity(&self, revision: Revision, default: Severity) -> Option<Severity> {
        match self.standing(revision) {
            Standing::Default => Some(default),
            Standing::At(s) => Some(s),
            Standing::NotApplicable => None,
        }
    }

    /// Whether the rule means the same in every revision.
    pub fn is_uniform(&self) -> bool {
        self.standing.iter().all(|s| *s == Standing::Default)
    }

    /// Whether the severity differs between the revisions the rule applies to.
    pub fn severity_varies(&self, default: Severity) -> bool {
        let mut seen = Revision::ALL
            .iter()
            .filter_map(|r| self.severity(*r, default));
        let first = seen.next();
        seen.any(|s| Some(s) != first)
    }

    /// `(revision, severity or None)` for every revision, oldest first.
    pub fn table(&self, default: Severity) -> [(Revision, Option<Severity>); 4] {
        Revision::ALL.map(|r| (r, self.severity(r, default)))
    }

    /// One line: `2025-03-26 n/a · 2025-06-18 error · …`.
    pub fn summary(&self, default: Severity) -> String {
        self.table(default)
            .iter()
            .map(|(r, s)| format!("{r} {}", s.map_or("n/a", Severity::as_str)))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_policies() {
        use Revision::*;
        let p = Revisions::since(R2025_06_18).from(R2025_11_25, Severity::Info);
        assert_eq!(p.severity(R2025_03_26, Severity::Error), None);
        assert_eq!(
            p.severity(R2025_06_18, Severity::Error),
            Some(Severity::Error)
        );
        assert_eq!(
            p.severity(R2025_11_25, Severity::Error),
            Some(Severity::Info)
        );
        assert_eq!(
            p.severity(R2026_07_28, Severity::Error),
            Some(Severity::Info)
        );
        assert_eq!(
            p.summary(Severity::Error),
            "2025-03-26 n/a · 2025-06-18 error · 2025-11-25 info · 2026-07-28 info"
        );
        let added = Revisions::since(R2026_07_28);
        assert_eq!(added.severity(R2025_11_25, Severity::Warning), None);
        assert!(Revisions::ALL.is_uniform() && !added.is_uniform());
        assert!(!added.severity_varies(Severity::Warning));
        assert!(p.severity_varies(Severity::Error));
        let sessions = Revisions::since(R2025_11_25).not_in(R2026_07_28);
        assert_eq!(
            sessions.severity(R2025_11_25, Severity::Info),
            Some(Severity::Info)
        );
        assert_eq!(sessions.severity(R2026_07_28, Severity::Info), None);
        let dropped = Revisions::until(R2025_03_26);
        assert_eq!(dropped.severity(R2025_06_18, Severity::Error), None);
        assert_eq!(
            Revisions::ALL
                .at(R2025_03_26, Severity::Warning)
                .severity(R2025_03_26, Severity::Error),
            Some(Severity::Warning)
        );
    }
}
