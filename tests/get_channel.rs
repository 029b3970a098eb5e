//! `get_channel` after its alias changed (terminated and started again,
//! restarted, another alias asked for between): always the channel of the
//! alias's current run, never one it remembered from before.

mod util;

use std::time::Duration;

use procloop::{App, Buffering, Restart, Runner, Signal, Start};
use util::*;

fn cat() -> App {
    App::new("cat").buffering(Buffering::Line)
}

/// Writes `line` to `alias` through `get_channel` and waits for its echo.
fn echoes(runner: &mut Runner, alias: &str, line: &[u8]) {
    runner.get_channel(alias).expect("a channel").write(line).unwrap();
    run_until(runner, |got| output_of(got, alias) == line);
}

#[test]
fn after_terminate_and_a_new_start_it_is_the_new_run_s() {
    let mut runner = runner_with("cat", cat());
    runner.start("cat").unwrap();
    echoes(&mut runner, "cat", b"one\n");
    runner.terminate("cat").unwrap();
    assert!(runner.get_channel("cat").is_none(), "terminated");
    runner.start("cat").unwrap();
    echoes(&mut runner, "cat", b"two\n");
}

#[test]
fn after_a_restart_it_is_the_new_run_s() {
    let app = cat().restart(Restart::Always).backoff(Duration::ZERO, Duration::ZERO);
    let mut runner = runner_with("cat", app);
    runner.start("cat").unwrap();
    echoes(&mut runner, "cat", b"one\n");
    runner.signal("cat", Signal::SIGKILL).unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Restarted(..))));
    echoes(&mut runner, "cat", b"two\n");
}

#[test]
fn two_aliases_asked_for_in_turn_each_get_their_own() {
    let mut runner = runner_with("cat", cat());
    for alias in ["a", "b"] {
        runner.start_with("cat", Start::new().alias(alias)).unwrap();
    }
    for (alias, line) in [("a", b"1\n"), ("b", b"2\n"), ("a", b"3\n"), ("b", b"4\n")] {
        echoes(&mut runner, alias, line);
    }
    runner.terminate("a").unwrap();
    assert!(runner.get_channel("a").is_none());
    echoes(&mut runner, "b", b"5\n");
}
