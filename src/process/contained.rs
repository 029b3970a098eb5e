//! A cgroup leaf of its own for a child started without a Runner
//! ([`Spawn::contained`](crate::Spawn::contained)): made below this
//! process's cgroup v2 (or a cgroup the user names), its tree limits set
//! there; its [`Process`](crate::Process) holds it from then on.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::cgroup::Leaf;
use super::hierarchy;
use super::limit::Limit;
use super::tree;
use crate::error::{Error, Result};

/// A new leaf below `parent` (default: this process's cgroup) with the
/// tree `limits` set; on any failure, no leaf is left.
pub(crate) fn leaf(parent: Option<&Path>, limits: &[Limit]) -> Result<Leaf> {
    for limit in limits {
        tree::check_value(limit)?;
    }
    let leaf = match parent {
        Some(dir) => {
            hierarchy::check_v2(dir).map_err(Error::CgroupsUnavailable)?;
            make(dir)?
        }
        None => make(own_cgroup()?)?,
    };
    if let Err(e) = set_limits(&leaf, limits) {
        leaf.discard();
        return Err(e);
    }
    Ok(leaf)
}

/// This process's cgroup v2 directory, looked up once.
fn own_cgroup() -> Result<&'static Path> {
    static OWN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    match OWN.get_or_init(hierarchy::own_cgroup) {
        Ok(dir) => Ok(dir),
        Err(why) => Err(Error::CgroupsUnavailable(why.clone())),
    }
}

/// Makes `procloop-<pid>-spawn-<n>` in `parent`, with an `n` not used yet
/// (a name left by an earlier process of the same pid is skipped).
fn make(parent: &Path) -> Result<Leaf> {
    static LEAVES: AtomicU64 = AtomicU64::new(0);
    for _ in 0..100 {
        let n = LEAVES.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("procloop-{}-spawn-{n}", crate::sys::process_id()));
        match Leaf::create(dir.clone()) {
            Ok(leaf) => return Ok(leaf),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::CgroupsUnavailable(format!("cannot make cgroup {}: {e}", dir.display())));
            }
        }
    }
    Err(Error::CgroupsUnavailable(format!(
        "cannot make a cgroup in {}: a hundred names are taken",
        parent.display()
    )))
}

/// Sets each tree limit in the leaf, or names the controller it lacks.
fn set_limits(leaf: &Leaf, limits: &[Limit]) -> Result<()> {
    let available = fs::read_to_string(leaf.dir().join("cgroup.controllers")).unwrap_or_default();
    for limit in limits {
        let controller = limit.controller().unwrap_or_default();
        if !available.split_whitespace().any(|c| c == controller) {
            let missing = format!(
                "the cgroup v2 controller \"{controller}\", which {} does not have (its parent does not hand it on)",
                leaf.dir().display()
            );
            return Err(Error::LimitUnsupported { limit: *limit, missing });
        }
        if let Err(e) = tree::set_limit(leaf.dir(), limit) {
            let why = format!("cannot set limit {limit} in cgroup {}: {e}", leaf.dir().display());
            return Err(Error::Io(io::Error::new(e.kind(), why)));
        }
    }
    Ok(())
}
