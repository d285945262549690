//! Enforces that `parse/`, `flow/` and `rules/` stay sans-io: no tokio, hyper, files or sockets.

#[test]
fn parse_flow_rules_are_sans_io() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let banned = ["tokio::", "hyper::", "std::fs", "std::net"];
    let mut offenders = Vec::new();
    for dir in ["parse", "flow", "rules"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.file_name().is_some_and(|n| n == "sans_io_test.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for b in banned {
                    if text.contains(b) {
                        offenders.push(format!("{}: {b}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "I/O in sans-io modules: {offenders:?}"
    );
}
