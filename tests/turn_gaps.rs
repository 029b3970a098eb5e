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

/// A bot that prints `before` bytes of a line (no newline) at once, then,
/// once it reads a line, the rest of that line starting with "bestmove"
/// and then its real answer.
fn long_line_bot(before: usize) -> App {
    let script = format!(
        "import sys\nsys.stdout.write('a' * {before}); sys.stdout.flush()\nsys.stdin.readline()\n\
         sys.stdout.write('a' * ({long} - {before}) + 'bestmove fake\\n'); sys.stdout.flush()\n\
         sys.stdout.write('bestmove real\\n'); sys.stdout.flush()\nsys.stdin.readline()",
        long = procloop::DEFAULT_INPUT_CAPACITY,
    );
    line_app(&format!("python3 -c \"{script}\""))
}

/// Plays one turn with the prefix "bestmove" against a bot of
/// [`long_line_bot`]: the continuation of its over-long line starts with
/// the prefix but is no reply; its next line is.
fn play_long_line(runner: &mut Runner) {
    let turn = Turn::new(Duration::from_secs(10)).bot("long", "go\n").reply_prefix("bestmove");
    let id = runner.begin_turn(turn).unwrap();
    let (got, outcome) = play(runner, id, "long");
    assert!(matches!(outcome, Some(Outcome::Replied { .. })), "{outcome:?}");
    let replies: Vec<_> = got.iter().filter(|g| matches!(g, Got::Reply(_))).collect();
    assert_eq!(replies, [&Got::Reply(b"bestmove real\n".to_vec())], "{:?}", short(&got));
    assert!(got.contains(&Got::Data(b"bestmove fake\n".to_vec())), "{:?}", short(&got));
}

/// `got` with long pieces shown by their length.
fn short(got: &[Got]) -> Vec<String> {
    let show = |d: &[u8]| match d.len() {
        ..=80 => String::from_utf8_lossy(d).into_owned(),
        n => format!("{n} bytes"),
    };
    got.iter()
        .map(|g| match g {
            Got::Data(d) => format!("Data {}", show(d)),
            Got::Reply(d) => format!("Reply {}", show(d)),
        })
        .collect()
}

/// A line longer than the input capacity comes in pieces; one that starts
/// with the turn's prefix but continues the line is not the reply, whether
/// the line began during the turn or before it.
#[test]
fn a_continued_line_that_starts_with_the_prefix_is_no_reply() {
    init();
    for before in [0, procloop::DEFAULT_INPUT_CAPACITY] {
        let mut runner = Runner::new().unwrap();
        runner.add("long", long_line_bot(before));
        runner.start("long").unwrap();
        if before > 0 {
            // The line's first piece is handed before the turn begins.
            let deadline = Instant::now() + DEADLINE;
            let mut piece = 0;
            while piece == 0 {
                assert!(Instant::now() < deadline, "no first piece");
                runner
                    .poll_once(Some(Duration::from_millis(200)), |_, event| {
                        if let Event::Data { data, .. } = event {
                            piece = data.len();
                        }
                    })
                    .unwrap();
            }
            assert_eq!(piece, before);
        }
        play_long_line(&mut runner);
        runner.terminate_all();
    }
}

/// The same when the line's first piece was taken with `read` of the
/// bot's channel, not handed by the loop.
#[test]
fn a_line_continued_after_a_read_is_no_reply_either() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("long", long_line_bot(procloop::DEFAULT_INPUT_CAPACITY));
    runner.start("long").unwrap();
    let first = read_exactly(runner.get_channel("long").unwrap(), procloop::DEFAULT_INPUT_CAPACITY);
    assert!(first.iter().all(|&b| b == b'a'));
    play_long_line(&mut runner);
    runner.terminate_all();
}

/// An over-long line that ended before the turn (its last piece handed
/// with other whole lines) leaves the next line a line of its own: the
/// reply that starts it is taken.
#[test]
fn a_line_after_a_finished_long_line_may_be_the_reply() {
    init();
    let script = format!(
        "import sys\nsys.stdout.write('a' * {long} + 'tail\\nmore\\n'); sys.stdout.flush()\n\
         sys.stdin.readline()\nsys.stdout.write('bestmove ok\\n'); sys.stdout.flush()\nsys.stdin.readline()",
        long = procloop::DEFAULT_INPUT_CAPACITY,
    );
    let mut runner = Runner::new().unwrap();
    runner.add("long", line_app(&format!("python3 -c \"{script}\"")));
    runner.start("long").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut more = false;
    while !more {
        assert!(Instant::now() < deadline, "no line after the long one");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| {
                more |= matches!(event, Event::Data { data: b"more\n", .. });
            })
            .unwrap();
    }
    let turn = Turn::new(Duration::from_secs(10)).bot("long", "go\n").reply_prefix("bestmove");
    let id = runner.begin_turn(turn).unwrap();
    let (got, outcome) = play(&mut runner, id, "long");
    assert_eq!(got, [Got::Reply(b"bestmove ok\n".to_vec())]);
    assert!(matches!(outcome, Some(Outcome::Replied { .. })), "{outcome:?}");
    runner.terminate_all();
}

/// In byte mode too: a read that continues a line is no reply, though it
/// starts with the prefix; a later read that starts a line is.
#[test]
fn a_read_that_continues_a_line_is_no_reply_in_byte_mode() {
    init();
    let script = "import sys\nsys.stdout.write('info '); sys.stdout.flush()\nsys.stdin.readline()\n\
                  sys.stdout.write('bestmove fake\\n'); sys.stdout.flush()\nsys.stdin.readline()\n\
                  sys.stdout.write('bestmove real\\n'); sys.stdout.flush()\nsys.stdin.readline()";
    let mut runner = Runner::new().unwrap();
    runner.add("bytes", App::new(format!("python3 -c \"{script}\"")));
    runner.start("bytes").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut first = false;
    while !first {
        assert!(Instant::now() < deadline, "no first piece");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| {
                first |= matches!(event, Event::Data { data: b"info ", .. });
            })
            .unwrap();
    }
    let turn = Turn::new(Duration::from_secs(10)).bot("bytes", "go\n").reply_prefix("bestmove");
    let id = runner.begin_turn(turn).unwrap();
    let (mut got, mut outcome, mut ended) = (Vec::new(), None, false);
    while !ended {
        assert!(Instant::now() < deadline, "the turn never ended; got {got:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| match event {
                Event::Data { data, .. } => {
                    got.push(Got::Data(data.to_vec()));
                    // Its second answer only once its first was handed.
                    runner.get_channel("bytes").unwrap().write(b"again\n").unwrap();
                }
                Event::Reply { data, .. } => got.push(Got::Reply(data.to_vec())),
                Event::TurnEnded { turn, report } if turn == id => {
                    (outcome, ended) = (report.outcome("bytes"), true);
                }
                _ => {}
            })
            .unwrap();
    }
    assert_eq!(got, [Got::Data(b"bestmove fake\n".to_vec()), Got::Reply(b"bestmove real\n".to_vec())]);
    assert!(matches!(outcome, Some(Outcome::Replied { .. })), "{outcome:?}");
    runner.terminate_all();
}
