//! A hostile tester's pass over containment and spawning: bots that fork
//! in loops, stop themselves or hide, limits with values no tree can run
//! under, starts that fail in a cgroup or past the fd limit; each checks
//! that nothing of the tree runs on, no leaf directory and no fd is left.
//! Where this machine has no writable cgroup2 subtree, a cgroup test says
//! why and passes without checking.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use procloop::testing::open_fds;
use procloop::{App, Cgroups, Containment, Error, Limit, Runner, Start};
use util::*;

/// A Runner with a cgroup, or `None` (and why) where none can be had.
fn cgroups_here() -> Option<Runner> {
    init();
    match Runner::with_cgroups(Cgroups::Required) {
        Ok(runner) => Some(runner),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn cgroup_dir(runner: &Runner) -> PathBuf {
    match runner.containment() {
        Containment::Cgroup { path } => path,
        other => panic!("no cgroup: {other:?}"),
    }
}

/// The leaf directories below a Runner's cgroup.
fn leaves(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap().flatten();
    entries.filter(|e| e.file_type().unwrap().is_dir()).map(|e| e.path()).collect()
}

/// An argument no other test's process has: its processes are found by it.
fn marker(name: &str) -> String {
    let n: u32 = name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{}.{}", 5000 + n % 4000, std::process::id())
}

/// The live (not zombie) processes with `arg` in one of their arguments.
fn live_with_arg(arg: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        if cmdline.split(|b| *b == 0).any(|a| a.windows(arg.len()).any(|w| w == arg.as_bytes()))
            && !matches!(pid_state(pid), None | Some('Z' | 'X'))
        {
            pids.push(pid);
        }
    }
    pids
}

fn assert_none_left(arg: &str) {
    wait_for(&format!("every process with {arg} to end"), || live_with_arg(arg).is_empty());
}

/// Rounding up to whole seconds overflowed (a panic here, a limit of 0 s
/// in a release build).
#[test]
fn a_cpu_time_limit_of_duration_max_does_not_panic() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("true", App::new("true").limit(Limit::CpuTime(Duration::MAX)));
    match runner.start("true") {
        Ok(_) => assert_eq!(runner.wait("true", DEADLINE).unwrap().and_then(|s| s.code()), Some(0)),
        // A host whose own CPU limit is finite may not give more.
        Err(e) => assert!(matches!(e, Error::LimitTooHigh { .. }), "{e:?}"),
    }
}

/// Named as a bad value on every machine, before the controller is looked
/// for: with one, the kernel would take `pids.max` 0 and the start fail
/// with a bare EAGAIN.
#[test]
fn tree_limits_no_tree_can_run_under_are_invalid_settings() {
    init();
    let bad = [
        (Limit::Tasks(0), "limit tasks of 0"),
        (Limit::TreeMemory(0), "limit tree_memory of 0"),
        (Limit::TreeMemory(4096), "limit tree_memory of 4096"),
        (Limit::Cpus(f64::NAN), "limit cpus of NaN"),
    ];
    let mut runners = vec![Runner::new().unwrap()];
    runners.extend(cgroups_here());
    for runner in &mut runners {
        for (limit, named) in bad {
            runner.add("true", App::new("true").limit(limit));
            let err = runner.start("true").unwrap_err();
            assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
            assert!(err.to_string().contains(named), "{err}");
        }
    }
    let mut reactor = procloop::Reactor::new().unwrap();
    for contained in [false, true] {
        for (limit, named) in bad {
            let err =
                reactor.spawn(procloop::Spawn::new("true").limit(limit).contained(contained)).unwrap_err();
            assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
            assert!(err.to_string().contains(named), "{err}");
        }
    }
    assert!(reactor.is_empty());
}

