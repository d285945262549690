//! The crate's module tree built from scanned files, and the import edges between them: each
//! `use` leaf and inline path resolved to the module (and file) that defines its item, through
//! `super::`/`self::` chains, child modules, imported names and `pub use` re-exports.

use super::scan::{FileScan, Site, scan};
use std::collections::{BTreeMap, BTreeSet};

/// A module path from the crate root (`["forward", "bounce"]`); the root is empty.
pub type ModPath = Vec<String>;

/// One module: the file it lives in and the names it binds.
#[derive(Debug, Default)]
struct Module {
    file: usize,
    children: BTreeSet<String>,
    items: BTreeSet<String>,
    /// Every name a `use` binds here (public or not: child modules see private imports).
    bindings: BTreeMap<String, ModPath>,
    globs: Vec<ModPath>,
}

/// One source file of the crate.
#[derive(Debug)]
pub struct File {
    /// The path shown in messages (`src/forward/bounce.rs`).
    pub name: String,
    pub module: ModPath,
    /// Declared under `#[cfg(test)]` (itself or a module above it).
    pub test: bool,
    scan: FileScan,
}

/// An import from one file to an item: where it was written and what it resolved to.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub line: usize,
    /// The path as written, made absolute (`crate::listen::Handler`).
    pub written: String,
    /// The defining module followed by the item (`["listen", "Handler"]`); the crate root is
    /// spelled `crate` (`["crate", "error_chain"]`).
    pub target: ModPath,
    /// The file that defines the item; `None` when the path names a module only.
    pub to_file: Option<usize>,
}

/// The scanned crate.
pub struct Crate {
    pub files: Vec<File>,
    modules: BTreeMap<ModPath, Module>,
}

/// The module path of a file under `src/`, given its path relative to `src/`.
pub fn module_of(rel: &str) -> ModPath {
    let rel = rel.trim_end_matches(".rs");
    let mut segs: ModPath = rel.split('/').map(str::to_string).collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    segs
}

impl Crate {
    /// Builds the module tree from `(path relative to src/, source)` pairs.
    pub fn new(sources: &[(String, String)]) -> Crate {
        let mut files: Vec<File> = sources
            .iter()
            .map(|(rel, src)| File {
                name: format!("src/{rel}"),
                module: module_of(rel),
                test: false,
                scan: scan(src),
            })
            .collect();
        files.sort_by(|a, b| {
            a.module
                .len()
                .cmp(&b.module.len())
                .then(a.name.cmp(&b.name))
        });
        mark_test_files(&mut files);
        let modules = module_tree(&files);
        let mut krate = Crate { files, modules };
        krate.bind_uses();
        krate
    }

    /// Records in each module what its non-test `use` declarations bind: names and globs.
    fn bind_uses(&mut self) {
        for k in 0..self.files.len() {
            for u in self.files[k]
                .scan
                .uses
                .clone()
                .into_iter()
                .filter(|u| !u.site.test)
            {
                let here = [self.files[k].module.clone(), u.site.scope.clone()].concat();
                let Some(abs) = self.absolute(&u.path, &here) else {
                    continue;
                };
                let module = self.modules.entry(here).or_default();
                if u.glob {
                    module.globs.push(abs);
                } else if let Some(name) = u.alias.clone().or_else(|| abs.last().cloned()) {
                    module.bindings.insert(name, abs);
                }
            }
        }
    }

