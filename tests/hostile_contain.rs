//! A hostile tester's pass over containment and spawning: bots that try to
//! outlive their stop (stopping themselves, fork loops, forking while being
//! frozen), hosts that run out of fds or pass bad input, and what a Runner
//! leaves behind (processes, cgroup directories, fds). Cgroup tests need
//! root and a writable cgroup2 mount; where there is none they say why
//! and pass without checking.

mod util;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use procloop::testing::open_fds;
use procloop::{App, Cgroups, Containment, Error, Runner};
use std::path::{Path, PathBuf};
use std::time::Duration;
use util::*;

/// Whether a process has ended: gone, or a zombie nobody reaps.
fn ended(pid: u32) -> bool {
    matches!(pid_state(pid), None | Some('Z' | 'X'))
}

/// A bot whose tree leaves it: a setsid process and a double-forked one
/// that closes every fd; it prints their pids and "ready", then sleeps.
fn leaving_bot() -> App {
    App::new(
        "sh -c 'setsid sleep 1000 & echo $!; \
         (sh -c \"exec 0<&- 1>&- 2>&-; exec sleep 1000\" & echo $!); \
         echo ready; exec sleep 1000'",
    )
}

/// Runs the loop until `alias` printed `n` pids and "ready"; the pids.
fn printed_pids(runner: &mut Runner, alias: &str, n: usize) -> Vec<u32> {
    let pids = |got: &[Got]| {
        let text = String::from_utf8_lossy(&output_of(got, alias)).into_owned();
        let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        (text.contains("ready") && pids.len() == n).then_some(pids)
    };
    let got = run_until(runner, |got| pids(got).is_some());
    pids(&got).unwrap()
}

/// Takes every free fd of this process (after lowering its soft limit to
/// a few more than it has open): until dropped, any open fails with EMFILE.
struct OutOfFds {
    soft: u64,
    hard: u64,
    held: Vec<std::fs::File>,
}

impl OutOfFds {
    fn new() -> OutOfFds {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, open_fds() as u64 + 16, hard).unwrap();
        let mut held = Vec::new();
        while let Ok(file) = std::fs::File::open("/dev/null") {
            held.push(file);
        }
        OutOfFds { soft, hard, held }
    }
}

impl Drop for OutOfFds {
    fn drop(&mut self) {
        self.held.clear();
        setrlimit(Resource::RLIMIT_NOFILE, self.soft, self.hard).unwrap();
    }
}

#[test]
fn terminate_ends_the_tree_while_the_host_is_out_of_fds() {
    if !in_own_process("terminate_ends_the_tree_while_the_host_is_out_of_fds") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("bot", leaving_bot());
    runner.start("bot").unwrap();
    let pids = printed_pids(&mut runner, "bot", 2);
    let out = OutOfFds::new();
    let result = runner.terminate("bot");
    drop(out);
    result.unwrap();
    assert!(pids.iter().all(|pid| ended(*pid)), "ended when terminate returns: {pids:?}");
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new(), "the leaf is removed");
}

#[test]
fn drop_ends_the_tree_while_the_host_is_out_of_fds() {
    if !in_own_process("drop_ends_the_tree_while_the_host_is_out_of_fds") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("bot", leaving_bot());
    runner.start("bot").unwrap();
    let pids = printed_pids(&mut runner, "bot", 2);
    let dir = cgroup_dir(&runner);
    let out = OutOfFds::new();
    drop(runner);
    drop(out);
    assert!(pids.iter().all(|pid| ended(*pid)), "ended when drop returns: {pids:?}");
    assert!(!dir.exists(), "{} removed", dir.display());
}

#[test]
fn freeze_thaw_and_tree_usage_of_an_unknown_alias_are_no_such_process() {
    let mut runner = Runner::new().unwrap();
    let no_such = |r: Result<(), Error>| matches!(r, Err(Error::NoSuchProcess(a)) if a == "ghost");
    assert!(no_such(runner.freeze("ghost")));
    assert!(no_such(runner.thaw("ghost")));
    assert!(no_such(runner.tree_usage("ghost").map(drop)));
}

/// A bot that leaves a setsid process with none of its fds, prints its pid
/// and "ready", and exits once it reads a line.
fn bot_that_exits_leaving_one() -> App {
    App::new("sh -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; echo ready; read go; exit 0'")
}