#[test]
fn spawn_errors_in_a_cgroup_leave_no_leaf_no_fd_no_child() {
    if !in_own_process("spawn_errors_in_a_cgroup_leave_no_leaf_no_fd_no_child") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let dir = TempDir::new("contain-spawn-errors");
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, b"#!/bin/sh\n").unwrap();
    runner.add("missing", App::new("procloop-no-such-binary --flag"));
    runner.add("noexec", App::new(not_executable.display().to_string()));
    runner.add("cwd", App::new("true").cwd(dir.path().join("nowhere")));
    runner.add("nul", App::new("true"));
    let cgroup = cgroup_dir(&runner);
    let fds = open_fds();
    let cases: [(&str, Start, &str); 4] = [
        ("missing", Start::new(), "procloop-no-such-binary"),
        ("noexec", Start::new(), "not-executable"),
        ("cwd", Start::new(), "nowhere"),
        ("nul", Start::new().args(["a\0b"]), "NUL"),
    ];
    for (app, start, named) in cases {
        let err = runner.start_with(app, start).unwrap_err();
        assert!(matches!(err, Error::Spawn { .. } | Error::InvalidSetting { .. }), "{err:?}");
        assert!(err.to_string().contains(named), "{err}");
        assert_eq!(leaves(&cgroup), Vec::<PathBuf>::new(), "{app}: no leaf left");
        assert_eq!(open_fds(), fds, "{app}: no fd left");
        assert!(child_pids().is_empty(), "{app}: no child left");
    }
    drop(runner);
    assert!(!cgroup.exists());
}

#[test]
fn a_bounded_fork_loop_is_ended_by_terminate() {
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker("a_bounded_fork_loop_is_ended_by_terminate");
    let script =
        format!("echo go; i=0; while [ $i -lt 400 ]; do (setsid sleep {arg} &); i=$((i+1)); done; wait");
    runner.add("forker", App::new("sh -c").termination_grace(Duration::from_millis(100)));
    runner.start_with("forker", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "forker").starts_with(b"go"));
    wait_for("a few forks", || live_with_arg(&arg).len() >= 5);
    runner.terminate("forker").unwrap();
    assert!(live_with_arg(&arg).is_empty(), "ended when terminate returns: {:?}", live_with_arg(&arg));
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new());
}

#[test]
fn a_fork_loop_under_a_process_limit_is_ended_by_drop() {
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker("a_fork_loop_under_a_process_limit_is_ended_by_drop");
    let script = format!("echo go; while :; do sleep {arg} & done");
    // A uid of its own: RLIMIT_NPROC counts every process of the uid, also
    // those of other containers on this kernel.
    let uid = 50_000 + std::process::id() % 10_000;
    let app = App::new("sh -c").user(uid, uid).limit(Limit::Processes(30));
    runner.add("forker", app);
    runner.start_with("forker", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "forker").starts_with(b"go"));
    wait_for("forks up to the limit", || live_with_arg(&arg).len() >= 10);
    let dir = cgroup_dir(&runner);
    drop(runner);
    assert!(live_with_arg(&arg).is_empty(), "ended when drop returns: {:?}", live_with_arg(&arg));
    assert!(!dir.exists());
}

#[test]
fn a_tree_frozen_while_it_forks_stays_still() {
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker("a_tree_frozen_while_it_forks_stays_still");
    let script = format!("echo go; i=0; while [ $i -lt 100000 ]; do sleep {arg} & i=$((i+1)); done");
    runner.add("forker", App::new("sh -c"));
    runner.start_with("forker", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "forker").starts_with(b"go"));
    wait_for("a few forks", || live_with_arg(&arg).len() >= 5);
    runner.freeze("forker").unwrap();
    let leaf = leaves(&cgroup_dir(&runner)).pop().unwrap();
    let events = leaf.join("cgroup.events");
    wait_for("frozen 1", || std::fs::read_to_string(&events).unwrap().contains("frozen 1"));
    let procs = || std::fs::read_to_string(leaf.join("cgroup.procs")).unwrap();
    let before = (procs(), runner.tree_usage("forker").unwrap());
    runner.poll_once(Some(Duration::from_millis(100)), |_, _| {}).unwrap();
    let after = (procs(), runner.tree_usage("forker").unwrap());
    assert_eq!(before.0, after.0, "no new process while frozen");
    assert_eq!(before.1.cpu_time(), after.1.cpu_time(), "no CPU while frozen");
    runner.terminate("forker").unwrap();
    assert!(live_with_arg(&arg).is_empty());
}

