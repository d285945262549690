//! The layer test (issue 11): the crate's layering as data, checked against every import.
//!
//! [`LAYERS`] is the table, top to bottom; imports only go down. In a row, `;` separates
//! independent groups (which must not import each other), `>` orders the modules of one group
//! (an earlier one may import a later one) and `,` lists peers of one rank. Entries are module
//! paths; a path belongs to the longest entry that is a prefix of it; `crate` stands for the
//! helpers in `lib.rs`. The test reads every `.rs`
//! file under `src/`, takes every `crate::…` path of its code — `use` trees (grouped, nested,
//! multi-line, `as`, globs) and inline paths — and every `super::`/`self::`/child-module path,
//! resolves each to the module that defines its item (through imported names and `pub use`
//! re-exports, so a re-exported name counts where it is defined), maps that module to its
//! table entry by longest prefix and fails, with `file:line`, on an import that goes up or
//! sideways. Comments (doc links included) and string literals do not count. It also fails on
//! a cycle between files, and on I/O (`tokio`, `hyper`, `std::fs`, `std::net`) in the layers
//! that must stay sans-io (engine, wire, vocabulary).
//!
//! Edges are names: a method call (`self.forward(…)`) names no item, so the methods of one
//! type may live in several files (`impl Forwarder` blocks), each file depending on the file
//! that defines the type, not on each other.
//!
//! Test-only code (`#[cfg(test)]` modules, items and files) is not checked: it is never linked
//! into the library, so it adds no dependency to the shipped layering, and a low layer's test
//! may rightly build its fixtures with a higher layer's testkit or run the engine over its
//! output end to end. `main.rs` and `cli/` are the binary crate: they reach the library as
//! `authtap::…` and sit above everything, so only the cycles among `cli/` files are checked.
//!
//! One reading of issue 11's table is made explicit here: `trace::load` picks the reader of a
//! trace file (JSONL or HAR), so it sits above `trace::har_import` and `trace::reader`.
//!
//! There is no allow-list: every breach and every cycle fails the test.

mod graph;
mod scan;
mod table;
mod tests;

use graph::Crate;
use table::Table;

/// The target layering, top layer first (the grammar of a row is in the module doc).
const LAYERS: &[(&str, &str)] = &[
    ("binary", "cli"),
    ("facade", "proxy"),
    (
        "sources",
        "intercept > listen > forward > tap, rewrite, ca; check > client; demo; \
         trace::load > trace::har_import, trace::reader",
    ),
    ("pipeline", "session"),
    ("sinks", "store; live; export"),
    ("engine", "rules > flow"),
    ("wire", "parse > redact"),
    ("vocabulary", "model; crate"),
];

/// The layers that must do no I/O, and the paths that mean I/O.
const SANS_IO_LAYERS: [&str; 3] = ["engine", "wire", "vocabulary"];
const IO_PATHS: [&[&str]; 4] = [&["tokio"], &["hyper"], &["std", "fs"], &["std", "net"]];

/// Every import of non-test code that breaks `rows`, in file and line order, as
/// `file:line: …` messages.
fn breaches(krate: &Crate, rows: &[(&'static str, &'static str)]) -> Vec<String> {
    let table = Table::new(rows);
    let mut out = Vec::new();
    for edge in krate.edges() {
        let file = &krate.files[edge.from];
        let at = format!("{}:{}", file.name, edge.line);
        let (from, to) = (table.entry(&file.module), table.entry(&edge.target));
        let (Some(from), Some(to)) = (from, to) else {
            let (module, which) = match from {
                None => (file.module.join("::"), "importer"),
                Some(_) => (edge.target.join("::"), "imported"),
            };
            out.push(format!(
                "{at}: `{}`: the {which} `{module}` is in no row of the layer table",
                edge.written
            ));
            continue;
        };
        if let Some(rule) = table.breach(from, to) {
            out.push(format!(
                "{at}: {} -> {} (`{}`): {rule}",
                from.module, to.module, edge.written
            ));
        }
    }
    out
}

/// Every cycle between files (strongly connected components of two files or more), each as
/// `(its files sorted, one edge per file pair as evidence)`.
fn cycles(krate: &Crate) -> Vec<(Vec<String>, String)> {
    let n = krate.files.len();
    let mut next: Vec<Vec<(usize, String)>> = vec![Vec::new(); n];
    for e in krate.edges() {
        if let Some(to) = e.to_file.filter(|&t| t != e.from && !krate.files[t].test) {
            if !next[e.from].iter().any(|(t, _)| *t == to) {
                let (from, target) = (&krate.files[e.from].name, &krate.files[to].name);
                next[e.from].push((
                    to,
                    format!("{from}:{} -> {target} (`{}`)", e.line, e.written),
                ));
            }
        }
    }
    let succ: Vec<Vec<usize>> = next
        .iter()
        .map(|v| v.iter().map(|(t, _)| *t).collect())
        .collect();
    let mut out = Vec::new();
    for scc in strongly_connected(&succ)
        .into_iter()
        .filter(|c| c.len() > 1)
    {
        let mut names: Vec<String> = scc.iter().map(|&k| krate.files[k].name.clone()).collect();
        names.sort();
        let evidence: Vec<&str> = scc
            .iter()
            .flat_map(|&k| {
                next[k]
                    .iter()
                    .filter(|(t, _)| scc.contains(t))
                    .map(|(_, why)| why.as_str())
            })
            .collect();
        out.push((names, evidence.join("\n    ")));
    }
    out.sort();
    out
}

/// Tarjan's algorithm: the strongly connected components of a graph given as successor lists.
fn strongly_connected(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        succ: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.succ[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let n = succ.len();
    let mut s = State {
        succ,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

/// I/O paths in the code of the sans-io layers, as `file:line: path` messages.
fn io_in_sans_io_layers(krate: &Crate, rows: &[(&'static str, &'static str)]) -> Vec<String> {
    let table = Table::new(rows);
    let mut out = Vec::new();
    for (k, line, path) in krate.external_paths() {
        let file = &krate.files[k];
        let Some(entry) = table.entry(&file.module) else {
            continue;
        };
        let layer = table.layer_name(entry.layer);
        let io = IO_PATHS
            .iter()
            .any(|p| p.len() <= path.len() && p.iter().zip(&path).all(|(a, b)| a == b));
        if SANS_IO_LAYERS.contains(&layer) && io {
            out.push(format!(
                "{}:{line}: `{}` in layer `{layer}`, which does no I/O",
                file.name,
                path.join("::")
            ));
        }
    }
    out
}

/// Every `.rs` file under `src/` as `(path relative to src/, source)`, except `main.rs`.
fn crate_sources() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel != "main.rs" {
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn imports_follow_the_layer_table() {
    let found = breaches(&Crate::new(&crate_sources()), LAYERS);
    assert!(
        found.is_empty(),
        "{} imports break the layer table:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn no_cycle_between_files() {
    let found: Vec<String> = cycles(&Crate::new(&crate_sources()))
        .into_iter()
        .map(|(files, why)| format!("{}\n    {why}", files.join(" <-> ")))
        .collect();
    assert!(
        found.is_empty(),
        "{} cycles between files:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn engine_wire_and_vocabulary_do_no_io() {
    let found = io_in_sans_io_layers(&Crate::new(&crate_sources()), LAYERS);
    assert!(
        found.is_empty(),
        "I/O in sans-io layers:\n{}",
        found.join("\n")
    );
}