/// Starts [`bot_that_exits_leaving_one`] and runs it to its exit while
/// this process is out of fds; the pid it left.
fn exit_out_of_fds(runner: &mut Runner) -> (u32, OutOfFds) {
    runner.add("bot", bot_that_exits_leaving_one());
    runner.start("bot").unwrap();
    let left = printed_pids(runner, "bot", 1)[0];
    let out = OutOfFds::new();
    runner.get_channel("bot").unwrap().write(b"go\n").unwrap();
    run_until(runner, |got| got.contains(&Got::Exited("bot".into(), Some(0))));
    (left, out)
}

#[test]
fn the_tree_left_at_exit_is_killed_while_the_host_is_out_of_fds() {
    if !in_own_process("the_tree_left_at_exit_is_killed_while_the_host_is_out_of_fds") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let (left, out) = exit_out_of_fds(&mut runner);
    drop(out); // /proc can be read again
    wait_for("what the bot left to be killed at its exit", || ended(left));
    runner.terminate("bot").unwrap();
}

#[test]
fn terminate_ends_what_is_left_while_the_host_is_out_of_fds() {
    if !in_own_process("terminate_ends_what_is_left_while_the_host_is_out_of_fds") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let (left, out) = exit_out_of_fds(&mut runner);
    let status = runner.terminate("bot");
    drop(out);
    assert!(status.unwrap().success());
    assert!(ended(left), "ended when terminate returns");
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new(), "the leaf is removed");
}

/// The pids of processes of user `uid` (zombies included).
fn pids_of_user(uid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let real =
            status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|u| u.split_whitespace().next());
        if real == Some(&uid.to_string()) {
            pids.push(pid);
        }
    }
    pids
}

/// A uid no one else here uses: this test's own.
fn own_uid(salt: u32) -> u32 {
    40_000 + (std::process::id() % 10_000) * 4 + salt
}

/// A fork loop as `uid`, up to `Limit::Processes(20)` (which applies to
/// a user that is not root), each process forking again.
fn fork_loop(uid: u32) -> App {
    App::new("sh -c 'echo ready; while :; do (while :; do sleep 1000 & done) & sleep 0.01; done'")
        .user(uid, uid)
        .limit(procloop::Limit::Processes(20))
}

/// Starts `app` (a [`fork_loop`] of `uid`) as alias "bomb" and runs it
/// until the user has 15 processes.
fn start_fork_loop(runner: &mut Runner, app: App, uid: u32) {
    runner.add("bomb", app);
    runner.start("bomb").unwrap();
    run_until(runner, |got| output_of(got, "bomb").starts_with(b"ready"));
    wait_for("the fork loop to reach its limit", || pids_of_user(uid).len() >= 15);
}

fn all_ended(pids: &[u32]) -> bool {
    pids.iter().all(|pid| ended(*pid))
}

#[test]
fn terminate_ends_a_fork_loop_in_a_cgroup() {
    let Some(mut runner) = cgroups_here() else { return };
    let uid = own_uid(0);
    start_fork_loop(&mut runner, fork_loop(uid), uid);
    runner.terminate("bomb").unwrap();
    let left = pids_of_user(uid);
    assert!(all_ended(&left), "left running: {left:?}");
}

#[test]
fn terminate_ends_a_fork_loop_in_its_process_group() {
    init();
    if !is_root() {
        eprintln!("skipped: running as another user needs root");
        return;
    }
    let mut runner = Runner::new().unwrap();
    let uid = own_uid(1);
    start_fork_loop(&mut runner, fork_loop(uid).setpgrp(true), uid);
    runner.terminate("bomb").unwrap();
    let left = pids_of_user(uid);
    assert!(all_ended(&left), "left running: {left:?}");
}

#[test]
fn drop_ends_a_fork_loop_in_a_cgroup() {
    let Some(mut runner) = cgroups_here() else { return };
    let uid = own_uid(2);
    start_fork_loop(&mut runner, fork_loop(uid), uid);
    let dir = cgroup_dir(&runner);
    drop(runner);
    let left = pids_of_user(uid);
    assert!(all_ended(&left), "left running: {left:?}");
    assert!(!dir.exists());
}

