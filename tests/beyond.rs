//! Beyond the seed: restarts, PTY apps, die-with-parent.

mod util;

use std::time::Duration;

use procloop::{App, Buffering, Error, Restart, Runner, Start};
use util::*;

#[test]
fn crash_looping_app_restarts_then_gives_up() {
    let app = App::new("sh -c 'echo up; exit 3'")
        .restart(Restart::OnFailure)
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
        .max_restarts(3, Duration::from_secs(60));
    let mut runner = runner_with("crash", app);
    runner.start("crash").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::GaveUp(..))));
    let restarts = got.iter().filter(|e| matches!(e, Got::Restarted(_, Some(3)))).count();
    let exits = got.iter().filter(|e| matches!(e, Got::Exited(_, Some(3)))).count();
    assert_eq!((restarts, exits), (3, 4), "{got:?}");
    assert_eq!(output_of(&got, "crash"), b"up\nup\nup\nup\n", "each run's output, each before its exit");
    assert_eq!(runner.exit_status("crash").unwrap().code(), Some(3));
    assert_eq!(runner.terminate("crash").unwrap().code(), Some(3));
}

#[test]
fn on_failure_does_not_restart_a_clean_exit() {
    let app = App::new("true").restart(Restart::OnFailure).backoff(Duration::ZERO, Duration::ZERO);
    let mut runner = runner_with("ok", app);
    runner.start("ok").unwrap();
    run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    let timer = runner.set_timer(Duration::from_millis(50));
    let got = run_until(&mut runner, |g| g.contains(&Got::Timer(timer)));
    // `Closed` may come after `Exited`: another test's fork can hold the
    // pipe's write end for a moment (until it execs).
    let rest: Vec<&Got> = got.iter().filter(|g| !matches!(g, Got::Closed(_))).collect();
    assert_eq!(rest, [&Got::Timer(timer)], "no restart");
}

#[test]
fn always_restarts_with_a_fresh_channel_and_terminate_stops_it() {
    let app = App::new("cat")
        .buffering(Buffering::Line)
        .restart(Restart::Always)
        .backoff(Duration::from_millis(1), Duration::from_millis(1));
    let mut runner = runner_with("cat", app);
    let first = runner.start("cat").unwrap();
    runner.get_channel("cat").unwrap().close_write();
    run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Restarted(..))));
    let second = runner.pid("cat").unwrap();
    assert_ne!(first, second);
    let channel = runner.get_channel("cat").unwrap();
    channel.write(b"new life\n").unwrap();
    let got = run_until(&mut runner, |g| !output_of(g, "cat").is_empty());
    assert_eq!(output_of(&got, "cat"), b"new life\n");
    runner.terminate("cat").unwrap();
    assert!(runner.get_channel("cat").is_none());
    assert!(matches!(runner.terminate("cat"), Err(Error::NoSuchProcess(_))));
}

#[test]
fn terminate_cancels_a_pending_restart() {
    let app = App::new("false")
        .restart(Restart::Always)
        .backoff(Duration::from_millis(200), Duration::from_secs(1));
    let mut runner = runner_with("f", app);
    runner.start("f").unwrap();
    run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    assert_eq!(runner.terminate("f").unwrap().code(), Some(1));
    let timer = runner.set_timer(Duration::from_millis(400));
    let got = run_until(&mut runner, |g| g.contains(&Got::Timer(timer)));
    assert_eq!(got, [Got::Timer(timer)], "the restart never came");
    assert!(runner.pid("f").is_none());
}

#[test]
fn pty_app_sees_a_terminal() {
    let app = App::new("python3 -c 'import sys; print(sys.stdout.isatty(), sys.stdin.isatty())'")
        .pty(true)
        .buffering(Buffering::Line);
    let mut runner = runner_with("tty", app);
    runner.start("tty").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    assert_eq!(output_of(&got, "tty"), b"True True\r\n");
}

#[test]
fn pty_echo_and_resize() {
    let app =
        App::new("sh -c 'read line; echo \"got $line\"; stty size'").pty(true).buffering(Buffering::Line);
    let mut runner = runner_with("sh", app);
    runner.start("sh").unwrap();
    runner.resize("sh", 33, 101).unwrap();
    runner.get_channel("sh").unwrap().write(b"hello\n").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    let out = String::from_utf8(output_of(&got, "sh")).unwrap();
    assert!(out.contains("hello\r\n"), "the terminal echoes input: {out:?}");
    assert!(out.contains("got hello\r\n"), "{out:?}");
    assert!(out.contains("33 101"), "{out:?}");
}

#[test]
fn resize_of_a_pipe_app_is_a_clear_error() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let err = runner.resize("cat", 10, 10).unwrap_err();
    assert!(err.to_string().contains("not a pty app"), "{err}");
    assert!(matches!(runner.resize("ghost", 1, 1), Err(Error::NoSuchProcess(_))));
}

const HELPER: &str = "PROCLOOP_DIE_WITH_PARENT_HELPER";

/// Runs only as the helper: starts `sleep` with die_with_parent, prints
/// its pid, then waits to be killed.
#[test]
fn die_with_parent_helper() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    let mut runner = Runner::new().unwrap();
    runner.add("sleep", App::new("sleep 1000").die_with_parent(true));
    let pid = runner.start_with("sleep", Start::new()).unwrap();
    println!("child {pid}");
    loop {
        runner.poll_once(None, |_, _| {}).unwrap();
    }
}

#[test]
fn die_with_parent_child_is_gone_after_its_parent_is_killed() {
    use std::io::{BufRead, BufReader};
    init();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "die_with_parent_helper", "--nocapture", "--test-threads=1"])
        .env(HELPER, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    let pid: u32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split("child ").nth(1).map(|p| p.trim().parse().unwrap()))
        .expect("the helper reports its child");
    assert!(pid_exists(pid));
    helper.kill().unwrap();
    helper.wait().unwrap();
    wait_for("the child to die with its parent", || !pid_exists(pid) || pid_state(pid) == Some('Z'));
}

#[test]
fn terminate_all_cancels_pending_restarts() {
    let app = App::new("false")
        .restart(Restart::Always)
        .backoff(Duration::from_millis(100), Duration::from_secs(1));
    let mut runner = runner_with("f", app);
    runner.start("f").unwrap();
    run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    runner.terminate_all();
    let n = runner.poll_once(Some(Duration::from_millis(300)), |_, e| panic!("{e:?}")).unwrap();
    assert_eq!(n, 0, "the restart's timer neither fires an event nor counts as one");
    assert_eq!(runner.aliases().count(), 0);
}
