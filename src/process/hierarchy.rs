//! Finding this process's cgroup v2 directory: the cgroup2 mount from
//! `/proc/self/mountinfo` (pure v2 at /sys/fs/cgroup, or a hybrid mount
//! such as /sys/fs/cgroup/unified) and the cgroup from `/proc/self/cgroup`.

use std::fs;
use std::path::{Path, PathBuf};

/// This process's cgroup v2 directory, if it may make cgroups below it
/// and move its children there; else why not, for a user to act on.
pub(crate) fn own_cgroup() -> Result<PathBuf, String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let cgroups =
        fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let path = v2_path(&cgroups)
        .ok_or("this process is in no cgroup v2 cgroup (/proc/self/cgroup has no 0:: line)")?;
    if outside_namespace(&path) {
        return Err(format!(
            "this process's cgroup {path} is outside its cgroup namespace: no mount here shows it"
        ));
    }
    let dir = locate(&mountinfo, &path).ok_or_else(|| {
        format!("no cgroup2 file system mounted here shows this process's cgroup {path} (see /proc/self/mountinfo)")
    })?;
    usable(&dir)?;
    Ok(dir)
}

/// The cgroup v2 path of the `0::` line of `/proc/self/cgroup`; `None`
/// for none, or a cgroup that was removed.
fn v2_path(cgroups: &str) -> Option<String> {
    let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    (path.starts_with('/') && !path.ends_with(" (deleted)")).then(|| path.to_string())
}

/// Whether a cgroup path is shown relative to a cgroup namespace that
/// does not hold it (`/../x`): joined to a mount point, it would name a
/// directory outside the mount.
fn outside_namespace(path: &str) -> bool {
    path.split('/').any(|part| part == "..")
}

/// The directory of cgroup `path` under the first cgroup2 mount that
/// shows it (a mount's root may be a cgroup below the hierarchy's root).
fn locate(mountinfo: &str, path: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (root, mountpoint) = cgroup2_mount(line)?;
        let below = Path::new(path).strip_prefix(&root).ok()?;
        Some(mountpoint.join(below))
    })
}

/// The root and mount point of a mountinfo line of a cgroup2 file system.
fn cgroup2_mount(line: &str) -> Option<(PathBuf, PathBuf)> {
    let (mount, fs) = line.split_once(" - ")?;
    if fs.split(' ').next()? != "cgroup2" {
        return None;
    }
    let mut fields = mount.split(' ').skip(3);
    let root = unescape(fields.next()?);
    let mountpoint = unescape(fields.next()?);
    Some((PathBuf::from(root), PathBuf::from(mountpoint)))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and the like).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that a directory a user names is a cgroup v2 one: only those
/// have `cgroup.controllers` (a cgroup v1 directory has no `cgroup.kill`
/// nor `cgroup.events`, so a tree there could not be ended).
pub(crate) fn check_v2(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir.join("cgroup.controllers")) {
        Ok(meta) if meta.is_file() => Ok(()),
        _ => Err(format!("{} is not a cgroup v2 directory (it has no cgroup.controllers)", dir.display())),
    }
}

/// Checks that cgroups made below `dir` can hold this process's children:
/// not a threaded cgroup, and its `cgroup.procs` (the common ancestor's,
/// which a move needs) open to writing.
fn usable(dir: &Path) -> Result<(), String> {
    let kind = fs::read_to_string(dir.join("cgroup.type")).unwrap_or_default();
    if kind.trim() == "threaded" || kind.trim() == "domain threaded" {
        return Err(format!("{} is a {} cgroup: its children cannot be domains", dir.display(), kind.trim()));
    }
    let procs = dir.join("cgroup.procs");
    fs::OpenOptions::new().write(true).open(&procs).map(drop).map_err(|e| {
        format!("cannot move processes in {}: {} is not writable ({e})", dir.display(), procs.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn finds_a_hybrid_mount_and_the_v2_line() {
        let path = v2_path("4:memory:/x\n0::/user.slice/a\n").unwrap();
        assert_eq!(path, "/user.slice/a");
        assert_eq!(locate(HYBRID, &path), Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/a")));
    }

    #[test]
    fn a_mount_of_a_subtree_shows_only_what_is_below_its_root() {
        let info = "50 1 0:40 /a/b /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n";
        assert_eq!(locate(info, "/a/b/c"), Some(PathBuf::from("/mnt/cg x/c")));
        assert_eq!(locate(info, "/elsewhere"), None);
    }

    #[test]
    fn a_cgroup_outside_the_namespace_is_told_apart() {
        assert!(outside_namespace("/../sibling/x"));
        assert!(!outside_namespace("/a/b..c/d"));
        assert!(!outside_namespace("/"));
    }

    #[test]
    fn no_cgroup2_mount_or_no_v2_line_is_none() {
        let v1_only = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(locate(v1_only, "/"), None);
        assert_eq!(v2_path("4:memory:/x\n"), None);
        assert_eq!(v2_path("0::/gone (deleted)\n"), None);
    }
}