/// A child that stops itself (SIGSTOP) after starting a grandchild that
/// stops itself too; both ignore SIGTERM. Prints the grandchild's pid.
fn self_stopping() -> App {
    App::new(
        "sh -c 'trap \"\" TERM; sh -c \"trap \\\"\\\" TERM; kill -STOP \\$\\$; exec sleep 1000\" & \
         echo $!; echo ready; kill -STOP $$; exec sleep 1000'",
    )
    .termination_grace(Duration::from_millis(200))
}

#[test]
fn stop_ends_a_tree_that_stopped_itself_in_a_cgroup() {
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("stopped", self_stopping());
    let child = runner.start("stopped").unwrap();
    let grandchild = printed_pids(&mut runner, "stopped", 1)[0];
    wait_for("both to stop", || pid_state(child) == Some('T') && pid_state(grandchild) == Some('T'));
    runner.stop("stopped").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    wait_for("the grandchild to end", || ended(grandchild));
    runner.terminate("stopped").unwrap();
}

#[test]
fn terminate_ends_a_group_that_stopped_itself() {
    let mut runner = runner_with("stopped", self_stopping().setpgrp(true));
    let child = runner.start("stopped").unwrap();
    let grandchild = printed_pids(&mut runner, "stopped", 1)[0];
    wait_for("both to stop", || pid_state(child) == Some('T') && pid_state(grandchild) == Some('T'));
    runner.terminate("stopped").unwrap();
    assert!(ended(child) && ended(grandchild), "ended when terminate returns");
}

fn usage_usec(leaf: &Path) -> u64 {
    let stat = std::fs::read_to_string(leaf.join("cpu.stat")).unwrap();
    stat.lines().find_map(|l| l.strip_prefix("usage_usec ")).unwrap().trim().parse().unwrap()
}

#[test]
fn a_tree_that_forks_while_being_frozen_gains_no_cpu_and_no_task() {
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("forks", App::new("sh -c 'echo ready; while :; do (:) & (:); done'"));
    runner.start("forks").unwrap();
    run_until(&mut runner, |got| output_of(got, "forks").starts_with(b"ready"));
    let leaf = leaves(&cgroup_dir(&runner)).pop().unwrap();
    let events = leaf.join("cgroup.events");
    for _ in 0..5 {
        runner.freeze("forks").unwrap();
        wait_for("frozen 1", || std::fs::read_to_string(&events).unwrap().contains("frozen 1"));
        let (cpu, tasks) = (usage_usec(&leaf), runner.tree_usage("forks").unwrap().tasks);
        runner.poll_once(Some(Duration::from_millis(100)), |_, _| {}).unwrap();
        // Not to the microsecond: a task that was leaving the CPU, or
        // exiting, as the freeze took hold is accounted a little later.
        let gained = usage_usec(&leaf) - cpu;
        assert!(gained < 1_000, "{gained} us of CPU used while frozen");
        assert_eq!(runner.tree_usage("forks").unwrap().tasks, tasks, "no task made while frozen");
        runner.thaw("forks").unwrap();
        wait_for("the tree to run again", || usage_usec(&leaf) > cpu);
    }
    runner.freeze("forks").unwrap();
    runner.terminate("forks").unwrap();
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new());
}

#[test]
fn freeze_and_thaw_after_the_exit_are_ok_and_leave_nothing() {
    for mut runner in [Runner::new().unwrap()].into_iter().chain(cgroups_here()) {
        runner.add("true", App::new("true"));
        runner.start("true").unwrap();
        run_until(&mut runner, |got| got.contains(&Got::Exited("true".into(), Some(0))));
        runner.freeze("true").unwrap();
        runner.thaw("true").unwrap();
        runner.freeze("true").unwrap();
        assert!(runner.terminate("true").unwrap().success());
        if let Containment::Cgroup { path } = runner.containment() {
            for leaf in leaves(&path) {
                let freeze = std::fs::read_to_string(leaf.join("cgroup.freeze")).unwrap();
                assert_eq!(freeze, "0\n", "a leaf kept for the next child is not frozen");
            }
            runner.start("true").unwrap();
            run_until(&mut runner, |got| got.contains(&Got::Exited("true".into(), Some(0))));
        }
    }
}

