//! The layer table as data, and the verdict on one import: down is fine, up or sideways is
//! not. Rows run top to bottom; in a row, `;` separates independent groups, `>` orders the
//! modules of one group (an earlier one may import a later one), `,` lists peers of one rank.

use super::graph::ModPath;

/// Where one module (a table entry) sits.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub module: String,
    pub layer: usize,
    pub group: usize,
    pub rank: usize,
}

/// The parsed table.
pub struct Table {
    rows: Vec<(&'static str, &'static str)>,
    entries: Vec<Entry>,
}

impl Table {
    /// Parses rows of `(layer name, groups)`, top layer first.
    pub fn new(rows: &[(&'static str, &'static str)]) -> Table {
        let mut entries = Vec::new();
        for (layer, (_, groups)) in rows.iter().enumerate() {
            for (group, chain) in groups.split(';').enumerate() {
                for (rank, peers) in chain.split('>').enumerate() {
                    for module in peers.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                        entries.push(Entry {
                            module: module.to_string(),
                            layer,
                            group,
                            rank,
                        });
                    }
                }
            }
        }
        Table {
            rows: rows.to_vec(),
            entries,
        }
    }

    /// The entry of a module path (or item path): the longest entry that is a prefix of it.
    /// The crate root (`lib.rs` and its items) is the pseudo-module `crate`.
    pub fn entry(&self, path: &ModPath) -> Option<&Entry> {
        let key: ModPath = if path.is_empty() {
            vec!["crate".to_string()]
        } else {
            path.clone()
        };
        self.entries
            .iter()
            .filter(|e| {
                let segs: Vec<&str> = e.module.split("::").collect();
                segs.len() <= key.len() && segs.iter().zip(&key).all(|(a, b)| a == b)
            })
            .max_by_key(|e| e.module.len())
    }

    /// Why an import from `from` to `to` breaks the table, or `None` when it goes down (or
    /// stays inside one entry).
    pub fn breach(&self, from: &Entry, to: &Entry) -> Option<String> {
        let (row, groups) = self.rows[from.layer];
        if from.module == to.module || from.layer < to.layer {
            return None;
        }
        if from.layer > to.layer {
            let (above, _) = self.rows[to.layer];
            return Some(format!("goes up: layer `{row}` is below layer `{above}`"));
        }
        let group = groups.split(';').nth(from.group).unwrap_or_default().trim();
        if from.group != to.group {
            return Some(format!(
                "sideways in layer `{row}`: `{}` and `{}` are in independent groups",
                from.module, to.module
            ));
        }
        match from.rank.cmp(&to.rank) {
            std::cmp::Ordering::Less => None,
            std::cmp::Ordering::Equal => Some(format!(
                "sideways in layer `{row}`: `{}` and `{}` are peers in `{group}`",
                from.module, to.module
            )),
            std::cmp::Ordering::Greater => Some(format!("goes up the order `{group}`")),
        }
    }

    /// The name of a layer.
    pub fn layer_name(&self, layer: usize) -> &'static str {
        self.rows[layer].0
    }
}