#[test]
fn freeze_and_thaw_of_unknown_or_ended_aliases() {
    init();
    let mut runners = vec![Runner::new().unwrap()];
    runners.extend(cgroups_here());
    for mut runner in runners {
        for err in [runner.freeze("nope").unwrap_err(), runner.thaw("nope").unwrap_err()] {
            assert!(matches!(&err, Error::NoSuchProcess(a) if a == "nope"), "{err:?}");
        }
        runner.add("true", App::new("true"));
        runner.start("true").unwrap();
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
        runner.freeze("true").unwrap();
        runner.thaw("true").unwrap();
        assert_eq!(runner.terminate("true").unwrap().code(), Some(0));
        assert!(matches!(runner.freeze("true"), Err(Error::NoSuchProcess(_))));
        assert!(matches!(runner.tree_usage("true"), Err(Error::NoSuchProcess(_))));
    }
}

#[test]
fn tree_usage_counts_a_grandchild_that_has_exited() {
    let Some(mut runner) = cgroups_here() else { return };
    let script = "(i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done); echo done; exec sleep 1000";
    runner.add("bot", App::new("sh -c"));
    runner.start_with("bot", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "bot").starts_with(b"done"));
    let usage = runner.tree_usage("bot").unwrap();
    let own = runner.cpu_time("bot").unwrap();
    assert!(usage.cpu_time() > own, "the grandchild's CPU is counted: {usage:?} against {own:?}");
    runner.terminate("bot").unwrap();
}

#[test]
fn a_self_stopped_child_and_grandchild_are_ended_by_stop() {
    init();
    let mut runners = vec![Runner::new().unwrap(), Runner::with_cgroups(Cgroups::Preferred).unwrap()];
    for runner in &mut runners {
        let arg = marker("a_self_stopped_child_and_grandchild_are_ended_by_stop");
        let script = format!("sleep {arg} & echo $!; kill -STOP $!; kill -STOP $$; wait");
        runner.add("stopper", App::new("sh -c").setpgrp(true).termination_grace(Duration::from_millis(200)));
        let pid = runner.start_with("stopper", Start::new().args([script])).unwrap();
        wait_for("the child to stop itself", || pid_state(pid) == Some('T'));
        runner.stop("stopper").unwrap();
        run_until(runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
        assert_none_left(&arg);
        runner.terminate("stopper").unwrap();
    }
}

#[test]
fn fds_come_back_after_a_cgroup_runner_is_dropped() {
    if !in_own_process("fds_come_back_after_a_cgroup_runner_is_dropped") {
        return;
    }
    init();
    let fds = open_fds();
    let Some(mut runner) = cgroups_here() else { return };
    let dir = cgroup_dir(&runner);
    runner.add("true", App::new("true"));
    runner.add("sleep", App::new("sleep 1000"));
    runner.add("left", App::new("sh -c 'sleep 1000 & exit 0'"));
    for i in 0..3 {
        runner.start_with("true", Start::new().alias(format!("t{i}"))).unwrap();
        runner.start_with("sleep", Start::new().alias(format!("s{i}"))).unwrap();
        runner.start_with("left", Start::new().alias(format!("l{i}"))).unwrap();
    }
    let exited = |got: &[Got]| got.iter().filter(|g| matches!(g, Got::Exited(..))).count() == 6;
    run_until(&mut runner, exited);
    runner.terminate("t0").unwrap();
    runner.terminate("s0").unwrap();
    runner.terminate("l0").unwrap();
    runner.freeze("s1").unwrap();
    drop(runner);
    assert_eq!(open_fds(), fds, "every fd closed");
    assert!(!dir.exists());
    assert!(child_pids().is_empty());
}

/// Every step of a contained start that needs an fd fails in turn (its
/// leaf's directory, its pipes, its pidfd): a typed error, and no child,
/// no fd and no leaf but the spare one left.
#[test]
fn contained_starts_past_the_fd_limit_fail_cleanly() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if !in_own_process("contained_starts_past_the_fd_limit_fail_cleanly") {
        return;
    }
    init();
    let fds_at_first = open_fds();
    let Some(mut runner) = cgroups_here() else { return };
    let cgroup = cgroup_dir(&runner);
    runner.add("cat", App::new("cat"));
    runner.start_with("cat", Start::new().alias("first")).unwrap();
    let children = child_pids();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let mut failures = 0;
    for room in 0..16 {
        let fds = open_fds();
        setrlimit(Resource::RLIMIT_NOFILE, (fds + room) as u64, hard).unwrap();
        let started = runner.start_with("cat", Start::new().alias("more"));
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        match started {
            Ok(_) => {
                runner.terminate("more").unwrap();
            }
            Err(e) => {
                failures += 1;
                assert!(e.to_string().contains("Too many open files"), "room for {room}: {e}");
                assert!(open_fds() <= fds, "room for {room}: an fd leaked after: {e}");
            }
        }
        assert_eq!(child_pids(), children, "room for {room}: a child left");
        assert!(leaves(&cgroup).len() <= 2, "room for {room}: {:?}", leaves(&cgroup));
    }
    assert!(failures > 0);
    let channel = runner.get_channel("first").unwrap();
    channel.write(b"alive").unwrap();
    assert_eq!(read_exactly(channel, 5), b"alive");
    drop(runner);
    assert_eq!(open_fds(), fds_at_first, "every fd closed");
    assert!(!cgroup.exists());
}