#[test]
fn a_grandchild_that_ended_is_counted_in_the_tree() {
    let Some(mut runner) = cgroups_here() else { return };
    let spin = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done";
    runner.add("bot", App::new(format!("sh -c 'setsid sh -c \"{spin}\" & echo $!; echo ready; read go'")));
    runner.start("bot").unwrap();
    let grandchild = printed_pids(&mut runner, "bot", 1)[0];
    wait_for("the grandchild to end", || ended(grandchild));
    let tree = runner.tree_usage("bot").unwrap();
    let own = runner.cpu_time("bot").unwrap();
    assert!(tree.cpu_time() > own, "the tree {tree:?} and the child itself {own:?}");
    runner.get_channel("bot").unwrap().write(b"go\n").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert!(runner.tree_usage("bot").unwrap().cpu_time() >= tree.cpu_time(), "after the exit too");
    runner.terminate("bot").unwrap();
}

/// Runs `bad`, which must fail with an error `expected` accepts and whose
/// message names `culprit`, leaving no child, no fd and no leaf in `dir`.
fn fails_cleanly(
    runner: &mut Runner,
    culprit: &str,
    bad: impl FnOnce(&mut Runner) -> procloop::Result<u32>,
    expected: impl FnOnce(&Error) -> bool,
) {
    let (fds, children) = (open_fds(), child_pids());
    let err = bad(runner).expect_err("bad input must fail");
    let message = err.to_string();
    assert!(expected(&err), "wrong error: {err:?}");
    assert!(message.contains(culprit), "{message:?} does not name {culprit:?}");
    assert_eq!(child_pids(), children, "a child was left after: {message}");
    assert_eq!(open_fds(), fds, "an fd leaked after: {message}");
    if let Containment::Cgroup { path } = runner.containment() {
        assert_eq!(leaves(&path), Vec::<PathBuf>::new(), "a leaf was left after: {message}");
    }
}

/// Bad starts of every kind, on a Runner of each containment: typed errors
/// naming the culprit, and nothing left behind.
fn bad_starts(runner: &mut Runner, dir: &TempDir) {
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, b"#!/bin/sh\n").unwrap();
    runner.add("missing", App::new("procloop-no-such-program"));
    runner.add("noexec", App::new(not_executable.display().to_string()));
    runner.add("folder", App::new(dir.path().display().to_string()));
    runner.add("nul-arg", App::new("echo"));
    runner.add("nul-env", App::new("true").env("KEY", "a\0b"));
    runner.add("eq-env", App::new("true").env("A=B", "c"));
    runner.add("nul-cwd", App::new("true").cwd("/tmp\0x"));
    runner.add("nan-cpus", App::new("true").limit(procloop::Limit::Cpus(f64::NAN)));
    runner.add("minus-cpus", App::new("true").limit(procloop::Limit::Cpus(-1.0)));
    let spawn = |e: &Error| matches!(e, Error::Spawn { .. });
    let setting = |e: &Error| matches!(e, Error::InvalidSetting { .. });
    fails_cleanly(runner, "procloop-no-such-program", |r| r.start("missing"), spawn);
    fails_cleanly(runner, "not-executable", |r| r.start("noexec"), spawn);
    fails_cleanly(runner, &dir.path().display().to_string(), |r| r.start("folder"), spawn);
    let nul_arg = procloop::Start::new().args(["a\0b"]);
    fails_cleanly(runner, "NUL", |r| r.start_with("nul-arg", nul_arg), setting);
    fails_cleanly(runner, "KEY", |r| r.start("nul-env"), setting);
    fails_cleanly(runner, "A=B", |r| r.start("eq-env"), setting);
    fails_cleanly(runner, "working directory", |r| r.start("nul-cwd"), setting);
    fails_cleanly(runner, "cpus of NaN", |r| r.start("nan-cpus"), setting);
    fails_cleanly(runner, "cpus of -1", |r| r.start("minus-cpus"), setting);
    // A tree limit without its controller here (or without a cgroup).
    let unsupported = |e: &Error| matches!(e, Error::LimitUnsupported { .. });
    for (name, limit) in [
        ("memory", procloop::Limit::TreeMemory(64 << 20)),
        ("pids", procloop::Limit::Tasks(8)),
        ("cpu", procloop::Limit::Cpus(0.5)),
    ] {
        let path = match runner.containment() {
            Containment::Cgroup { path } => path,
            _ => PathBuf::new(),
        };
        let on = std::fs::read_to_string(path.join("cgroup.subtree_control")).unwrap_or_default();
        if on.split_whitespace().any(|c| c == name) {
            continue; // a controller it has: nothing to refuse
        }
        runner.add("tree", App::new("true").limit(limit));
        let culprit =
            if path.as_os_str().is_empty() { "needs a cgroup".to_string() } else { format!("\"{name}\"") };
        fails_cleanly(runner, &culprit, |r| r.start("tree"), unsupported);
    }
    // Out of fds mid-run: the start fails, the Runner goes on.
    runner.add("true", App::new("true"));
    let (fds, children) = (open_fds(), child_pids());
    let out = OutOfFds::new();
    let err = runner.start("true").unwrap_err();
    drop(out);
    assert!(err.to_string().contains("Too many open files"), "{err}");
    assert_eq!((open_fds(), child_pids()), (fds, children), "nothing left after: {err}");
    if let Containment::Cgroup { path } = runner.containment() {
        assert_eq!(leaves(&path), Vec::<PathBuf>::new(), "no leaf left after: {err}");
    }
    fails_cleanly(runner, "procloop-no-such-program", |r| r.start("missing"), spawn);
    runner.start("true").unwrap();
    run_until(runner, |got| got.contains(&Got::Exited("true".into(), Some(0))));
    runner.terminate("true").unwrap();
}

