//! More of a hostile tester's pass over containment and spawning, beside
//! `hostile_contain.rs`: kernels without `cgroup.kill`, `clone3` or pidfds
//! (faked by shims), a forked host, starts that fail past the fd limit or
//! the host's cgroup cap, exec refusals, socket starts that never connect,
//! limit values at the ends of their range. Each checks that nothing of the
//! tree runs on, and no leaf directory and no fd is left. Where this
//! machine has no writable cgroup2 subtree, a cgroup test says why and
//! passes without checking.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use procloop::testing::open_fds;
use procloop::{App, Containment, Error, Limit, Runner, Start};
use util::*;

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

/// `Reactor::spawn` names a tree limit's bad value as the Runner does,
/// contained or not: not as a missing cgroup, which a user would fix only
/// to meet the bad value next.
#[test]
fn reactor_spawns_name_a_bad_tree_limit_value_before_a_missing_cgroup() {
    init();
    let bad = [
        (Limit::Tasks(0), "limit tasks of 0"),
        (Limit::TreeMemory(0), "limit tree_memory of 0"),
        (Limit::Cpus(f64::NAN), "limit cpus of NaN"),
    ];
    let mut reactor = procloop::Reactor::new().unwrap();
    for contained in [false, true] {
        for (limit, named) in bad {
            let err =
                reactor.spawn(procloop::Spawn::new("true").limit(limit).contained(contained)).unwrap_err();
            assert!(matches!(err, Error::InvalidSetting { .. }), "contained {contained}: {err:?}");
            assert!(err.to_string().contains(named), "{err}");
        }
    }
    assert!(reactor.is_empty());
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

/// On a kernel without `cgroup.kill` (before 5.14; a shim fails its open
/// as such a kernel does: EACCES with O_CREAT, else ENOENT), the fallback
/// kill (freeze, SIGKILL each) ends what a child left at its exit, before
/// any terminate; and terminate ends every escape.
#[test]
fn without_cgroup_kill_in_the_kernel_every_escape_is_ended() {
    let shim = build_shim("no_cgroup_kill");
    let name = "without_cgroup_kill_in_the_kernel_every_escape_is_ended";
    if !in_own_process_with(name, &[("LD_PRELOAD", shim.as_os_str())]) {
        return;
    }
    let Some(mut runner) = cgroups_here() else { return };
    let arg = marker(name);
    // The escapes hold no pipe of this test: should one outlive the test,
    // the process that runs it is not kept waiting for end of output.
    let escapes = format!(
        "(setsid sleep {arg} >/dev/null 2>&1 &); sh -c 'trap \"\" TERM; sleep {arg}' >/dev/null 2>&1 & echo go"
    );
    let app = App::new("sh -c").termination_grace(Duration::from_millis(100));
    runner.add("bot", app);
    runner.start_with("bot", Start::new().alias("exits").args([format!("{escapes}; read line")])).unwrap();
    run_until(&mut runner, |got| output_of(got, "exits").starts_with(b"go"));
    wait_for("the escapes", || live_with_arg(&arg).len() >= 3);
    runner.get_channel("exits").unwrap().write(b"go\n").unwrap();
    run_until(&mut runner, |got| {
        got.iter().any(|g| matches!(g, Got::Exited(..))) && live_with_arg(&arg).is_empty()
    });
    runner.start_with("bot", Start::new().alias("terminated").args([format!("{escapes}; wait")])).unwrap();
    run_until(&mut runner, |got| output_of(got, "terminated").starts_with(b"go"));
    wait_for("the escapes", || live_with_arg(&arg).len() >= 3);
    runner.terminate("terminated").unwrap();
    assert!(live_with_arg(&arg).is_empty(), "ended when terminate returns: {:?}", live_with_arg(&arg));
    let dir = cgroup_dir(&runner);
    drop(runner);
    assert!(!dir.exists());
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
