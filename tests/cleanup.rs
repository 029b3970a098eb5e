//! Nothing is left behind: bad input gets a typed error naming the culprit
//! and leaves no child and no fd; drop and terminate reap everything.
//!
//! Every test takes one lock: children and fds are counted process-wide.

mod util;

use std::sync::{Mutex, MutexGuard};

use procloop::testing::open_fds;
use procloop::{App, Error, Runner, Start};
use util::*;

static COUNTED: Mutex<()> = Mutex::new(());

fn counted() -> MutexGuard<'static, ()> {
    init();
    COUNTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `bad` on a runner and checks it fails as `expected` says, with a
/// message naming `culprit`, leaving no child and no fd behind.
fn assert_clean_failure(
    runner: &mut Runner,
    culprit: &str,
    bad: impl FnOnce(&mut Runner) -> procloop::Result<u32>,
    expected: impl FnOnce(&Error) -> bool,
) {
    let fds = open_fds();
    let children = child_pids();
    let err = bad(runner).expect_err("bad input must fail");
    assert!(expected(&err), "wrong error: {err:?}");
    let message = err.to_string();
    assert!(message.contains(culprit), "{message:?} does not name {culprit:?}");
    assert_eq!(child_pids(), children, "a child was left behind after: {message}");
    assert_eq!(open_fds(), fds, "an fd leaked after: {message}");
}

#[test]
fn bad_input_table() {
    let _lock = counted();
    let dir = TempDir::new("bad-input");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"precious data").unwrap();
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, b"#!/bin/sh\n").unwrap();
    let long = dir.path().join("x".repeat(120));

    let mut runner = Runner::new().unwrap();
    runner.add("empty", App::new("   "));
    runner.add("unbalanced", App::new("echo 'oops"));
    runner.add("missing", App::new("procloop-no-such-binary --flag"));
    runner.add("noexec", App::new(not_executable.display().to_string()));
    runner.add("cwd-file", App::new("cat").cwd(&file));
    runner.add("cwd-missing", App::new("cat").cwd(dir.path().join("nowhere")));
    runner.add("sock-folder", App::new("sleep 5").socket(dir.path().join("nowhere/sock")));
    runner.add("sock-file", App::new("sleep 5").socket(&file));
    runner.add("sock-long", App::new("sleep 5").socket(&long));
    runner.add("sock-exits", App::new("sh -c 'exit 7'").socket(dir.path().join("never.sock")));
    runner.add(
        "sock-timeout",
        App::new("sleep 5")
            .socket(dir.path().join("late.sock"))
            .socket_wait(std::time::Duration::from_millis(100)),
    );

    let r = &mut runner;
    assert_clean_failure(r, "nope", |r| r.start("nope"), |e| matches!(e, Error::UnknownApp(_)));
    assert_clean_failure(r, "empty command", |r| r.start("empty"), |e| matches!(e, Error::BadCommand { .. }));
    assert_clean_failure(
        r,
        "unterminated single quote",
        |r| r.start("unbalanced"),
        |e| matches!(e, Error::BadCommand { .. }),
    );
    assert_clean_failure(
        r,
        "procloop-no-such-binary",
        |r| r.start("missing"),
        |e| matches!(e, Error::Spawn { .. }),
    );
    assert_clean_failure(r, "not-executable", |r| r.start("noexec"), |e| matches!(e, Error::Spawn { .. }));
    assert_clean_failure(r, "plain-file", |r| r.start("cwd-file"), |e| matches!(e, Error::Spawn { .. }));
    assert_clean_failure(r, "nowhere", |r| r.start("cwd-missing"), |e| matches!(e, Error::Spawn { .. }));
    assert_clean_failure(
        r,
        "folder does not exist",
        |r| r.start("sock-folder"),
        |e| matches!(e, Error::InvalidSocketPath { .. }),
    );
    assert_clean_failure(
        r,
        "plain-file",
        |r| r.start("sock-file"),
        |e| matches!(e, Error::SocketPathTaken { .. }),
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"precious data", "a file holding data is left alone");
    assert_clean_failure(
        r,
        "longer than",
        |r| r.start("sock-long"),
        |e| matches!(e, Error::InvalidSocketPath { .. }),
    );
    assert_clean_failure(
        r,
        "exit status: 7",
        |r| r.start("sock-exits"),
        |e| matches!(e, Error::SocketAppExited { status, .. } if status.code() == Some(7)),
    );
    assert_clean_failure(
        r,
        "late.sock",
        |r| r.start("sock-timeout"),
        |e| matches!(e, Error::SocketTimeout { .. }),
    );

    // A taken alias, then a terminated one.
    runner.add("cat", App::new("cat"));
    runner.start("cat").unwrap();
    assert_clean_failure(&mut runner, "cat", |r| r.start("cat"), |e| matches!(e, Error::ProcessExists(_)));
    runner.terminate("cat").unwrap();
    let err = runner.terminate("cat").unwrap_err();
    assert!(matches!(&err, Error::NoSuchProcess(a) if a == "cat"), "{err:?}");
    assert!(runner.get_channel("cat").is_none());
    assert!(child_pids().is_empty());
}

