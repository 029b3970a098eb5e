//! A Runner's own cgroup directory, below this process's cgroup: made with
//! a name no other Runner uses, the controllers it may hand its leaves
//! turned on, one leaf per child below it, empty ones kept for the next
//! starts (as many as were in use at once, up to 64); removed, leaves
//! first, on drop. What the Runners of a process that is gone left (its
//! drop never ran) is removed when the next one is made.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::cgroup::{self, Leaf};
use super::hierarchy;
use crate::reactor::timers::deadline_after;

/// The controllers a tree limit needs, as the kernel spells them.
const WANTED: [&str; 3] = ["memory", "pids", "cpu"];

/// The most empty leaves a Runner keeps for its next starts (each saves a
/// start the `mkdir` and the `rmdir` of its leaf, and holds three fds): no
/// more than it had in use at once, so that a wave of starts after a wave
/// of ends makes none.
const SPARE_LEAVES: usize = 64;

/// How long the processes of killed leaves may take to go before their
/// directories are left behind (they are stuck in the kernel).
pub(crate) const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// A Runner's cgroup directory.
#[derive(Debug)]
pub(crate) struct RunnerCgroup {
    dir: PathBuf,
    /// The controllers on for its leaves.
    controllers: Vec<&'static str>,
    /// Numbers the leaves.
    leaves: u64,
    /// Killed leaves not removed yet: busy when last tried.
    retired: Vec<Leaf>,
    /// Empty leaves kept for the next starts that set no tree limit.
    spare: Vec<Leaf>,
    /// Leaves handed out and not given back yet, and the most at once.
    in_use: usize,
    peak: usize,
    /// The process that made it: a forked copy must not remove it.
    owner_pid: u32,
}

impl RunnerCgroup {
    /// Makes `procloop-<pid>-<n>` below this process's cgroup; else why not.
    pub(crate) fn create() -> Result<RunnerCgroup, String> {
        let parent = hierarchy::own_cgroup()?;
        remove_stale(&parent);
        let dir = make_dir(&parent)?;
        let controllers = enable_controllers(&parent, &dir);
        log::debug!("cgroup {} with controllers {controllers:?}", dir.display());
        Ok(RunnerCgroup {
            dir,
            controllers,
            leaves: 0,
            retired: Vec::new(),
            spare: Vec::new(),
            in_use: 0,
            peak: 0,
            owner_pid: crate::sys::process_id(),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether its leaves have `controller`.
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.contains(&controller)
    }

    /// An empty leaf for one child: with `reusable` (no tree limit to set
    /// in it), a spare one if there is one, else a new one.
    pub(crate) fn leaf(&mut self, reusable: bool) -> std::io::Result<Leaf> {
        let leaf = self.take_leaf(reusable)?;
        self.in_use += 1;
        self.peak = self.peak.max(self.in_use);
        Ok(leaf)
    }

    fn take_leaf(&mut self, reusable: bool) -> std::io::Result<Leaf> {
        self.remove_retired(None);
        let reusable = reusable && !self.has("memory");
        while reusable && let Some(mut leaf) = self.spare.pop() {
            match leaf.reuse() {
                Ok(()) => return Ok(leaf),
                Err(e) => {
                    log::debug!("not reusing cgroup {}: {e}", leaf.dir().display());
                    self.retired.push(leaf);
                }
            }
        }
        self.leaves += 1;
        let dir = self.dir.join(format!("child-{}", self.leaves));
        let mut leaf = Leaf::create(dir.clone()).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot make cgroup {}: {e}", dir.display()))
        })?;
        leaf.set_reusable(reusable);
        Ok(leaf)
    }

    /// Takes `leaf` back: kept as a spare if it can serve again and there
    /// is room; else handed back.
    fn keep_spare(&mut self, leaf: Leaf) -> Option<Leaf> {
        self.in_use = self.in_use.saturating_sub(1);
        if leaf.can_serve_again() && self.spare.len() < self.peak.min(SPARE_LEAVES) {
            self.spare.push(leaf);
            return None;
        }
        Some(leaf)
    }

    /// Kills a leaf's tree and removes the leaf, waiting (bounded) until
    /// it is empty; one that cannot go yet is kept for a later try.
    pub(crate) fn remove_leaf(&mut self, leaf: Leaf) {
        self.remove_leaves(vec![leaf]);
    }

    /// [`remove_leaf`](Self::remove_leaf) for many, killed all at once
    /// and waited for with one shared deadline.
    pub(crate) fn remove_leaves(&mut self, leaves: Vec<Leaf>) {
        let mut leaves: Vec<Leaf> = leaves.into_iter().filter_map(|leaf| self.keep_spare(leaf)).collect();
        leaves.retain(|leaf| !leaf.is_removed());
        for leaf in &mut leaves {
            if let Err(e) = leaf.kill() {
                log::warn!("killing the tree in {}: {e}", leaf.dir().display());
            }
        }
        self.retired.extend(leaves);
        self.remove_retired(Some(deadline_after(EMPTY_WAIT)));
    }

