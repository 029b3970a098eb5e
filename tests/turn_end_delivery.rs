//! A turn's end is handed by the same `poll_once` as the reply that ended
//! it, so the next call owes nothing and can wait (no extra zero-timeout
//! poll a move in a bot loop).

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
fn the_last_reply_and_the_turn_end_come_from_one_poll_once() {
    let mut runner = echo_bot();
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("a", "1\n")).unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no reply came");
        let (mut replied, mut ended) = (false, false);
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Reply { turn, .. } if turn == id => replied = true,
                Event::TurnEnded { turn, .. } if turn == id => ended = true,
                _ => {}
            })
            .unwrap();
        if replied {
            assert!(ended, "the reply came without its turn's end");
            return;
        }
        assert!(!ended, "the turn ended before its reply");
    }
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
    runner.add("gone", App::new("true").buffering(Buffering::Line));
    runner.start("gone").unwrap();
    let deadline = Instant::now() + DEADLINE;
    while runner.exit_status("gone").is_none() {
        assert!(Instant::now() < deadline, "true never exited");
        runner.poll_once(Some(Duration::from_millis(200)), |_, _| {}).unwrap();
    }
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
        // The end owed from before the call, and the one its handler made
        // (handed with the call's own events): never the next ones.
        assert!((1..=2).contains(&ends), "call {call} handed {ends} turn ends");
    }
}
