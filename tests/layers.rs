//! The layers of the source (issue 19): `src/process/` (starting and
//! holding children) and `src/sys/` (the syscalls) under the Runner, never
//! the other way round. A start reaches the process layer as its own
//! `Command`, which the Runner makes from an `App` and a `Start`.

use std::fs;
use std::path::{Path, PathBuf};

/// The `.rs` files below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_process_and_sys_layers_use_nothing_of_the_runner() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses = Vec::new();
    for layer in ["process", "sys"] {
        let files = sources(&root.join(layer));
        assert!(!files.is_empty(), "no sources in src/{layer}");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| l.contains("runner::")) {
                uses.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(uses.is_empty(), "the lower layers use the Runner's module:\n{}", uses.join("\n"));
}
