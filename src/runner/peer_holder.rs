//! Whether the app holds its socket when the process that listened on it
//! is gone: a server that listens, then daemonizes (the listening process
//! forks and exits, and its child serves on the same socket).

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether a living process that `owns` picks holds, among its fds, the
/// listening socket bound at `path`. A socket's bound name is matched by
/// the file it names (device and inode), a relative name under the
/// holder's working directory.
pub(crate) fn held_by(path: &Path, owns: impl Fn(u32) -> bool) -> bool {
    let Ok(wanted) = fs::metadata(path) else { return false };
    let wanted = (wanted.dev(), wanted.ino());
    let listening = listening_sockets();
    if listening.is_empty() {
        return false;
    }
    let Ok(procs) = fs::read_dir("/proc") else { return false };
    let pids = procs.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|pid| owns(*pid)).any(|pid| holds(pid, &listening, wanted))
}

/// Whether `pid` has an fd on a listening socket whose name is the file
/// `wanted`.
fn holds(pid: u32, listening: &HashMap<u64, PathBuf>, wanted: (u64, u64)) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().any(|fd| {
        let Some(name) = fs::read_link(fd.path()).ok().and_then(|link| socket_inode(&link)) else {
            return false;
        };
        let Some(bound) = listening.get(&name) else { return false };
        let bound = PathBuf::from(format!("/proc/{pid}/cwd")).join(bound);
        fs::metadata(bound).is_ok_and(|m| (m.dev(), m.ino()) == wanted)
    })
}

/// The inode of an fd link `socket:[N]`.
fn socket_inode(link: &Path) -> Option<u64> {
    link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The listening UNIX sockets bound to a path: inode to bound name.
fn listening_sockets() -> HashMap<u64, PathBuf> {
    fs::read_to_string("/proc/net/unix").map_or_else(|_| HashMap::new(), |table| parse_unix_table(&table))
}

/// Parses `/proc/net/unix`: "Num RefCount Protocol Flags Type St Inode
/// Path"; a listening socket has the `__SO_ACCEPTCON` flag (0x10000).
fn parse_unix_table(table: &str) -> HashMap<u64, PathBuf> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let inode = fields.get(6)?.parse().ok()?;
            let name = fields.get(7)?;
            (flags & 0x10000 != 0 && !name.starts_with('@')).then(|| (inode, PathBuf::from(name)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn parses_listening_named_sockets_only() {
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                     0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/a.sock\n\
                     0000000000000000: 00000003 00000000 00000000 0001 03 222 /run/b.sock\n\
                     0000000000000000: 00000002 00000000 00010000 0001 01 333 @abstract\n\
                     0000000000000000: 00000003 00000000 00000000 0001 03   264\n";
        let parsed = parse_unix_table(table);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[&12345], PathBuf::from("/run/a.sock"));
    }

    #[test]
    fn finds_a_listener_this_process_holds() {
        let path = std::env::temp_dir().join(format!("procloop-held-{}", std::process::id()));
        let _ = fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let me = std::process::id();
        assert!(held_by(&path, |pid| pid == me));
        assert!(!held_by(&path, |_| false));
        drop(listener);
        assert!(!held_by(&path, |pid| pid == me), "no longer listening");
        fs::remove_file(&path).unwrap();
    }
}