#[test]
fn without_cgroup_kill_a_fork_loop_is_ended_by_terminate() {
    if !in_own_process_with(
        "without_cgroup_kill_a_fork_loop_is_ended_by_terminate",
        &[("PROCLOOP_NO_CGROUP_KILL", "1".as_ref())],
    ) {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker("without_cgroup_kill_a_fork_loop_is_ended_by_terminate");
    let script =
        format!("echo go; i=0; while [ $i -lt 400 ]; do (setsid sleep {arg} &); i=$((i+1)); done; wait");
    runner.add("forker", App::new("sh -c").termination_grace(Duration::from_millis(100)));
    runner.start_with("forker", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "forker").starts_with(b"go"));
    wait_for("a few forks", || live_with_arg(&arg).len() >= 5);
    runner.terminate("forker").unwrap();
    assert!(live_with_arg(&arg).is_empty(), "ended when terminate returns: {:?}", live_with_arg(&arg));
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new());
}

/// A setpgrp child that ends at its SIGTERM, and a member of its group
/// deaf to it: `stop`'s SIGKILL at the grace still reaches the group.
#[test]
fn stop_kills_a_deaf_group_member_at_the_grace_after_its_leader_exited() {
    init();
    let arg = marker("stop_kills_a_deaf_group_member_at_the_grace_after_its_leader_exited");
    let script = format!("sh -c 'trap \"\" TERM; sleep {arg}' & echo go; wait");
    let app = App::new("sh -c").setpgrp(true).termination_grace(Duration::from_millis(300));
    let mut runner = runner_with("leader", app);
    runner.start_with("leader", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "leader").starts_with(b"go"));
    wait_for("the member to run", || !live_with_arg(&arg).is_empty());
    runner.stop("leader").unwrap();
    run_until(&mut runner, |got| {
        got.iter().any(|g| matches!(g, Got::Exited(..))) && live_with_arg(&arg).is_empty()
    });
    runner.terminate("leader").unwrap();
    // A group with nobody left at its leader's exit keeps no kill pending.
    let alone = App::new("sleep 1000").setpgrp(true).termination_grace(Duration::from_secs(3600));
    runner.add("alone", alone);
    runner.start("alone").unwrap();
    runner.stop("alone").unwrap();
    let closed = Got::Closed("alone".into());
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))) && got.contains(&closed));
    assert!(runner.is_idle(), "no timer is left for the hour's grace");
}

