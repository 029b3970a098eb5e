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
use util::*;

/// A Runner with a cgroup, or `None` (and why, on stderr).
fn cgroups_here() -> Option<Runner> {
    init();
    if !is_root() {
        eprintln!("skipped: cgroup containment is tested as root only");
        return None;
    }
    match Runner::with_cgroups(Cgroups::Required) {
        Ok(runner) => Some(runner),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
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
