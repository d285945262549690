//! Tests of the layer checker itself, on small in-memory crates.

use super::graph::Crate;
use super::scan::scan;
use super::{breaches, cycles, io_in_sans_io_layers};

const ROWS: &[(&str, &str)] = &[
    ("sources", "listen > forward > tap, ca; demo"),
    ("engine", "rules"),
    ("vocabulary", "model; crate"),
];

fn krate(files: &[(&str, &str)]) -> Crate {
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    Crate::new(&sources)
}

fn messages(files: &[(&str, &str)]) -> Vec<String> {
    breaches(&krate(files), ROWS)
}

const LIB: &str = "pub mod model;\npub mod rules;\npub mod listen;\npub mod forward;\npub mod tap;\npub mod ca;\npub mod demo;\npub fn error_chain() {}\n";

#[test]
fn comments_and_literals_hold_no_paths() {
    let src = r###"
//! [`crate::rules::Engine`] in a doc link
/* crate::rules::A /* nested */ crate::rules::B */
const S: &str = "crate::rules::C";
const R: &str = r#"crate::rules::D "quoted" "#;
const C: char = '"';
fn f<'a>(x: &'a str) -> crate::model::Real { let _ = b'x'; todo!() }
"###;
    let found: Vec<Vec<String>> = scan(src).paths.into_iter().map(|(p, _)| p).collect();
    assert_eq!(found, vec![vec!["crate", "model", "Real"]]);
}

#[test]
fn use_trees_give_every_leaf_with_its_line() {
    let src =
        "pub(crate) use crate::{\n    model::{Exchange, kinds::Phase as P},\n    rules::*,\n};\n";
    let leaves: Vec<(String, Option<String>, bool, bool, usize)> = scan(src)
        .uses
        .into_iter()
        .map(|u| (u.path.join("::"), u.alias, u.glob, u.public, u.site.line))
        .collect();
    assert_eq!(
        leaves,
        vec![
            ("crate::model::Exchange".into(), None, false, true, 2),
            (
                "crate::model::kinds::Phase".into(),
                Some("P".into()),
                false,
                true,
                2
            ),
            ("crate::rules".into(), None, true, true, 3),
        ]
    );
}