/// Runs this test's body in a fresh process of this binary, in a mount
/// namespace of its own where the cgroup2 mount is read-only: no cgroup
/// can be made, as on a host without delegation.
fn in_read_only_cgroups(name: &str) -> bool {
    const KEY: &str = "PROCLOOP_READ_ONLY_CGROUPS";
    if std::env::var(KEY).is_ok() {
        return true;
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(mount) = info.lines().find(|l| l.contains(" - cgroup2 ")).and_then(|l| l.split(' ').nth(4))
    else {
        eprintln!("skipped: no cgroup2 mount");
        return false;
    };
    let output = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -o remount,bind,ro \"$0\" && exec \"$@\"", mount])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(KEY, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() && !stdout.contains("running 1 test") {
        eprintln!("skipped: no mount namespace here: {}", String::from_utf8_lossy(&output.stderr));
        return false;
    }
    assert!(stdout.contains("1 passed"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    false
}

/// The fallback without a cgroup: each child leads a process group, and
/// freeze, stop and drop reach every member that stays in it (a deaf one,
/// a self-stopped one, a double-forked one), with no fd left.
#[test]
fn the_process_group_fallback_holds_a_hostile_tree() {
    if !in_read_only_cgroups("the_process_group_fallback_holds_a_hostile_tree") {
        return;
    }
    init();
    let fds = open_fds();
    let err = Runner::with_cgroups(Cgroups::Required).unwrap_err();
    assert!(matches!(err, Error::CgroupsUnavailable(_)), "{err:?}");
    assert_eq!(open_fds(), fds, "a refused Runner leaves no fd");
    let mut runner = Runner::with_cgroups(Cgroups::Preferred).unwrap();
    assert_eq!(runner.containment(), Containment::ProcessGroup);
    let arg = marker("the_process_group_fallback_holds_a_hostile_tree");
    let script = format!(
        "sh -c 'trap \"\" TERM; exec sleep {arg}' & (sleep {arg} &); sh -c 'kill -STOP $$; exec sleep {arg}' & \
         echo go; wait"
    );
    runner.add("bot", App::new("sh -c").termination_grace(Duration::from_millis(300)));
    for alias in ["stopped", "dropped"] {
        let pid = runner.start_with("bot", Start::new().alias(alias).args([script.clone()])).unwrap();
        run_until(&mut runner, |got| output_of(got, alias).starts_with(b"go"));
        wait_for("three members", || live_with_arg(&arg).len() >= 4);
        runner.freeze(alias).unwrap();
        let group = live_with_arg(&arg);
        wait_for("the whole group to stop", || {
            group.iter().all(|p| matches!(pid_state(*p), Some('T') | None))
        });
        runner.thaw(alias).unwrap();
        wait_for("the group to run again", || pid_state(pid) != Some('T'));
        if alias == "stopped" {
            runner.stop(alias).unwrap();
            run_until(&mut runner, |got| {
                got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == alias))
                    && live_with_arg(&arg).is_empty()
            });
            runner.terminate(alias).unwrap();
        }
    }
    drop(runner);
    assert!(live_with_arg(&arg).is_empty(), "ended when drop returns: {:?}", live_with_arg(&arg));
    assert_eq!(open_fds(), fds, "every fd closed");
}

/// A host out of fds (its limit lowered to what it has open): a child's
/// exit still kills what is left of its tree, and terminate and drop
/// still end every tree and remove every leaf.
#[test]
fn a_host_out_of_fds_still_ends_contained_trees() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if !in_own_process("a_host_out_of_fds_still_ends_contained_trees") {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let cgroup = cgroup_dir(&runner);
    let arg = marker("a_host_out_of_fds_still_ends_contained_trees");
    let script = format!("(setsid sleep {arg} &); echo go; read line; exit 3");
    runner.add("bot", App::new("sh -c"));
    for alias in ["exits", "terminated", "dropped"] {
        runner.start_with("bot", Start::new().alias(alias).args([script.clone()])).unwrap();
        run_until(&mut runner, |got| output_of(got, alias).starts_with(b"go"));
    }
    wait_for("three shells and three grandchildren", || live_with_arg(&arg).len() == 6);
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // Counting needs fds: the limit is raised for it, then set back.
    let count = |limit: u64| {
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        let n = live_with_arg(&arg).len();
        setrlimit(Resource::RLIMIT_NOFILE, limit, hard).unwrap();
        n
    };
    runner.get_channel("exits").unwrap().write(b"go\n").unwrap();
    let limit = open_fds() as u64;
    setrlimit(Resource::RLIMIT_NOFILE, limit, hard).unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let left_at_exit = count(limit);
    runner.terminate("terminated").unwrap();
    let left_at_terminate = count(limit);
    drop(runner);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    let left_at_drop = live_with_arg(&arg).len();
    assert!(got.contains(&Got::Exited("exits".into(), Some(3))), "{got:?}");
    assert_eq!((left_at_exit, left_at_terminate, left_at_drop), (4, 2, 0), "processes left");
    assert!(!cgroup.exists(), "{} left", cgroup.display());
}

