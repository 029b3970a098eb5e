//! A Reactor user starts children through `Reactor::spawn`: limits, a
//! terminal, captured stderr and cgroup placement without a Runner.

mod util;

use procloop::{Error, Limit, Reactor, Spawn, Stderr};
use util::{Seen, data_of, poll_until};

#[test]
fn cat_with_a_limit_and_a_pty_echoes_and_then_exits() {
    util::init();
    let mut reactor = Reactor::new().unwrap();
    // The limit shows in the child: its shell prints what it got.
    let spawn = Spawn::new("sh").arg("-c").arg("ulimit -n; exec cat").limit(Limit::OpenFiles(77)).pty(true);
    let started = reactor.spawn(spawn).unwrap();
    assert_eq!(started.stderr, None, "a terminal takes stderr too");
    // The limit shows first; written before it, the terminal's echo could come first.
    let seen = poll_until(&mut reactor, |seen| data_of(seen, started.channel).ends_with(b"\r\n"));
    let out = String::from_utf8_lossy(&data_of(&seen, started.channel)).into_owned();
    assert_eq!(out, "77\r\n", "the limit was not set");
    reactor.channel(started.channel).unwrap().write(b"ping\n").unwrap();
    // The terminal echoes it, and then cat does.
    poll_until(&mut reactor, |seen| {
        let out = data_of(seen, started.channel);
        out.windows(6).filter(|w| w == b"ping\r\n").count() >= 2
    });
    // End of input on the terminal: cat ends, and its exit comes.
    reactor.channel(started.channel).unwrap().write(b"\x04").unwrap();
    let seen = poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    assert!(seen.contains(&Seen::Exited(started.process, 0)), "{seen:?}");
}

#[test]
fn captured_stderr_comes_on_its_own_token_before_the_exit() {
    util::init();
    let mut reactor = Reactor::new().unwrap();
    let spawn = Spawn::new("sh").arg("-c").arg("echo out; echo err >&2; exit 3").stderr(Stderr::Capture);
    let started = reactor.spawn(spawn).unwrap();
    let stderr = started.stderr.expect("a stderr token");
    let seen = poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    assert_eq!(data_of(&seen, started.channel), b"out\n");
    assert_eq!(data_of(&seen, stderr), b"err\n");
    assert_eq!(seen.last(), Some(&Seen::Exited(started.process, 3)));
}

#[test]
fn a_missing_command_is_an_error_naming_it_and_registers_nothing() {
    let mut reactor = Reactor::new().unwrap();
    match reactor.spawn(Spawn::new("/no/such/program")) {
        Err(Error::Spawn { command, .. }) => assert_eq!(command, "/no/such/program"),
        other => panic!("{other:?}"),
    }
    assert!(reactor.is_empty());
}

#[test]
fn a_tree_limit_is_refused_not_dropped() {
    let mut reactor = Reactor::new().unwrap();
    match reactor.spawn(Spawn::new("true").limit(Limit::Tasks(5))) {
        Err(Error::LimitUnsupported { limit, .. }) => assert_eq!(limit, Limit::Tasks(5)),
        other => panic!("{other:?}"),
    }
    assert!(reactor.is_empty());
}

