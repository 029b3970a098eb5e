//! The line cursor under the cases a review of issue 20 hunted for: a
//! handler that panics mid-batch, `max_events` cutting a batch, a nested
//! `poll_once_max` starting a cursor at an odd place, lines around the 64
//! bytes the newline mask covers, and lines longer than the channel holds.
//! Every byte comes once, in order.

mod util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use procloop::testing::TestChannel;
use procloop::{App, Buffering, Event, Reactor, ReactorEvent};
use util::*;

fn line_of(len: usize, fill: u8) -> Vec<u8> {
    [vec![fill; len - 1], vec![b'\n']].concat()
}

/// Lines whose ends fall on each side of 64-byte blocks wherever the
/// batch starts: lengths 63, 64 and 65 and their neighbours, mixed.
fn around_the_mask() -> Vec<Vec<u8>> {
    let lengths = [63, 64, 65, 1, 62, 66, 127, 128, 129, 2, 191, 192, 193, 64, 64, 63, 65];
    lengths
        .iter()
        .cycle()
        .take(120)
        .enumerate()
        .map(|(i, &len)| line_of(len, b'a' + (i % 26) as u8))
        .collect()
}

fn data(event: ReactorEvent<'_>) -> Vec<u8> {
    match event {
        ReactorEvent::Data { data, .. } => data.to_vec(),
        other => panic!("unexpected {other:?}"),
    }
}

fn reactor_with(lines: &[Vec<u8>], capacity: Option<usize>) -> (Reactor, TestChannel) {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (mut channel, mut peer) = TestChannel::pair();
    if let Some(bytes) = capacity {
        channel = channel.with_input_capacity(bytes);
    }
    reactor.register(channel.line_buffered()).unwrap();
    peer.put(&lines.concat());
    (reactor, peer)
}