    /// Makes a written path absolute from module `here`, or `None` when it
    /// names something outside the crate (`std::…`, `tokio::…`, a local variable's type).
    fn absolute(&self, path: &[String], here: &ModPath) -> Option<ModPath> {
        let first = path.first()?;
        let mut base = here.clone();
        let mut rest = path;
        match first.as_str() {
            "crate" => (base, rest) = (Vec::new(), &path[1..]),
            "self" => rest = &path[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            name => {
                let module = self.modules.get(here)?;
                if module.children.contains(name) {
                    // `child::f`: relative to here.
                } else if let Some(bound) = module.bindings.get(name) {
                    (base, rest) = (bound.clone(), &path[1..]);
                } else {
                    return None;
                }
            }
        }
        Some([base, rest.to_vec()].concat())
    }

    /// Resolves an absolute path to the module that defines its item, plus the item name,
    /// following child modules and every `use` binding (so a `pub use` re-export leads on to
    /// the file that defines the item). `None` when the path leaves the crate.
    fn resolve(&self, path: &[String], depth: usize) -> Option<(ModPath, Option<String>)> {
        let mut module = Vec::new();
        for (k, seg) in path.iter().enumerate() {
            let here = self.modules.get(&module)?;
            if here.children.contains(seg) {
                module.push(seg.clone());
                continue;
            }
            if here.items.contains(seg) || depth > 16 {
                return Some((module, Some(seg.clone())));
            }
            if let Some(bound) = here.bindings.get(seg) {
                let next = [bound.clone(), path[k + 1..].to_vec()].concat();
                return self.resolve(&next, depth + 1);
            }
            for glob in &here.globs {
                let next = [glob.clone(), path[k..].to_vec()].concat();
                if let Some((m, Some(item))) = self.resolve(&next, depth + 1) {
                    if self
                        .modules
                        .get(&m)
                        .is_some_and(|x| x.items.contains(&item))
                    {
                        return Some((m, Some(item)));
                    }
                }
            }
            return Some((module, Some(seg.clone())));
        }
        Some((module, None))
    }

    /// The import edges of non-test code, file by file. A `pub use` of a module's own
    /// descendants is the module's face, not a dependency, and gives no edge.
    pub fn edges(&self) -> Vec<Edge> {
        let mut out = Vec::new();
        for (k, f) in self.files.iter().enumerate().filter(|(_, f)| !f.test) {
            let mut add = |path: &[String], site: &Site, glob: bool, reexport: bool| {
                if site.test {
                    return;
                }
                let here = [f.module.clone(), site.scope.clone()].concat();
                let Some(abs) = self.absolute(path, &here) else {
                    return;
                };
                if reexport && abs.starts_with(&f.module) && abs.len() > f.module.len() {
                    return;
                }
                let Some((module, item)) = self.resolve(&abs, 0) else {
                    return;
                };
                let to_file = match (&item, glob) {
                    (None, false) => None,
                    _ => self.modules.get(&module).map(|m| m.file),
                };
                let written = format!("crate::{}{}", abs.join("::"), if glob { "::*" } else { "" });
                let root = if module.is_empty() {
                    vec!["crate".to_string()]
                } else {
                    module
                };
                let target = [root, item.into_iter().collect()].concat();
                out.push(Edge {
                    from: k,
                    line: site.line,
                    written,
                    target,
                    to_file,
                });
            };
            for u in &f.scan.uses {
                add(&u.path, &u.site, u.glob, u.public);
            }
            for (path, site) in &f.scan.paths {
                add(path, site, false, false);
            }
        }
        out
    }
}

impl Crate {
    /// The paths of non-test code that leave the crate (`tokio::spawn`, `std::fs::read`), as
    /// `(file, line, path as written)`.
    pub fn external_paths(&self) -> Vec<(usize, usize, ModPath)> {
        let mut out = Vec::new();
        for (k, f) in self.files.iter().enumerate().filter(|(_, f)| !f.test) {
            let uses = f.scan.uses.iter().map(|u| (&u.path, &u.site));
            let inline = f.scan.paths.iter().map(|(p, s)| (p, s));
            for (path, site) in uses.chain(inline).filter(|(_, s)| !s.test) {
                let here = [f.module.clone(), site.scope.clone()].concat();
                if self.absolute(path, &here).is_none() {
                    out.push((k, site.line, path.clone()));
                }
            }
        }
        out
    }
}

/// Marks the files their parent declares under `#[cfg(test)]` (or that sit under such a file)
/// as test-only; `files` is sorted parents first.
fn mark_test_files(files: &mut [File]) {
    for k in 0..files.len() {
        let Some((name, parent)) = files[k].module.split_last() else {
            continue;
        };
        let declared = files.iter().find(|f| f.module == parent).and_then(|p| {
            let decl = p
                .scan
                .mods
                .iter()
                .find(|m| !m.inline && m.name == *name && m.site.scope.is_empty());
            decl.map(|d| d.site.test || p.test)
        });
        files[k].test = declared.unwrap_or(false);
    }
}

/// The module tree of the files: each module's file, its children (files and non-test inline
/// modules) and the items it defines.
fn module_tree(files: &[File]) -> BTreeMap<ModPath, Module> {
    let mut modules: BTreeMap<ModPath, Module> = BTreeMap::new();
    for (k, f) in files.iter().enumerate() {
        modules.entry(f.module.clone()).or_default().file = k;
        if let Some((name, parent)) = f.module.split_last() {
            // Declared by its parent, or by `main.rs` for the binary's `cli`.
            modules
                .entry(parent.to_vec())
                .or_default()
                .children
                .insert(name.clone());
        }
        for m in f.scan.mods.iter().filter(|m| !m.site.test) {
            let parent = [f.module.clone(), m.site.scope.clone()].concat();
            modules
                .entry(parent.clone())
                .or_default()
                .children
                .insert(m.name.clone());
            if m.inline {
                let child = [parent, vec![m.name.clone()]].concat();
                modules.entry(child).or_default().file = k;
            }
        }
        for (scope, name) in &f.scan.items {
            let module = [f.module.clone(), scope.clone()].concat();
            modules
                .entry(module)
                .or_default()
                .items
                .insert(name.clone());
        }
    }
    modules
}