#[test]
fn a_missing_cgroup_is_an_error_naming_it() {
    let mut reactor = Reactor::new().unwrap();
    match reactor.spawn(Spawn::new("true").cgroup("/no/such/cgroup")) {
        Err(Error::CgroupsUnavailable(why)) => assert!(why.contains("/no/such/cgroup"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(reactor.is_empty());
}

#[test]
fn a_cgroup_takes_the_child_before_its_program_runs() {
    let root = std::path::Path::new("/sys/fs/cgroup/unified");
    if !root.join("cgroup.procs").exists() {
        eprintln!("no cgroup v2 here: skipped");
        return;
    }
    let leaf = root.join(format!("procloop-reactor-spawn-{}", std::process::id()));
    std::fs::create_dir(&leaf).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let started = reactor.spawn(Spawn::new("cat").arg("/proc/self/cgroup").cgroup(&leaf)).unwrap();
    let seen = poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    let out = String::from_utf8_lossy(&data_of(&seen, started.channel)).into_owned();
    std::fs::remove_dir(&leaf).unwrap();
    let name = leaf.file_name().unwrap().to_str().unwrap();
    assert!(out.lines().any(|l| l.starts_with("0::") && l.ends_with(name)), "{out}");
}

/// A contained start, or `None` (and why, on stderr) where this machine
/// gives no cgroup.
fn contained(reactor: &mut Reactor, spawn: Spawn) -> Option<procloop::Spawned> {
    match reactor.spawn(spawn.contained(true)) {
        Ok(started) => Some(started),
        Err(Error::CgroupsUnavailable(why)) => {
            eprintln!("skipped: no cgroup here: {why}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The cgroup v2 path of `pid`, from its `0::` line.
fn cgroup_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("0::")).map(str::to_string)
}

/// The cgroup v2 mount's directory of a cgroup path.
fn cgroup_dir(path: &str) -> std::path::PathBuf {
    std::path::Path::new("/sys/fs/cgroup/unified").join(path.trim_start_matches('/'))
}

#[test]
fn a_reactor_user_starts_a_contained_child_with_a_limit_and_its_tree_dies_with_it() {
    util::init();
    let mut reactor = Reactor::new().unwrap();
    // A grandchild that leaves the child's session, then the child waits for a line.
    let script = "setsid sleep 1000 & echo $!; ulimit -n; read line";
    let spawn = Spawn::new("sh").arg("-c").arg(script).limit(Limit::OpenFiles(66));
    let Some(started) = contained(&mut reactor, spawn) else { return };
    let seen = poll_until(&mut reactor, |seen| data_of(seen, started.channel).ends_with(b"66\n"));
    let out = String::from_utf8_lossy(&data_of(&seen, started.channel)).into_owned();
    let grandchild: u32 = out.lines().next().unwrap().parse().unwrap();
    let pid = reactor.process(started.process).unwrap().pid();
    let leaf = cgroup_of(pid).unwrap();
    assert!(leaf.contains(&format!("/procloop-{}-spawn-", std::process::id())), "{leaf}");
    assert_eq!(cgroup_of(grandchild), Some(leaf.clone()), "the setsid grandchild is in the leaf too");
    let usage = reactor.process(started.process).unwrap().tree_usage().unwrap();
    assert!(usage.tasks >= 2, "{usage:?}");
    reactor.channel(started.channel).unwrap().write(b"go\n").unwrap();
    poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    util::wait_for("the grandchild to be killed", || matches!(util::pid_state(grandchild), None | Some('Z')));
    let process = reactor.remove_process(started.process).unwrap();
    assert!(process.tree_usage().unwrap().cpu_time() > std::time::Duration::ZERO);
    drop(process);
    let dir = cgroup_dir(&leaf);
    assert!(!dir.exists(), "{} removed with its Process", dir.display());
}

#[test]
fn an_empty_contained_leaf_goes_at_the_exit_and_its_usage_stays() {
    util::init();
    let mut reactor = Reactor::new().unwrap();
    let Some(started) = contained(&mut reactor, Spawn::new("cat").arg("/proc/self/cgroup")) else { return };
    let seen = poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    let out = String::from_utf8_lossy(&data_of(&seen, started.channel)).into_owned();
    let leaf = out.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or_else(|| panic!("{out:?}"));
    assert!(!cgroup_dir(leaf).exists(), "{leaf} removed at the exit");
    // The ended process, handed back until the next poll.
    let usage = reactor.remove_process(started.process).unwrap().tree_usage().unwrap();
    assert_eq!(usage.tasks, 0);
    assert!(usage.cpu_time() > std::time::Duration::ZERO, "{usage:?}");
}

#[test]
fn a_contained_child_dropped_while_running_takes_its_tree_and_leaf_along() {
    util::init();
    let mut reactor = Reactor::new().unwrap();
    let spawn = Spawn::new("sh").arg("-c").arg("setsid sleep 1000 & echo $!; exec sleep 1000");
    let Some(started) = contained(&mut reactor, spawn) else { return };
    let seen = poll_until(&mut reactor, |seen| data_of(seen, started.channel).ends_with(b"\n"));
    let grandchild: u32 = String::from_utf8_lossy(&data_of(&seen, started.channel)).trim().parse().unwrap();
    let process = reactor.remove_process(started.process).unwrap();
    let (pid, dir) = (process.pid(), cgroup_dir(&cgroup_of(process.pid()).unwrap()));
    drop(process);
    assert!(util::pid_state(pid).is_none(), "the child is killed and reaped");
    assert!(matches!(util::pid_state(grandchild), None | Some('Z')), "the grandchild is killed");
    assert!(!dir.exists(), "{} removed", dir.display());
}

#[test]
fn a_contained_tree_limit_is_set_or_names_its_missing_controller() {
    // Alone in a process of its own: no other test's leaf is there to count.
    if !util::in_own_process_with("a_contained_tree_limit_is_set_or_names_its_missing_controller", &[]) {
        return;
    }
    util::init();
    let mut reactor = Reactor::new().unwrap();
    match reactor.spawn(Spawn::new("cat").arg("/proc/self/cgroup").limit(Limit::Tasks(5)).contained(true)) {
        Ok(started) => {
            // The pids controller is on here: the limit is in the leaf.
            let pid = reactor.process(started.process).unwrap().pid();
            let dir = cgroup_dir(&cgroup_of(pid).unwrap());
            assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap().trim(), "5");
        }
        Err(Error::LimitUnsupported { limit, missing }) => {
            assert_eq!(limit, Limit::Tasks(5));
            assert!(missing.contains("\"pids\""), "{missing}");
        }
        Err(Error::CgroupsUnavailable(why)) => eprintln!("skipped: no cgroup here: {why}"),
        Err(e) => panic!("{e}"),
    }
    assert!(leaves_of_this_process().is_empty(), "no leaf is left by a refused start");
}

/// The `procloop-<our pid>-spawn-*` leaves in this process's cgroup.
fn leaves_of_this_process() -> Vec<std::path::PathBuf> {
    let Some(own) = cgroup_of(std::process::id()) else { return Vec::new() };
    let prefix = format!("procloop-{}-spawn-", std::process::id());
    let Ok(entries) = std::fs::read_dir(cgroup_dir(&own)) else { return Vec::new() };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
        .collect()
}