#[test]
fn bad_starts_in_a_cgroup_leave_no_leaf_fd_or_child() {
    if !in_own_process("bad_starts_in_a_cgroup_leave_no_leaf_fd_or_child") {
        return;
    }
    let fds = open_fds();
    let Some(mut runner) = cgroups_here() else { return };
    let dir = TempDir::new("bad-starts");
    bad_starts(&mut runner, &dir);
    let path = cgroup_dir(&runner);
    drop(runner);
    assert!(!path.exists(), "{} removed", path.display());
    assert_eq!(open_fds(), fds, "the Runner's fds went with it");
}

#[test]
fn bad_starts_without_a_cgroup_leave_no_fd_or_child() {
    if !in_own_process("bad_starts_without_a_cgroup_leave_no_fd_or_child") {
        return;
    }
    init();
    let fds = open_fds();
    let mut runner = Runner::new().unwrap();
    let dir = TempDir::new("bad-starts");
    bad_starts(&mut runner, &dir);
    drop(runner);
    assert_eq!(open_fds(), fds, "the Runner's fds went with it");
}

/// A child whose grandchild stays in its process group; prints the
/// grandchild's pid and "ready".
fn child_and_grandchild() -> App {
    App::new("sh -c '(sleep 1000 & echo $!); echo ready; exec sleep 1000'")
}

#[test]
fn the_process_group_fallback_freezes_and_ends_the_group_and_leaks_nothing() {
    const NAME: &str = "the_process_group_fallback_freezes_and_ends_the_group_and_leaks_nothing";
    if !in_read_only_cgroups(NAME) {
        return;
    }
    let fds = open_fds();
    let mut runner = Runner::with_cgroups(Cgroups::Preferred).unwrap();
    assert_eq!(runner.containment(), Containment::ProcessGroup);
    let dir = TempDir::new("fallback");
    bad_starts(&mut runner, &dir);
    runner.add("tree", child_and_grandchild());
    let child = runner.start("tree").unwrap();
    let grandchild = printed_pids(&mut runner, "tree", 1)[0];
    runner.freeze("tree").unwrap();
    wait_for("the group to stop", || pid_state(child) == Some('T') && pid_state(grandchild) == Some('T'));
    runner.thaw("tree").unwrap();
    wait_for("the group to run", || pid_state(child) != Some('T') && pid_state(grandchild) != Some('T'));
    runner.freeze("tree").unwrap();
    runner.terminate("tree").unwrap();
    assert!(ended(child) && ended(grandchild), "the frozen group ended when terminate returns");
    let child = runner.start("tree").unwrap();
    let grandchild = printed_pids(&mut runner, "tree", 1)[0];
    drop(runner);
    assert!(ended(child) && ended(grandchild), "the group ended when drop returns");
    assert_eq!(open_fds(), fds, "the Runner's fds went with it");
}

/// A bot (root, as bots are unless `App::user` says otherwise) that makes
/// cgroups below its own leaf, two deep, and moves a grandchild there.
fn nesting_bot() -> App {
    App::new(
        "sh -c 'leaf=$(sed -n \"s/^0:://p\" /proc/self/cgroup); \
         mount=$(awk \"\\$9 == \\\"cgroup2\\\" {print \\$5; exit}\" /proc/self/mountinfo); \
         mkdir -p $mount$leaf/a/b; sleep 1000 & echo $! > $mount$leaf/a/b/cgroup.procs; \
         echo $!; echo ready; exec sleep 1000'",
    )
}

