//! `terminate_within` and `wait_ready`: the Runner's waiting calls in
//! slices, for a host that answers its own signals between them; each slice
//! goes on where the last one left off.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use procloop::{App, Error, Runner, Start};
use util::*;

const SLICE: Duration = Duration::from_millis(50);

/// Calls `slice` until it gives an outcome; fails at the deadline.
fn in_slices<T>(mut slice: impl FnMut() -> Option<T>) -> (T, usize) {
    let deadline = Instant::now() + DEADLINE;
    for calls in 1.. {
        if let Some(outcome) = slice() {
            return (outcome, calls);
        }
        assert!(Instant::now() < deadline, "no outcome after {calls} slices");
    }
    unreachable!()
}

fn terminate_in_slices(runner: &mut Runner, alias: &str) -> (ExitStatus, usize) {
    in_slices(|| runner.terminate_within(alias, SLICE).unwrap())
}

#[test]
fn a_stubborn_child_is_killed_once_its_grace_has_passed_over_the_slices() {
    let app = App::new("sh -c \"trap '' TERM; echo ready; while :; do sleep 1; done\"")
        .termination_grace(Duration::from_millis(500));
    let mut runner = runner_with("stubborn", app);
    let pid = runner.start("stubborn").unwrap();
    read_some(runner.get_channel("stubborn").unwrap()).unwrap();
    // A grace started anew by each slice would never pass.
    let (status, calls) = terminate_in_slices(&mut runner, "stubborn");
    assert_eq!(status.signal(), Some(9));
    assert!(calls > 1, "it ignored SIGTERM for its grace");
    assert_eq!(runner.pid("stubborn"), None, "the alias is free");
    assert!(!child_pids().contains(&pid), "reaped");
}

#[test]
fn a_slice_that_ends_early_leaves_the_alias_stopped_and_taken() {
    let app = App::new("sh -c \"trap '' TERM; echo ready; while :; do sleep 1; done\"")
        .termination_grace(Duration::from_secs(60));
    let mut runner = runner_with("stubborn", app);
    let pid = runner.start("stubborn").unwrap();
    read_some(runner.get_channel("stubborn").unwrap()).unwrap();
    assert_eq!(runner.terminate_within("stubborn", SLICE).unwrap(), None);
    assert!(runner.is_running("stubborn") && runner.pid("stubborn") == Some(pid));
    runner.signal("stubborn", procloop::Signal::SIGKILL).unwrap();
    let (status, _) = terminate_in_slices(&mut runner, "stubborn");
    assert_eq!(status.signal(), Some(9));
    assert!(matches!(runner.terminate_within("stubborn", SLICE), Err(Error::NoSuchProcess(_))));
}

#[test]
fn a_cooperative_child_ends_by_sigterm() {
    let mut runner = runner_with("sleep", App::new("sleep 60"));
    runner.start("sleep").unwrap();
    assert_eq!(terminate_in_slices(&mut runner, "sleep").0.signal(), Some(15));
}

#[test]
fn wait_ready_connects_a_late_socket_without_a_ready_event() {
    let dir = TempDir::new("ready-late");
    let app =
        App::new("sh -c 'sleep 0.3; exec socat SYSTEM:cat UNIX-LISTEN:sock'").socket("sock").cwd(dir.path());
    let mut runner = runner_with("late", app);
    runner.start_with("late", Start::new().nowait()).unwrap();
    in_slices(|| runner.wait_ready("late", SLICE).unwrap().then_some(()));
    runner.get_channel("late").unwrap().write(b"echo").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "late") == b"echo");
    assert!(!got.iter().any(|g| matches!(g, Got::Ready(_))), "{got:?}");
    runner.terminate("late").unwrap();
}

#[test]
fn wait_ready_gives_the_error_of_a_waiting_start_and_frees_the_alias() {
    let dir = TempDir::new("ready-never");
    let app = App::new("sleep 60").socket("sock").cwd(dir.path()).socket_wait(Duration::from_millis(300));
    let mut runner = runner_with("never", app);
    runner.add("quits", App::new("sh -c 'exit 3'").socket("sock2").cwd(dir.path()));
    let pid = runner.start_with("never", Start::new().nowait()).unwrap();
    let (error, _) = in_slices(|| runner.wait_ready("never", SLICE).err());
    assert!(matches!(error, Error::SocketTimeout { .. }), "{error}");
    runner.start_with("quits", Start::new().nowait()).unwrap();
    let (error, _) = in_slices(|| runner.wait_ready("quits", SLICE).err());
    assert!(matches!(&error, Error::SocketAppExited { status, .. } if status.code() == Some(3)), "{error}");
    assert_eq!(runner.aliases().count(), 0, "both aliases are free");
    wait_for("the app to be killed and reaped, without an event", || {
        runner.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("{e:?}")).unwrap();
        !child_pids().contains(&pid)
    });
}

#[test]
fn wait_ready_of_a_stdio_app_is_true_and_of_a_free_alias_an_error() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    assert!(runner.wait_ready("cat", Duration::ZERO).unwrap());
    assert!(matches!(runner.wait_ready("dog", Duration::ZERO), Err(Error::NoSuchProcess(_))));
}