#[test]
fn stale_socket_and_empty_file_are_replaced() {
    let _lock = counted();
    let dir = TempDir::new("stale");
    for (name, make_stale) in [("stale.sock", true), ("empty.sock", false)] {
        let path = dir.path().join(name);
        if make_stale {
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        } else {
            std::fs::write(&path, b"").unwrap();
        }
        let app = App::new(format!("socat SYSTEM:cat UNIX-LISTEN:{}", path.display())).socket(&path);
        let mut runner = Runner::new().unwrap();
        runner.add("socat", app);
        runner.start("socat").unwrap();
        let channel = runner.get_channel("socat").unwrap();
        channel.write(b"replaced").unwrap();
        assert_eq!(read_exactly(channel, 8), b"replaced");
    }
    wait_for("socat children to be reaped", || child_pids().is_empty());
}

#[test]
fn drop_ends_and_reaps_fifty_children() {
    let _lock = counted();
    let fds = open_fds();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat"));
    runner.add("sleeper", App::new("sleep 1000").setpgrp(true));
    let mut pids = Vec::new();
    for i in 0..50 {
        let app = if i % 2 == 0 { "cat" } else { "sleeper" };
        pids.push(runner.start_with(app, Start::new().alias(format!("{app}-{i}"))).unwrap());
    }
    assert_eq!(child_pids().len(), 50);
    drop(runner);
    assert!(child_pids().is_empty(), "none alive and none unreaped");
    for pid in pids {
        assert!(!pid_exists(pid), "pid {pid} survived");
    }
    assert_eq!(open_fds(), fds);
}

#[test]
fn two_hundred_start_terminate_cycles_leak_nothing() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat"));
    runner.add("err", App::new("cat").stderr(procloop::Stderr::Capture));
    // Warm up lazily created fds (the waker, say) before counting.
    runner.start("cat").unwrap();
    runner.terminate("cat").unwrap();
    let fds = open_fds();
    for i in 0..200 {
        let app = if i % 2 == 0 { "cat" } else { "err" };
        runner.start(app).unwrap();
        runner.get_channel(app).unwrap().write(b"x").unwrap();
        runner.terminate(app).unwrap();
    }
    assert_eq!(open_fds(), fds);
    assert!(child_pids().is_empty());
}

#[test]
fn terminate_of_a_setpgrp_app_ends_its_whole_group() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    // The shell's child `sleep` is in the group too; it must go as well.
    runner.add("group", App::new("sh -c 'sleep 1000 & echo $!; wait'").setpgrp(true));
    runner.start("group").unwrap();
    let line = read_some(runner.get_channel("group").unwrap()).unwrap();
    let grandchild: u32 = String::from_utf8(line).unwrap().trim().parse().unwrap();
    assert!(pid_exists(grandchild));
    runner.terminate("group").unwrap();
    wait_for("the grandchild to end", || !pid_exists(grandchild) || pid_state(grandchild) == Some('Z'));
}

#[test]
fn terminate_ends_the_group_of_a_setpgrp_app_whose_leader_already_exited() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    runner.add("leader", App::new("sh -c 'sleep 1000 & echo $!'").setpgrp(true));
    let pid = runner.start("leader").unwrap();
    let line = read_some(runner.get_channel("leader").unwrap()).unwrap();
    let member: u32 = String::from_utf8(line).unwrap().trim().parse().unwrap();
    wait_for("the leader to exit", || pid_state(pid) == Some('Z'));
    assert!(pid_exists(member));
    assert!(runner.terminate("leader").unwrap().success());
    wait_for("the rest of the group to end", || !pid_exists(member) || pid_state(member) == Some('Z'));
}