#[test]
fn cgroups_a_bot_makes_below_its_leaf_go_with_it() {
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("nest", nesting_bot());
    runner.start_with("nest", procloop::Start::new().alias("one")).unwrap();
    let first = printed_pids(&mut runner, "one", 1)[0];
    let dir = cgroup_dir(&runner);
    assert!(leaves(&dir)[0].join("a/b/cgroup.procs").is_file(), "the bot made its cgroups");
    runner.terminate("one").unwrap();
    assert!(ended(first), "ended when terminate returns");
    assert_eq!(leaves(&dir), Vec::<PathBuf>::new(), "the leaf and what the bot made in it are removed");
    runner.start_with("nest", procloop::Start::new().alias("two")).unwrap();
    let second = printed_pids(&mut runner, "two", 1)[0];
    drop(runner);
    assert!(ended(second), "ended when drop returns");
    assert!(!dir.exists(), "{} removed", dir.display());
}

/// The pid of a process that has ended and been reaped.
fn a_gone_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_new_runner_removes_what_a_killed_hosts_runner_left() {
    let Some(runner) = cgroups_here() else { return };
    let parent = cgroup_dir(&runner).parent().unwrap().to_path_buf();
    let gone = a_gone_pid();
    let stale = [parent.join(format!("procloop-{gone}-0")), parent.join(format!("procloop-{gone}-spawn-3"))];
    std::fs::create_dir_all(stale[0].join("child-1/sub")).unwrap();
    std::fs::create_dir(&stale[1]).unwrap();
    let live = parent.join(format!("procloop-1-live-{}", std::process::id())); // pid 1 lives
    std::fs::create_dir(&live).unwrap();
    let another = Runner::with_cgroups(Cgroups::Required).unwrap();
    let kept = live.exists();
    let _ = std::fs::remove_dir(&live);
    assert!(stale.iter().all(|dir| !dir.exists()), "the stale cgroups are removed: {stale:?}");
    assert!(kept, "one of a live process is left alone");
    assert!(cgroup_dir(&runner).exists(), "this process's own Runner is left alone");
    drop((runner, another));
}

#[test]
fn an_fd_limit_too_low_to_load_a_program_is_a_start_error() {
    // 0, 1 and 2 are taken: a dynamically linked program's loader has no
    // fd left for its libraries, and the child would die with 127.
    let mut runner = runner_with("true", App::new("true").limit(procloop::Limit::OpenFiles(3)));
    let err = runner.start("true").unwrap_err();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
    assert!(err.to_string().contains("limit open_files of 3"), "{err}");
    runner.add("true", App::new("true").limit(procloop::Limit::OpenFiles(4)));
    runner.start("true").unwrap();
    run_until(&mut runner, |got| got.contains(&Got::Exited("true".into(), Some(0))));
}

#[test]
fn an_address_space_too_small_to_load_a_program_is_a_start_error() {
    // glibc's loader alone maps about 2.2 MiB: in 2 MiB the child would die with 127.
    let mut runner = runner_with("true", App::new("true").limit(procloop::Limit::Memory(2 << 20)));
    let err = runner.start("true").unwrap_err();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
    assert!(err.to_string().contains("limit memory of 2097152"), "{err}");
    runner.add("true", App::new("true").limit(procloop::Limit::Memory(4 << 20)));
    runner.start("true").unwrap();
    run_until(&mut runner, |got| got.contains(&Got::Exited("true".into(), Some(0))));
}

#[test]
fn a_bot_run_as_another_user_cannot_leave_its_leaf_or_raise_its_limits() {
    let Some(mut runner) = cgroups_here() else { return };
    let uid = own_uid(3);
    // It tries to move itself to the top of the cgroup2 mount, then to
    // raise its hard limit of open files; it prints what it ended with.
    let script = "mount=$(awk \"\\$9 == \\\"cgroup2\\\" {print \\$5; exit}\" /proc/self/mountinfo); \
                  echo $$ > $mount/cgroup.procs 2>/dev/null; ulimit -H -n 4096 2>/dev/null; \
                  sed -n \"s/^0:://p\" /proc/self/cgroup; ulimit -H -n";
    let app = App::new(format!("sh -c '{script}'")).user(uid, uid).limit(procloop::Limit::OpenFiles(64));
    runner.add("bot", app);
    runner.start("bot").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let out = String::from_utf8(output_of(&got, "bot")).unwrap();
    let name = cgroup_dir(&runner).file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.first().is_some_and(|l| l.ends_with(&format!("/{name}/child-1"))), "left its leaf: {out}");
    assert_eq!(lines.get(1), Some(&"64"), "raised its limit: {out}");
    runner.terminate("bot").unwrap();
}

