//! Which process groups still have live members besides their leaders,
//! read from `/proc` in one pass (a signal of 0 to a group cannot tell: the
//! leader's zombie, kept to hold the group's id, always answers).

use std::collections::HashSet;
use std::fs;

/// The groups in which a live process other than the group's leader runs.
/// When `/proc` cannot be read, none: the caller then stops waiting for
/// groups rather than waiting for ever.
pub(crate) fn with_members() -> HashSet<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return HashSet::new() };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()))
        .filter_map(|pid| {
            let group = fs::read(format!("/proc/{pid}/stat")).ok().and_then(|stat| live_group(&stat))?;
            (group != pid).then_some(group)
        })
        .collect()
}

/// The group of a live process, from its `/proc/<pid>/stat` line: the
/// fields after the command (which may hold spaces and parentheses, so the
/// last `)` ends it) are state, parent pid, group. `None` for a zombie.
fn live_group(stat: &[u8]) -> Option<u32> {
    let end = stat.iter().rposition(|b| *b == b')')?;
    let rest = String::from_utf8_lossy(&stat[end + 1..]);
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let group = fields.nth(1)?.parse::<u32>().ok()?;
    (!matches!(state, "Z" | "X")).then_some(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_group_after_an_odd_command_name() {
        assert_eq!(live_group(b"4242 (a) b (c)) S 1 777 777 0 -1 4194560 0"), Some(777));
        assert_eq!(live_group(b"4242 (x) Z 1 777 777 0"), None, "a zombie is gone");
        assert_eq!(live_group(b"garbage"), None);
    }
}
