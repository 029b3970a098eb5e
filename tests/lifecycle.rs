//! The loop never waits on one child: `stop`, `signal` and `wait` without
//! stalling the loop, socket apps that connect in the loop (`nowait`), and
//! `poll_once(None)` with nothing left to wait for.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Error, Event, Reactor, ReactorEvent, Restart, Runner, Signal, Start};
use util::*;

/// A child that ignores SIGTERM, says so, then sleeps.
fn stubborn() -> App {
    App::new("sh -c \"trap '' TERM; echo ready; while :; do sleep 1; done\"")
        .termination_grace(Duration::from_secs(3))
}

#[test]
fn a_stopped_stubborn_child_does_not_delay_another_childs_echo() {
    let mut runner = runner_with("stubborn", stubborn());
    runner.add("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("stubborn").unwrap();
    runner.start("cat").unwrap();
    read_some(runner.get_channel("stubborn").unwrap()).unwrap();
    runner.stop("stubborn").unwrap();
    runner.get_channel("cat").unwrap().write(b"ping\n").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "cat") == b"ping\n");
    // A stop that held the loop for the grace would hand the exit over first.
    assert!(!got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == "stubborn")), "the grace is not over");
    // The grace passes in the loop, then SIGKILL.
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert!(got.contains(&Got::Exited("stubborn".into(), None)));
    assert_eq!(runner.exit_status("stubborn").unwrap().signal(), Some(9));
}

/// Code without a loop: `stop`, then `wait` past the grace. The SIGKILL
/// is a loop timer's, and no loop runs: the wait sends it when it is due.
#[test]
fn wait_after_stop_sends_the_sigkill_at_the_grace() {
    let mut runner = runner_with("stubborn", stubborn().termination_grace(Duration::from_millis(200)));
    runner.start("stubborn").unwrap();
    read_some(runner.get_channel("stubborn").unwrap()).unwrap();
    runner.stop("stubborn").unwrap();
    let status = runner.wait("stubborn", Duration::from_secs(10)).unwrap();
    assert_eq!(status.and_then(|s| s.signal()), Some(9), "ended by the stop's SIGKILL");
}

#[test]
fn stop_twice_after_the_exit_and_of_an_unknown_alias() {
    let mut runner = runner_with("sleep", App::new("sleep 60"));
    runner.start("sleep").unwrap();
    runner.stop("sleep").unwrap();
    runner.stop("sleep").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    runner.stop("sleep").unwrap();
    assert_eq!(runner.terminate("sleep").unwrap().signal(), Some(15));
    assert!(matches!(runner.stop("sleep"), Err(Error::NoSuchProcess(a)) if a == "sleep"));
    assert!(matches!(runner.signal("nope", Signal::SIGINT), Err(Error::NoSuchProcess(_))));
    assert!(matches!(runner.wait("nope", Duration::ZERO), Err(Error::NoSuchProcess(_))));
}

#[test]
fn terminate_after_stop_waits_only_what_is_left_of_the_grace() {
    let mut runner = runner_with("stubborn", stubborn());
    runner.start("stubborn").unwrap();
    read_some(runner.get_channel("stubborn").unwrap()).unwrap();
    runner.stop("stubborn").unwrap();
    let most = runner.set_timer(Duration::from_secs(2));
    run_until(&mut runner, |got| got.contains(&Got::Timer(most)));
    let asked = Instant::now();
    assert_eq!(runner.terminate("stubborn").unwrap().signal(), Some(9));
    // What is left of the grace is 1 s at most; a fresh grace (the child
    // ignores SIGTERM) would wait the whole 3 s.
    let waited = asked.elapsed();
    assert!(waited < Duration::from_secs(3), "terminate waited {waited:?}, a whole grace");
}

#[test]
fn stop_all_stops_every_alias_without_waiting() {
    let mut runner = runner_with("sleep", App::new("sleep 60"));
    for alias in ["a", "b", "c"] {
        runner.start_with("sleep", Start::new().alias(alias)).unwrap();
    }
    runner.stop_all();
    let got = run_until(&mut runner, |got| got.iter().filter(|g| matches!(g, Got::Exited(..))).count() == 3);
    assert_eq!(
        got.iter().filter(|g| matches!(g, Got::Exited(_, None))).count(),
        3,
        "all by SIGTERM: {got:?}"
    );
}

