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
