//! A turn's end comes after its last reply, one event a call under a cap,
//! and a handler that begins a turn at each end cannot keep one
//! `poll_once` going.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start, Turn};
use util::*;

fn echo_bot() -> Runner {
    let mut runner = runner_with("bot", App::new("cat").buffering(Buffering::Line));
    runner.start_with("bot", Start::new().alias("a")).unwrap();
    runner
}

#[test]
fn a_cap_on_events_leaves_the_turn_end_for_the_next_call() {
    let mut runner = echo_bot();
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("a", "1\n")).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while !seen.contains(&"ended") {
        assert!(Instant::now() < deadline, "the turn never ended: {seen:?}");
        let handed = runner
            .poll_once_max(Some(Duration::from_millis(200)), 1, |_, event| match event {
                Event::Reply { turn, .. } if turn == id => seen.push("reply"),
                Event::TurnEnded { turn, .. } if turn == id => seen.push("ended"),
                _ => {}
            })
            .unwrap();
        assert!(handed <= 1, "poll_once_max(1) handed {handed}");
    }
    assert_eq!(seen, ["reply", "ended"]);
}

#[test]
fn a_handler_that_begins_a_turn_at_each_end_does_not_keep_one_call_going() {
    // A turn of a bot that has ended ends as it begins: its end is queued
    // by begin_turn itself, inside the handler.
    let mut runner = echo_bot();
    start_and_see_exit(&mut runner, "gone", App::new("true").buffering(Buffering::Line));
    runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "x\n")).unwrap();
    for call in 0..3 {
        let mut ends = 0;
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| {
                if let Event::TurnEnded { .. } = event {
                    ends += 1;
                    runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "x\n")).unwrap();
                }
            })
            .unwrap();
        // The end owed from before the call; the one its handler made waits.
        assert_eq!(ends, 1, "call {call} handed {ends} turn ends");
    }
}
