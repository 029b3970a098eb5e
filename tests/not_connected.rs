//! A socket app with no connection yet is no bot and not ready: `begin_turn`
//! and `wait_ready` name it with `Error::NotConnected` instead of calling it
//! exited or connected.

mod util;

use std::time::Duration;

use procloop::{App, Buffering, Error, Event, Outcome, Runner, Start, Turn};
use util::*;

/// A runner with `socket`, a socket app that never makes its socket (it
/// connects for as long as the test runs), started `nowait`, and `echo`, a
/// line-mode `cat`.
fn runner_with_a_connecting_socket_app(dir: &TempDir) -> Runner {
    let socket =
        App::new("sleep 1000").socket(dir.path().join("never.sock")).socket_wait(Duration::from_secs(600));
    let mut runner = runner_with("socket", socket);
    runner.add("echo", App::new("cat").buffering(Buffering::Line));
    runner.start_with("socket", Start::new().nowait()).unwrap();
    runner.start("echo").unwrap();
    runner
}

fn not_connected<T: std::fmt::Debug>(what: &str, result: procloop::Result<T>) {
    match result {
        Err(Error::NotConnected(alias)) if alias == "socket" => {}
        other => panic!("{what}: {other:?}"),
    }
}

/// The first reply of a turn of `echo` alone with `payload`.
fn echo_reply(runner: &mut Runner, payload: &str) -> Vec<u8> {
    let id = runner.begin_turn(Turn::new(DEADLINE).bot("echo", payload)).unwrap();
    let (mut reply, mut ended) = (None, false);
    let deadline = std::time::Instant::now() + DEADLINE;
    while !ended {
        assert!(std::time::Instant::now() < deadline, "the turn did not end");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Reply { data, .. } => reply = Some(data.to_vec()),
                Event::TurnEnded { turn, report } if turn == id => {
                    assert!(matches!(report.outcome("echo"), Some(Outcome::Replied { .. })));
                    ended = true;
                }
                _ => {}
            })
            .unwrap();
    }
    reply.unwrap()
}

#[test]
fn a_turn_naming_a_connecting_socket_app_is_refused_and_writes_nothing() {
    init();
    let dir = TempDir::new("turn-connecting");
    let mut runner = runner_with_a_connecting_socket_app(&dir);
    let turn = Turn::new(DEADLINE).bot("echo", "first\n").bot("socket", "move\n");
    not_connected("begin_turn", runner.begin_turn(turn));
    // Had `first` been written to `echo`, it would be its next reply.
    assert_eq!(echo_reply(&mut runner, "second\n"), b"second\n");
    runner.terminate_all();
}

#[test]
fn wait_ready_after_a_stop_that_undid_the_start_says_it_will_never_connect() {
    init();
    let dir = TempDir::new("ready-stopped");
    let mut runner = runner_with_a_connecting_socket_app(&dir);
    assert!(!runner.wait_ready("socket", Duration::ZERO).unwrap(), "still connecting");
    runner.stop("socket").unwrap();
    not_connected("wait_ready after stop", runner.wait_ready("socket", Duration::from_secs(1)));
    assert!(runner.get_channel("socket").is_none());
    runner.terminate_all();
}
