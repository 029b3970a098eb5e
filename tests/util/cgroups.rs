//! Helpers of the containment tests: a Runner with a cgroup where this
//! machine gives one, its folders, and a run of one test where no cgroup
//! can be made (a read-only cgroup2 mount in a mount namespace of its own).

use std::path::{Path, PathBuf};

use procloop::{Cgroups, Containment, Runner};

use super::init;

/// Whether this process runs as root.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// A Runner with a cgroup, or `None` (and why, on stderr) where this
/// machine cannot give one: not root, or no writable cgroup2 subtree.
pub fn cgroups_here() -> Option<Runner> {
    init();
    if !is_root() {
        eprintln!("skipped: cgroup containment is tested as root only");
        return None;
    }
    match Runner::with_cgroups(Cgroups::Required) {
        Ok(runner) => Some(runner),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// The Runner's own cgroup folder.
pub fn cgroup_dir(runner: &Runner) -> PathBuf {
    match runner.containment() {
        Containment::Cgroup { path } => path,
        other => panic!("no cgroup: {other:?}"),
    }
}

/// The leaf directories below a Runner's cgroup.
pub fn leaves(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap().flatten();
    entries.filter(|e| e.file_type().unwrap().is_dir()).map(|e| e.path()).collect()
}

/// Runs the test `name` in a fresh process of this binary, in a mount
/// namespace of its own where the cgroup2 mount is read-only: no cgroup
/// can be made there. True in that process; false in this one, once that
/// run passed (or, saying why, where it cannot be made: no cgroup2 mount,
/// not root, no mount namespace).
pub fn in_read_only_cgroups(name: &str) -> bool {
    const KEY: &str = "PROCLOOP_READ_ONLY_CGROUPS";
    if std::env::var(KEY).is_ok() {
        return true;
    }
    init();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = info.lines().find(|l| l.contains(" - cgroup2 ")).and_then(|l| l.split(' ').nth(4));
    let (Some(mount), true) = (mount, is_root()) else {
        eprintln!("skipped: no cgroup2 mount, or not root");
        return false;
    };
    let output = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -o remount,bind,ro \"$0\" && exec \"$@\"", mount])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(KEY, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() && !stdout.contains("running 1 test") {
        eprintln!("skipped: no mount namespace here: {}", String::from_utf8_lossy(&output.stderr));
        return false;
    }
    assert!(stdout.contains("1 passed"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    false
}
