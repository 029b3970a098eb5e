//! Whether a process group still has live members besides its leader, read
//! from `/proc` (a signal of 0 to the group cannot tell: the leader's
//! zombie, kept to hold the group's id, always answers).

use std::fs;

/// Whether any live process other than `leader` is in the group `leader`
/// leads. When `/proc` cannot be read, it says no: the caller then stops
/// waiting for the group rather than waiting for ever.
pub(crate) fn has_members(leader: u32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else { return false };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()))
        .filter(|pid| *pid != leader)
        .any(|pid| fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| live_member(&stat, leader)))
}

/// Whether a `/proc/<pid>/stat` line is of a live process in group `pgid`.
/// Its fields after the command (which may hold spaces and parentheses,
/// so the last `)` ends it): state, parent pid, group.
fn live_member(stat: &[u8], pgid: u32) -> bool {
    let Some(end) = stat.iter().rposition(|b| *b == b')') else { return false };
    let rest = String::from_utf8_lossy(&stat[end + 1..]);
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next();
    let group = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
    group == Some(pgid) && !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_group_after_an_odd_command_name() {
        let stat = b"4242 (a) b (c)) S 1 777 777 0 -1 4194560 0";
        assert!(live_member(stat, 777));
        assert!(!live_member(stat, 1));
        assert!(!live_member(b"4242 (x) Z 1 777 777 0", 777), "a zombie is gone");
        assert!(!live_member(b"garbage", 777));
    }
}