#[test]
fn a_contained_spawns_tree_is_killed_at_its_exit_while_the_host_is_out_of_fds() {
    const NAME: &str = "a_contained_spawns_tree_is_killed_at_its_exit_while_the_host_is_out_of_fds";
    if !in_own_process(NAME) {
        return;
    }
    init();
    let mut reactor = procloop::Reactor::new().unwrap();
    let script = "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; read go; exit 0";
    let started = match reactor.spawn(procloop::Spawn::new("sh").arg("-c").arg(script).contained(true)) {
        Ok(started) => started,
        Err(Error::CgroupsUnavailable(why)) => return eprintln!("skipped: no cgroup here: {why}"),
        Err(e) => panic!("{e}"),
    };
    let pid = reactor.process(started.process).unwrap().pid();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let leaf = cgroup.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_string();
    let seen = poll_until(&mut reactor, |seen| data_of(seen, started.channel).ends_with(b"\n"));
    let left: u32 = String::from_utf8_lossy(&data_of(&seen, started.channel)).trim().parse().unwrap();
    let out = OutOfFds::new();
    reactor.channel(started.channel).unwrap().write(b"go\n").unwrap();
    poll_until(&mut reactor, |seen| seen.iter().any(|s| matches!(s, Seen::Exited(..))));
    reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap(); // the ended Process is dropped
    drop(out);
    wait_for("what the child left to be killed", || ended(left));
    let mount = std::path::Path::new("/sys/fs/cgroup/unified");
    assert!(!mount.join(leaf.trim_start_matches('/')).exists(), "{leaf} removed");
}

#[test]
fn spawn_into_a_folder_that_is_no_cgroup_v2_is_refused_and_leaves_nothing() {
    init();
    let mut reactor = procloop::Reactor::new().unwrap();
    let plain = TempDir::new("not-a-cgroup");
    // A cgroup v1 directory where one is mounted: no cgroup.kill, no
    // cgroup.events, so a tree there could not be ended.
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let dirs = [Some(plain.path()), v1.is_dir().then_some(v1)];
    for dir in dirs.into_iter().flatten() {
        for contained in [false, true] {
            let spawn = procloop::Spawn::new("true").cgroup(dir).contained(contained);
            let err = reactor.spawn(spawn).map(drop).unwrap_err();
            assert!(matches!(err, Error::CgroupsUnavailable(_)), "{}: {err:?}", dir.display());
            let message = err.to_string();
            assert!(
                message.contains(&dir.display().to_string()) && message.contains("cgroup v2"),
                "{message}"
            );
            let made: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
            let ours = made.iter().filter(|p| p.to_string_lossy().contains("procloop-")).count();
            assert_eq!(ours, 0, "{} holds what the start made: {made:?}", dir.display());
        }
    }
}

#[test]
fn a_zombie_left_to_init_does_not_keep_the_leaf() {
    let Some(mut runner) = cgroups_here() else { return };
    // The background child ends once the shell has become `sleep`, which
    // never reaps it; once the child is killed the zombie goes to init,
    // which here never reaps either.
    let dir = TempDir::new("zombie");
    let script = dir.path().join("zombie.sh");
    write_executable(
        &script,
        "#!/bin/sh\nsh -c 'while [ \"$(cat /proc/$PPID/comm)\" != sleep ]; do :; done' &\n\
         echo $!\necho ready\nexec sleep 1000\n",
    );
    runner.add("zombie", App::new(script.display().to_string()));
    runner.start("zombie").unwrap();
    let zombie = printed_pids(&mut runner, "zombie", 1)[0];
    wait_for("the zombie", || pid_state(zombie) == Some('Z'));
    let cgroup = cgroup_dir(&runner);
    runner.terminate("zombie").unwrap();
    assert_eq!(leaves(&cgroup), Vec::<PathBuf>::new(), "the leaf is removed");
    drop(runner);
    assert!(!cgroup.exists());
}