#[test]
fn a_stopped_child_is_not_restarted() {
    let app = App::new("sleep 60").restart(Restart::Always).backoff(Duration::ZERO, Duration::ZERO);
    let mut runner = runner_with("sleep", app);
    runner.start("sleep").unwrap();
    runner.stop("sleep").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let idle = runner.set_timer(Duration::from_millis(100));
    let got = run_until(&mut runner, |got| got.contains(&Got::Timer(idle)));
    assert!(!got.iter().any(|g| matches!(g, Got::Restarted(..))), "{got:?}");
    assert!(!runner.is_running("sleep"));
}

#[test]
fn signal_reaches_the_child_and_its_group() {
    let script = "trap 'echo usr1' USR1; echo ready; while :; do sleep 0.05; done";
    let mut runner = runner_with("sh", App::new("sh -c").setpgrp(true));
    runner.start_with("sh", Start::new().args([script])).unwrap();
    assert_eq!(read_some(runner.get_channel("sh").unwrap()).unwrap(), b"ready\n");
    runner.signal("sh", Signal::SIGUSR1).unwrap();
    assert_eq!(read_some(runner.get_channel("sh").unwrap()).unwrap(), b"usr1\n");
    runner.signal("sh", Signal::SIGKILL).unwrap();
    assert_eq!(runner.wait("sh", DEADLINE).unwrap().unwrap().signal(), Some(9));
}

#[test]
fn wait_leaves_other_output_and_every_event_for_poll_once() {
    let mut runner = runner_with("echo", App::new("echo first"));
    runner.add("sleep", App::new("sleep 60"));
    runner.start("sleep").unwrap();
    runner.start("echo").unwrap();
    assert_eq!(runner.wait("sleep", Duration::from_millis(50)).unwrap(), None, "still running");
    let status = runner.wait("echo", DEADLINE).unwrap().unwrap();
    assert!(status.success());
    assert_eq!(runner.wait("echo", Duration::ZERO).unwrap(), Some(status), "asking again");
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert_eq!(output_of(&got, "echo"), b"first\n");
    assert!(got.contains(&Got::Exited("echo".into(), Some(0))));
}

#[test]
fn nowait_socket_app_that_binds_late_becomes_ready() {
    let dir = TempDir::new("nowait-late");
    // It binds only once the file `go` is there, made after start returned:
    // a start that waited for the socket would fail.
    let script = "while [ ! -e go ]; do sleep 0.01; done; exec socat SYSTEM:cat UNIX-LISTEN:sock";
    let app = App::new("sh -c").socket("sock").cwd(dir.path());
    let mut runner = runner_with("late", app);
    runner.start_with("late", Start::new().args([script]).nowait()).unwrap();
    std::fs::write(dir.path().join("go"), "").unwrap();
    assert!(runner.get_channel("late").is_none(), "no channel before Ready");
    assert!(runner.is_running("late"));
    run_until(&mut runner, |got| got.contains(&Got::Ready("late".into())));
    runner.get_channel("late").unwrap().write(b"echo").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "late") == b"echo");
    assert!(!got.iter().any(|g| matches!(g, Got::StartFailed(..))));
    runner.terminate("late").unwrap();
}

#[test]
fn nowait_socket_app_that_never_binds_fails_after_its_socket_wait() {
    let dir = TempDir::new("nowait-never");
    let app = App::new("sleep 60").socket("sock").cwd(dir.path()).socket_wait(Duration::from_millis(300));
    let mut runner = runner_with("never", app);
    let pid = runner.start_with("never", Start::new().nowait()).unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::StartFailed(..))));
    let Some(Got::StartFailed(alias, error)) = got.iter().find(|g| matches!(g, Got::StartFailed(..))) else {
        unreachable!()
    };
    assert_eq!(alias, "never");
    assert!(error.contains("did not appear within 300ms"), "{error}");
    assert_eq!(runner.aliases().count(), 0, "the alias is free again");
    wait_for("the app to be killed and reaped", || {
        runner.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("{e:?}")).unwrap();
        !child_pids().contains(&pid)
    });
}

