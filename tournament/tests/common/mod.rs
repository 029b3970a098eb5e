//! What the tournament's tests share: the example's binary, the engines
//! (stockfish where installed, the fake one), and reading a PGN's tags.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a run may take before a test counts it as a hang.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn example() -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join("examples").join("tournament")
}

pub fn stockfish() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/games")])
        .map(|dir| dir.join("stockfish"))
        .find(|p| p.is_file())
}

/// The fake engine's command line in `mode`.
pub fn fake(mode: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_uci.sh");
    format!("sh {} {mode}", script.display())
}

/// A file in the temporary folder for this test process and `name`.
pub fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("procloop-tournament-{}-{name}", std::process::id()))
}

/// Each game's tag `name`, in order.
pub fn tags<'a>(pgn: &'a str, name: &str) -> Vec<&'a str> {
    let start = format!("[{name} \"");
    pgn.lines().filter_map(|l| l.strip_prefix(start.as_str())?.strip_suffix("\"]")).collect()
}