#[test]
fn without_cgroup_kill_terminate_still_ends_a_fork_loop() {
    let name = "without_cgroup_kill_terminate_still_ends_a_fork_loop";
    if !in_own_process_with(name, &[("PROCLOOP_NO_CGROUP_KILL", "1".as_ref())]) {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let uid = own_uid(4);
    start_fork_loop(&mut runner, fork_loop(uid), uid);
    runner.terminate("bomb").unwrap();
    let left = pids_of_user(uid);
    assert!(all_ended(&left), "left running: {left:?}");
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new(), "the leaf is removed");
}

#[test]
fn a_tree_limit_of_zero_is_an_invalid_setting_with_or_without_a_cgroup() {
    let runners = [Runner::new().unwrap()].into_iter().chain(cgroups_here());
    for mut runner in runners {
        for (limit, named) in [
            (procloop::Limit::TreeMemory(0), "limit tree_memory of 0"),
            (procloop::Limit::Tasks(0), "limit tasks of 0"),
        ] {
            runner.add("zero", App::new("true").limit(limit));
            let err = runner.start("zero").unwrap_err();
            assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
            assert!(err.to_string().contains(named), "{err}");
        }
    }
}

/// A child that handles SIGTERM (exit 7) and then stops itself; its
/// grace outlasts the test's deadline, which a SIGKILL must not beat.
fn graceful_but_stopped() -> App {
    App::new("sh -c 'trap \"exit 7\" TERM; echo ready; kill -STOP $$; while :; do sleep 0.05; done'")
        .termination_grace(DEADLINE + Duration::from_secs(10))
}

#[test]
fn a_stopped_child_that_handles_sigterm_gets_to_exit_by_itself() {
    let runners = [Runner::new().unwrap()].into_iter().chain(cgroups_here());
    for mut runner in runners {
        runner.add("graceful", graceful_but_stopped());
        let pid = runner.start("graceful").unwrap();
        run_until(&mut runner, |got| output_of(got, "graceful").starts_with(b"ready"));
        wait_for("the child to stop itself", || pid_state(pid) == Some('T'));
        runner.stop("graceful").unwrap();
        run_until(&mut runner, |got| got.contains(&Got::Exited("graceful".into(), Some(7))));
        let pid = runner.start_with("graceful", procloop::Start::new().alias("frozen")).unwrap();
        run_until(&mut runner, |got| output_of(got, "frozen").starts_with(b"ready"));
        wait_for("the child to stop itself", || pid_state(pid) == Some('T'));
        runner.freeze("frozen").unwrap();
        let status = runner.terminate_within("frozen", DEADLINE).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(7), "a frozen child gets to handle its SIGTERM");
        runner.terminate("graceful").unwrap();
    }
}

/// A child whose grandchild, in its group, ignores SIGTERM and then prints
/// its pid; the child waits for it. A grace longer than the test's
/// deadline: the group must go with the child, as a cgroup leaf does.
fn group_deaf_to_sigterm() -> App {
    App::new("sh -c 'sh -c \"trap \\\"\\\" TERM; echo \\$\\$; exec sleep 1000\" & echo ready; wait'")
        .termination_grace(DEADLINE + Duration::from_secs(10))
}

#[test]
fn stop_ends_what_is_left_of_the_group_once_its_leader_exited() {
    let mut runner = runner_with("deaf", group_deaf_to_sigterm().setpgrp(true));
    runner.start("deaf").unwrap();
    let grandchild = printed_pids(&mut runner, "deaf", 1)[0];
    runner.stop("deaf").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))) && ended(grandchild));
    runner.terminate("deaf").unwrap();
}

#[test]
fn stop_ends_what_is_left_of_a_process_group_fallbacks_group() {
    const NAME: &str = "stop_ends_what_is_left_of_a_process_group_fallbacks_group";
    if !in_read_only_cgroups(NAME) {
        return;
    }
    let mut runner = Runner::with_cgroups(Cgroups::Preferred).unwrap();
    runner.add("deaf", group_deaf_to_sigterm());
    runner.start("deaf").unwrap();
    let grandchild = printed_pids(&mut runner, "deaf", 1)[0];
    runner.stop("deaf").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))) && ended(grandchild));
    runner.terminate("deaf").unwrap();
}