    /// Kills a leaf's tree and removes it without waiting; if it is not
    /// empty yet, a later call removes it.
    pub(crate) fn retire(&mut self, leaf: Leaf) {
        let Some(mut leaf) = self.keep_spare(leaf).filter(|leaf| !leaf.is_removed()) else { return };
        if let Err(e) = leaf.kill() {
            log::warn!("killing the tree in {}: {e}", leaf.dir().display());
        }
        self.retired.push(leaf);
        self.remove_retired(None);
    }

    /// Removes the retired leaves that are empty; with a deadline, waits
    /// for the others up to it (and logs those left behind).
    fn remove_retired(&mut self, deadline: Option<Instant>) {
        self.retired.retain(|leaf| match deadline {
            None => fs::remove_dir(leaf.dir()).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound),
            Some(deadline) => match leaf.remove(deadline) {
                Ok(()) => false,
                Err(e) => {
                    log::error!("cannot remove cgroup {}: {e}", leaf.dir().display());
                    true
                }
            },
        });
    }
}

impl Drop for RunnerCgroup {
    fn drop(&mut self) {
        if crate::sys::process_id() != self.owner_pid {
            return; // a forked copy: the directory is its parent's
        }
        self.retired.append(&mut self.spare);
        self.remove_retired(Some(deadline_after(EMPTY_WAIT)));
        if let Err(e) = fs::remove_dir(&self.dir) {
            log::error!("cannot remove cgroup {}: {e}", self.dir.display());
        }
    }
}

/// Makes `procloop-<pid>-<n>` in `parent`, with an `n` no Runner of this
/// process used; a name left by an earlier process of the same pid is
/// skipped (a hundred at most).
fn make_dir(parent: &Path) -> Result<PathBuf, String> {
    static RUNNERS: AtomicU64 = AtomicU64::new(0);
    for _ in 0..100 {
        let name =
            format!("procloop-{}-{}", crate::sys::process_id(), RUNNERS.fetch_add(1, Ordering::Relaxed));
        let dir = parent.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot make cgroup {}: {e}", dir.display())),
        }
    }
    Err(format!("cannot make a cgroup in {}: a hundred procloop names are taken", parent.display()))
}

/// Removes the empty cgroups that procloop made in `parent` for a process
/// that is gone: a host killed before its Runners were dropped. One with
/// a process still in it cannot be removed and stays. (A process of
/// another PID namespace in the same cgroup would look gone: its idle
/// Runner would lose its directory, and its next start fail clearly.)
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(maker_pid) else { continue };
        if pid == crate::sys::process_id() || !gone(pid) {
            continue;
        }
        cgroup::remove_below(&entry.path());
        match fs::remove_dir(entry.path()) {
            Ok(()) => {
                log::info!("removed cgroup {}, left by pid {pid}, which is gone", entry.path().display())
            }
            Err(e) => log::debug!("not removing cgroup {} of pid {pid}: {e}", entry.path().display()),
        }
    }
}

/// The pid in a name procloop gives its cgroups: `procloop-<pid>-...`.
fn maker_pid(name: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix("procloop-")?.split_once('-')?;
    pid.parse().ok().filter(|pid| (1..=i32::MAX as u32).contains(pid))
}

/// Whether no process has the id `pid` (asked of the kernel: /proc may
/// hide other users' processes).
fn gone(pid: u32) -> bool {
    crate::sys::kill(pid, 0).is_err_and(|e| e.raw_os_error() == Some(nix::libc::ESRCH))
}

/// Turns on, for the leaves below `dir`, what it may have of the wanted
/// controllers: first in `parent` (which fails, harmlessly, where `parent`
/// holds processes and is not the root), then in `dir` itself, which holds
/// no process (its children live in leaves). The ones that are on.
fn enable_controllers(parent: &Path, dir: &Path) -> Vec<&'static str> {
    let listed = |path: PathBuf| fs::read_to_string(path).unwrap_or_default();
    let in_parent = listed(parent.join("cgroup.controllers"));
    let parent_on = listed(parent.join("cgroup.subtree_control"));
    for controller in WANTED {
        if has_word(&in_parent, controller) && !has_word(&parent_on, controller) {
            let turned = fs::write(parent.join("cgroup.subtree_control"), format!("+{controller}"));
            if let Err(e) = turned {
                log::debug!("cannot turn on {controller} in {}: {e}", parent.display());
            }
        }
    }
    let available = listed(dir.join("cgroup.controllers"));
    WANTED
        .into_iter()
        .filter(|c| has_word(&available, c))
        .filter(|c| match fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
            Ok(()) => true,
            Err(e) => {
                log::warn!("cannot turn on the {c} controller in {}: {e}", dir.display());
                false
            }
        })
        .collect()
}

fn has_word(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maker_pid_is_read_from_procloops_names_only() {
        assert_eq!(maker_pid("procloop-123-0"), Some(123));
        assert_eq!(maker_pid("procloop-123-spawn-4"), Some(123));
        assert_eq!(maker_pid("procloop-abc-0"), None);
        assert_eq!(maker_pid("procloop-123"), None);
        assert_eq!(maker_pid("procloop-0-1"), None);
        assert_eq!(maker_pid("procloop-4294967295-1"), None, "not a pid kill(2) takes as one");
        assert_eq!(maker_pid("other-123-0"), None);
    }
}