/// A handler that panics on some lines: the loop goes on with the next
/// line on the next poll, none lost and none handed twice.
#[test]
fn a_handler_that_panics_mid_batch_loses_and_doubles_no_line() {
    let want = around_the_mask();
    let (mut reactor, _peer) = reactor_with(&want, None);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    let mut panics = 0;
    while got.len() < want.len() {
        assert!(Instant::now() < deadline, "{} lines", got.len());
        let polled = catch_unwind(AssertUnwindSafe(|| {
            reactor.poll_once(Some(DEADLINE), |_, e| {
                got.push(data(e));
                if got.len() % 7 == 3 {
                    panic!("handler fault at line {}", got.len());
                }
            })
        }));
        panics += usize::from(polled.is_err());
    }
    assert!(panics >= 10, "only {panics} panics");
    assert!(got == want, "lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
}

/// The same through a Runner, where each role's lines have a loop of their own.
#[test]
fn a_runner_handler_that_panics_mid_batch_loses_and_doubles_no_line() {
    init();
    let command = "python3 -c 'import sys\nfor n in range(1, 301):\n    sys.stdout.write(str(n) * (n % 70 + 1) + chr(10))'";
    let mut runner = runner_with("py", App::new(command).buffering(Buffering::Line));
    runner.start("py").unwrap();
    let want: Vec<Vec<u8>> =
        (1..301).map(|n: usize| format!("{}\n", n.to_string().repeat(n % 70 + 1)).into_bytes()).collect();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < want.len() {
        assert!(Instant::now() < deadline, "{} lines", got.len());
        let _ = catch_unwind(AssertUnwindSafe(|| {
            runner.poll_once(Some(Duration::from_millis(500)), |_, e| {
                if let Event::Data { data, .. } = e {
                    got.push(data.to_vec());
                    if got.len() % 5 == 2 {
                        panic!("handler fault at line {}", got.len());
                    }
                }
            })
        }));
    }
    assert!(got == want, "lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
}

/// `poll_once_max` hands at most its cap, cutting batches anywhere; the
/// next call goes on where it stopped.
#[test]
fn max_events_cuts_a_batch_and_the_next_poll_goes_on() {
    let want = around_the_mask();
    for cap in [1, 2, 3, 5, 64] {
        let (mut reactor, _peer) = reactor_with(&want, None);
        let mut got = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while got.len() < want.len() {
            assert!(Instant::now() < deadline, "{} lines, cap {cap}", got.len());
            let handed = reactor.poll_once_max(Some(DEADLINE), cap, |_, e| got.push(data(e))).unwrap();
            assert!(handed <= cap, "{handed} events under a cap of {cap}");
        }
        assert!(got == want, "cap {cap}: lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
    }
}

/// A nested `poll_once_max` inside a line handler starts its own cursor
/// mid-batch, at an offset that is no multiple of 64, and hands a few
/// lines; the outer cursor stops and the outer loop goes on after them.
#[test]
fn nested_capped_polls_start_cursors_mid_block() {
    let want = around_the_mask();
    let (mut reactor, _peer) = reactor_with(&want, None);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < want.len() {
        assert!(Instant::now() < deadline, "{} lines", got.len());
        reactor
            .poll_once(Some(DEADLINE), |reactor, e| {
                got.push(data(e));
                if got.len() % 4 == 1 {
                    let mut inner = Vec::new();
                    reactor.poll_once_max(Some(Duration::ZERO), 2, |_, e| inner.push(data(e))).unwrap();
                    got.extend(inner);
                }
            })
            .unwrap();
    }
    assert!(got == want, "lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
}

/// A line longer than the channel's capacity comes in pieces of at most
/// the capacity (no byte lost), and the lines around it whole.
#[test]
fn a_line_longer_than_the_capacity_comes_in_pieces_and_the_others_whole() {
    let want =
        [line_of(10, b'a'), line_of(100, b'b'), line_of(32, b'c'), line_of(33, b'd'), line_of(5, b'e')];
    for pull in [false, true] {
        let (mut reactor, _peer) = reactor_with(&want, Some(32));
        let mut got: Vec<Vec<u8>> = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while got.concat().len() < want.concat().len() {
            assert!(Instant::now() < deadline, "{got:?}");
            if pull {
                reactor.wait_events(Some(DEADLINE)).unwrap();
                while let Some(e) = reactor.next_event() {
                    got.push(data(e));
                }
            } else {
                reactor.poll_once(Some(DEADLINE), |_, e| got.push(data(e))).unwrap();
            }
        }
        assert_eq!(got.concat(), want.concat(), "pull: {pull}");
        assert!(got.iter().all(|piece| piece.len() <= 32), "pull: {pull}: {got:?}");
        for short in [&want[0], &want[2], &want[4]] {
            assert!(got.contains(short), "pull: {pull}: {short:?} not whole in {got:?}");
        }
    }
}

/// stdout and captured stderr lines of one child, written in turns, each
/// come whole, in order on their own stream, under a cap of 3 events.
#[test]
fn stdout_and_stderr_interleaved_under_a_cap_come_whole_and_in_order() {
    use procloop::Stderr;
    init();
    let command = "python3 -c 'import sys\nfor n in range(1, 200):\n    sys.stdout.write(\"o\" * n + chr(10)); sys.stdout.flush()\n    sys.stderr.write(\"e\" * (200 - n) + chr(10)); sys.stderr.flush()'";
    let app = App::new(command).stderr(Stderr::Capture).buffering(Buffering::Line);
    let mut runner = runner_with("py", app);
    runner.start("py").unwrap();
    let (mut out, mut err, mut exited) = (Vec::new(), Vec::new(), false);
    let deadline = Instant::now() + DEADLINE;
    while !exited {
        assert!(Instant::now() < deadline, "{} out, {} err", out.len(), err.len());
        runner
            .poll_once_max(Some(Duration::from_millis(500)), 3, |_, e| match e {
                Event::Data { data, .. } => out.push(data.to_vec()),
                Event::Stderr { data, .. } => err.push(data.to_vec()),
                Event::Exited { .. } => exited = true,
                _ => {}
            })
            .unwrap();
    }
    let want = |fill: u8, len: &dyn Fn(usize) -> usize| {
        (1..200).map(|n| line_of(len(n) + 1, fill)).collect::<Vec<_>>()
    };
    assert!(out == want(b'o', &|n| n), "stdout lengths {:?}", out.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(
        err == want(b'e', &|n| 200 - n),
        "stderr lengths {:?}",
        err.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

/// A Runner handler that polls again from inside a batch of a bot's
/// lines, capped: every line once, in order.
#[test]
fn a_runner_handler_that_polls_again_mid_batch() {
    init();
    let mut runner = runner_with("seq", App::new("seq 1 3000").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < 3000 {
        assert!(Instant::now() < deadline, "{} lines", got.len());
        runner
            .poll_once(Some(Duration::from_millis(500)), |runner, e| {
                let Event::Data { data, .. } = e else { return };
                got.push(data.to_vec());
                if got.len() % 9 == 4 {
                    let mut inner = Vec::new();
                    runner
                        .poll_once_max(Some(Duration::ZERO), 3, |_, e| {
                            if let Event::Data { data, .. } = e {
                                inner.push(data.to_vec());
                            }
                        })
                        .unwrap();
                    got.extend(inner);
                }
            })
            .unwrap();
    }
    let want: Vec<Vec<u8>> = (1..=3000).map(|i| format!("{i}\n").into_bytes()).collect();
    assert!(got == want, "first difference at {:?}", got.iter().zip(&want).position(|(g, w)| g != w));
}

/// A handler of one channel's batch that touches another channel whose
/// lines are queued behind it: both channels' lines each come once, in
/// order (the other's partly by the handler's own read).
#[test]
fn touching_another_channel_mid_batch_keeps_both_whole() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (first, mut first_peer) = TestChannel::pair();
    let (second, mut second_peer) = TestChannel::pair();
    let a = reactor.register(first.line_buffered()).unwrap();
    let b = reactor.register(second.line_buffered()).unwrap();
    let want_a = around_the_mask();
    let want_b: Vec<Vec<u8>> = (0..50).map(|i| format!("b{i}\n").into_bytes()).collect();
    first_peer.put(&want_a.concat());
    second_peer.put(&want_b.concat());
    let (mut got_a, mut got_b, mut read_b): (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<u8>) =
        (Vec::new(), Vec::new(), Vec::new());
    let deadline = Instant::now() + DEADLINE;
    while got_a.len() < want_a.len() || got_b.concat().len() + read_b.len() < want_b.concat().len() {
        assert!(Instant::now() < deadline, "{} and {} lines", got_a.len(), got_b.len());
        reactor
            .poll_once(Some(Duration::from_millis(200)), |reactor, e| {
                let ReactorEvent::Data { token, data } = e else { return };
                if token == a {
                    got_a.push(data.to_vec());
                    if got_a.len() == 3 {
                        read_b = reactor.channel(b).unwrap().read().unwrap();
                    }
                } else {
                    got_b.push(data.to_vec());
                }
            })
            .unwrap();
    }
    assert!(got_a == want_a, "lengths {:?}", got_a.iter().map(Vec::len).collect::<Vec<_>>());
    assert_eq!([read_b, got_b.concat()].concat(), want_b.concat());
}

/// The pull form (`next_event`) with a read of the channel between two
/// lines of a batch: the read takes the next line, and the events go on
/// after it, each line once.
#[test]
fn a_read_between_pulled_lines_takes_the_next_line_once() {
    let want = around_the_mask();
    let (mut reactor, _peer) = reactor_with(&want, None);
    let token = {
        let (mut got, deadline) = (Vec::new(), Instant::now() + DEADLINE);
        let mut token = None;
        while got.len() < want.len() {
            assert!(Instant::now() < deadline, "{} lines", got.len());
            reactor.wait_events(Some(DEADLINE)).unwrap();
            while let Some(ReactorEvent::Data { token: t, data }) = reactor.next_event() {
                got.push(data.to_vec());
                token = Some(t);
                if got.len() % 10 == 3 {
                    got.push(reactor.channel(t).unwrap().read().unwrap());
                }
            }
        }
        assert!(got == want, "lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
        token.unwrap()
    };
    assert_eq!(reactor.channel(token).unwrap().buffered(), 0, "nothing left behind");
}