/// `Duration::MAX` as the grace ("never SIGKILL") of a group leader and of
/// a contained child: the kill of the tree at the grace does not overflow.
#[test]
fn an_endless_grace_of_a_group_or_a_tree_does_not_panic() {
    init();
    let mut runners = vec![Runner::new().unwrap()];
    runners.extend(cgroups_here());
    for mut runner in runners {
        runner.add("sleep", App::new("sleep 1000").setpgrp(true).termination_grace(Duration::MAX));
        runner.start("sleep").unwrap();
        runner.stop("sleep").unwrap();
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
        assert!(runner.next_deadline().is_none_or(|at| at > std::time::Instant::now()));
        runner.terminate("sleep").unwrap();
    }
}

/// What exec refuses after the fork (an argument past the kernel's
/// 128 KiB per string, a directory as the program), in a cgroup or not: a
/// typed error naming the command and the OS error, nothing left.
#[test]
fn exec_refusals_are_spawn_errors_and_leave_nothing() {
    // Alone in its process: children are counted process-wide.
    if !in_own_process("exec_refusals_are_spawn_errors_and_leave_nothing") {
        return;
    }
    init();
    let mut runners = vec![Runner::new().unwrap()];
    runners.extend(cgroups_here());
    let dir = TempDir::new("exec-refusals");
    for runner in &mut runners {
        runner.add("echo", App::new("echo"));
        runner.add("dir", App::new(dir.path().display().to_string()));
        let cases = [
            ("echo", Start::new().args(["x".repeat(200_000)]), "Argument list too long"),
            ("dir", Start::new(), "Permission denied"),
        ];
        for (app, start, named) in cases {
            let children = child_pids();
            let err = runner.start_with(app, start).unwrap_err();
            assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
            assert!(err.to_string().contains(named), "{err}");
            assert_eq!(child_pids(), children, "{app}: a child left");
            assert_eq!(runner.aliases().count(), 0);
        }
        if let Containment::Cgroup { path } = runner.containment() {
            assert_eq!(leaves(&path), Vec::<PathBuf>::new(), "no leaf left");
        }
    }
}

/// A host that caps the cgroups below the Runner's: a start past the cap
/// is a typed error naming the leaf, leaves nothing, and the Runner goes on.
#[test]
fn a_start_past_the_hosts_cgroup_cap_fails_cleanly() {
    let Some(mut runner) = cgroups_here() else { return };
    let dir = cgroup_dir(&runner);
    std::fs::write(dir.join("cgroup.max.descendants"), "1").unwrap();
    runner.add("cat", App::new("cat"));
    runner.start_with("cat", Start::new().alias("first")).unwrap();
    let err = runner.start_with("cat", Start::new().alias("second")).unwrap_err();
    assert!(err.to_string().contains(&dir.join("child-2").display().to_string()), "{err}");
    assert!(err.to_string().contains("Resource temporarily unavailable"), "{err}");
    assert_eq!(leaves(&dir), vec![dir.join("child-1")]);
    assert!(!runner.is_running("second"));
    runner.terminate("first").unwrap();
    runner.start_with("cat", Start::new().alias("third")).unwrap();
    drop(runner);
    assert!(!dir.exists());
}

/// A careless host names a plain directory as the cgroup: a typed error,
/// no child, and the directory left as it was (nothing made in it).
#[test]
fn a_plain_directory_named_as_the_cgroup_is_refused_and_left_alone() {
    init();
    let dir = TempDir::new("not-a-cgroup");
    let mut reactor = procloop::Reactor::new().unwrap();
    for contained in [false, true] {
        let spawn = procloop::Spawn::new("true").cgroup(dir.path()).contained(contained);
        let err = reactor.spawn(spawn).unwrap_err();
        assert!(err.to_string().contains(&dir.path().display().to_string()), "contained {contained}: {err}");
        assert!(!contained || matches!(err, Error::CgroupsUnavailable(_)), "{err:?}");
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(entries, Vec::<PathBuf>::new(), "contained {contained}: {err}");
    }
    assert!(reactor.is_empty());
}