#[test]
fn an_import_up_fires_with_file_line_and_rule() {
    let found = messages(&[
        ("lib.rs", LIB),
        (
            "model/mod.rs",
            "//! Records.\npub struct Exchange;\nfn f() -> crate::rules::Engine { todo!() }\n",
        ),
        ("rules/mod.rs", "pub struct Engine;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            "src/model/mod.rs:3: model -> rules (`crate::rules::Engine`): goes up: layer `vocabulary` is below layer `engine`"
                .to_string()
        ]
    );
}

#[test]
fn imports_down_doc_links_and_test_code_stay_quiet() {
    let found = messages(&[
        ("lib.rs", LIB),
        (
            "model/mod.rs",
            "//! See [`crate::rules::Engine`].\npub struct Exchange;\n#[cfg(test)]\nmod tests {\n    use crate::rules::Engine;\n}\n",
        ),
        (
            "rules/mod.rs",
            "use crate::model::Exchange;\nuse crate::error_chain;\npub struct Engine;\n",
        ),
        (
            "listen/mod.rs",
            "use crate::{forward::Forwarder, tap::Tap, ca::Ca, rules::Engine};\n",
        ),
        ("forward/mod.rs", "pub struct Forwarder;\n"),
        ("tap/mod.rs", "pub struct Tap;\n"),
        ("ca/mod.rs", "pub struct Ca;\n#[cfg(test)]\nmod tests;\n"),
        ("ca/tests.rs", "use crate::listen::Listener;\n"),
    ]);
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn sideways_and_up_an_order_fire() {
    let found = messages(&[
        ("lib.rs", LIB),
        (
            "tap/mod.rs",
            "pub struct Tap;\nfn f() { let _ = crate::ca::Ca; }\n",
        ),
        ("ca/mod.rs", "pub struct Ca;\n"),
        (
            "forward/mod.rs",
            "pub struct Forwarder;\nuse crate::listen::Handler;\n",
        ),
        ("listen/mod.rs", "pub trait Handler {}\n"),
        ("demo/mod.rs", "use crate::tap::Tap;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            "src/demo/mod.rs:1: demo -> tap (`crate::tap::Tap`): sideways in layer `sources`: `demo` and `tap` are in independent groups",
            "src/forward/mod.rs:2: forward -> listen (`crate::listen::Handler`): goes up the order `listen > forward > tap, ca`",
            "src/tap/mod.rs:2: tap -> ca (`crate::ca::Ca`): sideways in layer `sources`: `tap` and `ca` are peers in `listen > forward > tap, ca`",
        ]
    );
}

#[test]
fn super_chains_and_re_exports_resolve_to_the_defining_module() {
    let found = messages(&[
        ("lib.rs", LIB),
        ("model/mod.rs", "pub mod deep;\n"),
        ("model/deep.rs", "fn f() { super::super::rules::run(); }\n"),
        ("rules/mod.rs", "mod engine;\npub use engine::run;\n"),
        ("rules/engine.rs", "pub fn run() {}\n"),
        ("tap/mod.rs", "mod unlisted_in_table;\n"),
    ]);
    assert_eq!(
        found,
        vec![
            "src/model/deep.rs:1: model -> rules (`crate::rules::run`): goes up: layer `vocabulary` is below layer `engine`"
                .to_string()
        ]
    );
}

#[test]
fn a_module_outside_the_table_fires() {
    let found = messages(&[
        ("lib.rs", "pub mod stray;\npub mod model;\n"),
        ("stray/mod.rs", "use crate::model::X;\n"),
        ("model/mod.rs", "pub struct X;\n"),
    ]);
    assert_eq!(found, vec!["src/stray/mod.rs:1: `crate::model::X`: the importer `stray` is in no row of the layer table".to_string()]);
}

#[test]
fn a_cycle_between_files_fires_and_a_re_export_does_not_fake_one() {
    let cyclic = krate(&[
        ("lib.rs", "pub mod demo;\n"),
        ("demo/mod.rs", "mod a;\nmod b;\n"),
        ("demo/a.rs", "pub fn f() { super::b::g() }\n"),
        ("demo/b.rs", "use super::a;\npub fn g() { a::f() }\n"),
    ]);
    let found = cycles(&cyclic);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, vec!["src/demo/a.rs", "src/demo/b.rs"]);
    assert!(
        found[0]
            .1
            .contains("src/demo/b.rs:2 -> src/demo/a.rs (`crate::demo::a::f`)"),
        "{}",
        found[0].1
    );

    let through_re_export = krate(&[
        ("lib.rs", "pub mod demo;\n"),
        (
            "demo/mod.rs",
            "mod state;\nmod serve;\npub use state::State;\npub fn run() { serve::serve() }\n",
        ),
        ("demo/state.rs", "pub struct State;\n"),
        (
            "demo/serve.rs",
            "use crate::demo::State;\npub fn serve() {}\n",
        ),
    ]);
    assert_eq!(
        cycles(&through_re_export),
        Vec::<(Vec<String>, String)>::new()
    );
}

#[test]
fn io_in_a_sans_io_layer_fires_and_elsewhere_stays_quiet() {
    let io = krate(&[
        ("lib.rs", LIB),
        ("rules/mod.rs", "use std::{fs, collections::BTreeMap};\n"),
        (
            "tap/mod.rs",
            "use std::fs;\nfn f() { tokio::spawn(async {}); }\n",
        ),
    ]);
    let found = io_in_sans_io_layers(&io, ROWS);
    assert_eq!(
        found,
        vec!["src/rules/mod.rs:1: `std::fs` in layer `engine`, which does no I/O".to_string()]
    );
}