#[test]
fn nowait_socket_app_that_exits_first_fails_at_once() {
    let dir = TempDir::new("nowait-exit");
    // A socket wait far past run_until's deadline: StartFailed must come
    // from the exit.
    let app =
        App::new("sh -c 'exit 4'").socket("sock").cwd(dir.path()).socket_wait(Duration::from_secs(3600));
    let mut runner = runner_with("quitter", app);
    runner.start_with("quitter", Start::new().nowait()).unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::StartFailed(..))));
    let failed =
        got.iter().find_map(|g| if let Got::StartFailed(_, e) = g { Some(e) } else { None }).unwrap();
    assert!(failed.contains("exit status: 4"), "{failed}");
    assert!(!got.iter().any(|g| matches!(g, Got::Exited(..))), "no Exited after StartFailed: {got:?}");
    assert_eq!(runner.aliases().count(), 0);
}

#[test]
fn poll_once_without_anything_to_wait_for_returns_at_once() {
    let mut runner = Runner::new().unwrap();
    assert_eq!(runner.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0);
    let mut reactor = Reactor::new().unwrap();
    assert_eq!(reactor.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0);
    // Once all is done, it returns again rather than waiting for ever.
    let mut runner = runner_with("true", App::new("true"));
    runner.start("true").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    runner.terminate("true").unwrap();
    assert_eq!(runner.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0);
}

#[test]
fn poll_once_with_only_a_timer_waits_for_it() {
    let mut runner = Runner::new().unwrap();
    let id = runner.set_timer(Duration::from_millis(20));
    let mut fired = None;
    runner
        .poll_once(None, |_, event| {
            if let Event::Timer { id } = event {
                fired = Some(id);
            }
        })
        .unwrap();
    assert_eq!(fired, Some(id));
}

#[test]
fn a_reactor_process_stops_with_a_kill_timer() {
    use std::process::Command;
    let mut reactor = Reactor::new().unwrap();
    let child = Command::new("sh").args(["-c", "trap '' TERM; while :; do sleep 1; done"]).spawn().unwrap();
    let token = reactor.add_process(child, &[]).unwrap();
    // Let the shell set its trap first.
    let pid = reactor.process(token).unwrap().pid();
    wait_for("the trap", || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ignored = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).map(str::trim);
        ignored.and_then(|hex| u64::from_str_radix(hex, 16).ok()).is_some_and(|mask| mask & (1 << 14) != 0)
    });
    assert!(reactor.stop_process(token, Duration::from_millis(100)).unwrap());
    let deadline = reactor.next_deadline().unwrap();
    assert!(deadline <= Instant::now() + Duration::from_millis(100), "the kill is due within the grace");
    let mut status = None;
    while status.is_none() {
        reactor
            .poll_once(Some(DEADLINE), |_, event| {
                if let ReactorEvent::Exited { status: s, .. } = event {
                    status = Some(s);
                }
            })
            .unwrap();
    }
    assert_eq!(status.unwrap().signal(), Some(9));
}

#[test]
fn poll_once_max_hands_over_at_most_its_cap_and_keeps_the_rest() {
    let mut runner = runner_with("seq", App::new("seq 5").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    assert!(runner.wait("seq", DEADLINE).unwrap().is_some());
    let mut lines = Vec::new();
    let mut exited = false;
    let deadline = Instant::now() + DEADLINE;
    while !exited {
        assert!(Instant::now() < deadline);
        let handed = runner
            .poll_once_max(Some(Duration::from_millis(100)), 2, |_, event| match event {
                Event::Data { data, .. } => lines.push(data.to_vec()),
                Event::Exited { .. } => exited = true,
                _ => {}
            })
            .unwrap();
        assert!(handed <= 2, "{handed} events in one call");
    }
    let expected: Vec<Vec<u8>> = (1..=5).map(|n| format!("{n}\n").into_bytes()).collect();
    assert_eq!(lines, expected, "every line once, in order");
}