/// On a kernel without `cgroup.kill` (before 5.14; a shim fails its open
/// as such a kernel does: EACCES with O_CREAT, else ENOENT), the fallback
/// kill (freeze, SIGKILL each) still ends every escape.
#[test]
fn without_cgroup_kill_in_the_kernel_terminate_ends_every_escape() {
    let shim = build_shim("no_cgroup_kill");
    let name = "without_cgroup_kill_in_the_kernel_terminate_ends_every_escape";
    if !in_own_process_with(name, &[("LD_PRELOAD", shim.as_os_str())]) {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker(name);
    // The escapes hold no pipe of this test: should one outlive the test,
    // the process that runs it is not kept waiting for end of output.
    let script = format!(
        "(setsid sleep {arg} >/dev/null 2>&1 &); sh -c 'trap \"\" TERM; sleep {arg}' >/dev/null 2>&1 & echo go; wait"
    );
    runner.add("bot", App::new("sh -c").termination_grace(Duration::from_millis(100)));
    runner.start_with("bot", Start::new().args([script])).unwrap();
    run_until(&mut runner, |got| output_of(got, "bot").starts_with(b"go"));
    wait_for("the escapes", || live_with_arg(&arg).len() >= 3);
    runner.terminate("bot").unwrap();
    assert!(live_with_arg(&arg).is_empty(), "ended when terminate returns: {:?}", live_with_arg(&arg));
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new());
}

