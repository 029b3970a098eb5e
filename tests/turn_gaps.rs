//! Turns where a user hit a gap: a bot whose write queue cannot take its
//! payload, and a reply prefix met at the start of a piece that continues
//! an over-long line.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Buffering, Error, Event, Outcome, Runner, Turn, TurnId};
use util::*;

fn line_app(command: &str) -> App {
    App::new(command).buffering(Buffering::Line)
}

/// What the loop handed for one alias, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Data(Vec<u8>),
    Reply(Vec<u8>),
}

/// Polls until `turn` ends; what `alias` sent meanwhile, and its outcome.
fn play(runner: &mut Runner, turn: TurnId, alias: &str) -> (Vec<Got>, Option<Outcome>) {
    let deadline = Instant::now() + DEADLINE;
    let (mut got, mut outcome, mut ended) = (Vec::new(), None, false);
    while !ended {
        assert!(Instant::now() < deadline, "the turn never ended; got {got:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Data { alias: a, data } if a == alias => got.push(Got::Data(data.to_vec())),
                Event::Reply { alias: a, data, .. } if a == alias => got.push(Got::Reply(data.to_vec())),
                Event::TurnEnded { turn: t, report } if t == turn => {
                    (outcome, ended) = (report.outcome(alias), true);
                }
                _ => {}
            })
            .unwrap();
    }
    (got, outcome)
}

/// Fills `alias`'s write queue to its limit exactly (the bot reads none
/// of its input, so the pipe is full too); returns what is queued.
fn fill_write_queue(runner: &mut Runner, alias: &str) -> usize {
    let channel = runner.get_channel(alias).unwrap();
    let flood = vec![b'x'; 1 << 20];
    let full = (0..64).map(|_| channel.write(&flood)).find_map(|w| w.err());
    let Some(Error::QueueFull { queued, limit, .. }) = full else { panic!("{full:?}") };
    channel.write(&vec![b'x'; limit - queued]).unwrap();
    assert_eq!(channel.queued(), limit);
    limit
}

/// A turn with a bot whose write queue has no room for its payload is
/// refused whole: `QueueFull` naming that bot, nothing written to any bot
/// (the one before it in the turn included), no turn begun.
#[test]
fn a_payload_that_does_not_fit_refuses_the_whole_turn() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", line_app("cat"));
    runner.add("deaf", line_app("sleep 60"));
    runner.start("cat").unwrap();
    runner.start("deaf").unwrap();
    let queued = fill_write_queue(&mut runner, "deaf");

    let turn = Turn::new(Duration::from_secs(10)).bot("cat", "first\n").bot("deaf", "go\n");
    let err = runner.begin_turn(turn).unwrap_err();
    match &err {
        Error::QueueFull { alias, requested, limit, .. } => {
            assert_eq!((alias.as_deref(), *requested, *limit), (Some("deaf"), 3, queued));
        }
        other => panic!("expected QueueFull, got {other}"),
    }
    assert!(err.to_string().contains("\"deaf\""), "{err}");
    assert_eq!(runner.get_channel("deaf").unwrap().queued(), queued, "something was queued");

    // No turn was begun: each bot may be in a new one, and cat got
    // nothing before this turn's payload.
    let again = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("deaf", "go\n")).unwrap_err();
    assert!(matches!(again, Error::QueueFull { .. }), "not in a turn, still full: {again}");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("cat", "second\n")).unwrap();
    let (got, outcome) = play(&mut runner, id, "cat");
    assert_eq!(got, [Got::Reply(b"second\n".to_vec())]);
    assert!(matches!(outcome, Some(Outcome::Replied { .. })), "{outcome:?}");
    assert!(runner.is_running("deaf"));
    runner.terminate_all();
}
