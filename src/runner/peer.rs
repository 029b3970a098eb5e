//! Whose socket a socket app's is: the process listening on it must be the
//! app's own process or one of its descendants, not another process that
//! bound the path first (the app's own bind then fails).

use std::fs;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use crate::sys;

/// How many parents up from the listener the app's process is looked for:
/// a server's worker sits a few levels below it, never dozens.
const MAX_DEPTH: usize = 64;

/// The process a socket app's socket must belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    /// It leads its own process group (`setpgrp`): a listener in that group
    /// counts as its own even once its parent is gone.
    pub(crate) group: bool,
}

impl Owner {
    /// `None` if the listener at the other end of the connected `fd` (to
    /// the socket at `path`) is the owner or one of its descendants, else
    /// the listener's pid. A listener that is gone (it forked and exited)
    /// is the owner's if one of the owner's processes holds the socket.
    pub(crate) fn impostor(&self, fd: BorrowedFd<'_>, path: &Path) -> io::Result<Option<u32>> {
        let listener = sys::peer_pid(fd)?;
        if self.owns(listener) {
            return Ok(None);
        }
        let gone = listener != 0 && !Path::new(&format!("/proc/{listener}")).exists();
        let held = gone && super::peer_holder::held_by(path, |pid| pid != listener && self.owns(pid));
        Ok((!held).then_some(listener))
    }

    fn owns(&self, listener: u32) -> bool {
        if listener == 0 {
            return false;
        }
        let mut pid = listener;
        for _ in 0..MAX_DEPTH {
            if pid == self.pid {
                return true;
            }
            let Some((parent, group)) = parent_and_group(pid) else { return false };
            if self.group && group == self.pid {
                return true;
            }
            if parent <= 1 {
                return false;
            }
            pid = parent;
        }
        false
    }
}

/// A process's parent and group, from `/proc/<pid>/stat`.
fn parent_and_group(pid: u32) -> Option<(u32, u32)> {
    parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// The parent and group from a `/proc/<pid>/stat` line: the fields after
/// the command (which may hold spaces and parentheses, so the last `)`
/// ends it) are state, parent pid, group.
fn parse_stat(stat: &[u8]) -> Option<(u32, u32)> {
    let end = stat.iter().rposition(|b| *b == b')')?;
    let rest = String::from_utf8_lossy(&stat[end + 1..]);
    let mut fields = rest.split_ascii_whitespace().skip(1);
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some((parent, group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn parses_parent_and_group_after_an_odd_command_name() {
        assert_eq!(parse_stat(b"4242 (a) b (c)) S 17 777 777 0 -1"), Some((17, 777)));
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn a_listener_is_its_own_and_its_ancestors_not_its_childrens() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let me = std::process::id();
        let own = Owner { pid: me, group: false };
        assert_eq!(own.impostor(ours.as_fd(), Path::new("/nowhere")).unwrap(), None);
        let parent = parent_and_group(me).unwrap().0;
        let above = Owner { pid: parent, group: false };
        assert_eq!(
            above.impostor(ours.as_fd(), Path::new("/nowhere")).unwrap(),
            None,
            "a descendant of the owner"
        );
        let child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let below = Owner { pid: child.id(), group: false };
        let verdict = below.impostor(ours.as_fd(), Path::new("/nowhere"));
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(verdict.unwrap(), Some(me), "the owner's parent is not its own");
    }
}