/// On a kernel with neither clone3 nor CLONE_PIDFD (two shims fake one),
/// std's fork path places the child in its leaf before its program runs,
/// and terminate still ends every escape.
#[test]
fn without_clone3_or_pidfds_a_child_is_placed_and_its_tree_ended() {
    let name = "without_clone3_or_pidfds_a_child_is_placed_and_its_tree_ended";
    if std::env::var_os("LD_PRELOAD").is_none() {
        let shims = [build_shim("no_clone3"), build_shim("fail_clone_pidfd")];
        let preload = std::env::join_paths(&shims).unwrap();
        in_own_process_with(name, &[("LD_PRELOAD", preload.as_os_str())]);
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker(name);
    let script = format!(
        "grep ^0:: /proc/self/cgroup; (setsid sleep {arg} >/dev/null 2>&1 &); echo go; exec sleep {arg}"
    );
    runner.add("bot", App::new("sh -c"));
    runner.start_with("bot", Start::new().args([script.clone()])).unwrap();
    let got = run_until(&mut runner, |got| String::from_utf8_lossy(&output_of(got, "bot")).contains("go"));
    let out = String::from_utf8_lossy(&output_of(&got, "bot")).into_owned();
    let leaf = leaves(&cgroup_dir(&runner)).pop().unwrap();
    let name = leaf.file_name().unwrap().to_string_lossy().into_owned();
    assert!(out.lines().any(|l| l.starts_with("0::") && l.ends_with(&format!("/{name}"))), "{out}");
    wait_for("the escape", || live_with_arg(&arg).len() >= 2);
    runner.terminate("bot").unwrap();
    assert!(live_with_arg(&arg).is_empty(), "ended when terminate returns: {:?}", live_with_arg(&arg));
    // Its exit found by polling (no pidfd), a stop ends the tree too.
    runner.start_with("bot", Start::new().alias("stopped").args([script])).unwrap();
    run_until(&mut runner, |got| String::from_utf8_lossy(&output_of(got, "stopped")).contains("go"));
    wait_for("the escape", || live_with_arg(&arg).len() >= 2);
    runner.stop("stopped").unwrap();
    run_until(&mut runner, |got| {
        got.iter().any(|g| matches!(g, Got::Exited(..))) && live_with_arg(&arg).is_empty()
    });
}

/// A host that forks (a pre-fork server, Python's `os.fork()` then exit):
/// the forked copy of a contained `Process` it drops must not kill the
/// parent's child nor remove its leaf (the copy's pidfd still reaches it).
#[test]
fn a_forked_copy_of_a_contained_process_leaves_the_parents_tree_alone() {
    if !in_own_process("a_forked_copy_of_a_contained_process_leaves_the_parents_tree_alone") {
        return;
    }
    // No logger: the copy's drop may log, and must take no lock for it.
    let mut reactor = procloop::Reactor::new().unwrap();
    let spawn = procloop::Spawn::new("sleep").arg("1000").contained(true);
    let started = match reactor.spawn(spawn) {
        Ok(started) => started,
        Err(Error::CgroupsUnavailable(why)) => return eprintln!("skipped: {why}"),
        Err(e) => panic!("{e}"),
    };
    let process = reactor.remove_process(started.process).unwrap();
    let pid = process.pid();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let leaf = cgroup.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_string();
    let leaf = Path::new("/sys/fs/cgroup/unified").join(leaf.trim_start_matches('/'));
    assert!(leaf.join("cgroup.procs").is_file(), "{}", leaf.display());
    // SAFETY: the child only drops its copy of the Process (no lock another
    // thread could hold: the harness's main thread only waits for this one)
    // and leaves by _exit, running nothing of the harness.
    let child = unsafe { nix::libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        drop(process);
        // SAFETY: ends the forked child at once, as a forked child must.
        unsafe { nix::libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked, into a local.
    assert_eq!(unsafe { nix::libc::waitpid(child, &mut status, 0) }, child);
    assert!(matches!(pid_state(pid), Some('S' | 'R')), "the parent's child runs on: {:?}", pid_state(pid));
    assert!(leaf.exists(), "{} is left to the parent", leaf.display());
    drop(process);
    assert!(pid_state(pid).is_none() && !leaf.exists(), "the parent's drop ends it");
}

/// A socket app whose socket never comes, having forked an escape first:
/// the failed start leaves no process of its tree and no leaf.
#[test]
fn a_failed_socket_start_ends_the_tree_it_began() {
    let Some(mut runner) = cgroups_here() else { return };
    let dir = TempDir::new("never-a-socket");
    let arg = marker("a_failed_socket_start_ends_the_tree_it_began");
    let script = format!("(setsid sleep {arg} >/dev/null 2>&1 &); exec sleep {arg}");
    let app = App::new("sh -c").socket(dir.path().join("never.sock")).socket_wait(Duration::from_millis(300));
    runner.add("bot", app);
    let err = runner.start_with("bot", Start::new().args([script.clone()])).unwrap_err();
    assert!(matches!(err, Error::SocketTimeout { .. }), "{err:?}");
    assert!(live_with_arg(&arg).is_empty(), "left: {:?}", live_with_arg(&arg));
    assert_eq!(leaves(&cgroup_dir(&runner)), Vec::<PathBuf>::new());
    // The same start in the loop: its failure comes as an event.
    runner.start_with("bot", Start::new().args([script]).nowait()).unwrap();
    let failed = |got: &[Got]| got.iter().any(|g| matches!(g, Got::StartFailed(..)));
    run_until(&mut runner, |got| failed(got) && live_with_arg(&arg).is_empty());
    assert!(!runner.aliases().any(|a| a == "bot"), "the alias is free");
    let dir = cgroup_dir(&runner);
    drop(runner);
    assert!(!dir.exists());
}

/// A `die_with_parent` start off the main thread goes through procloop's
/// spawner thread: its child is placed in its leaf all the same.
#[test]
fn a_die_with_parent_child_from_the_spawner_thread_is_in_its_leaf() {
    let Some(mut runner) = cgroups_here() else { return };
    runner.add("cat", App::new("cat /proc/self/cgroup").die_with_parent(true));
    runner.start("cat").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let out = String::from_utf8_lossy(&output_of(&got, "cat")).into_owned();
    let name = cgroup_dir(&runner).file_name().unwrap().to_string_lossy().into_owned();
    assert!(out.lines().any(|l| l.starts_with("0::") && l.contains(&format!("/{name}/child-"))), "{out}");
}
