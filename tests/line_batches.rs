//! Lines that arrive together are handed over as a batch, one event per
//! line, while they stay in the channel's buffer: whatever a handler does
//! to the channel in the middle of a batch, every line comes exactly once,
//! in order, and a paused or dropped channel gets no more events.
//!
//! Each test runs twice: with the lines from one direct read, and with
//! them in the channel's buffer first (gathered while paused).

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use procloop::testing::TestChannel;
use procloop::{Reactor, ReactorEvent, Token};
use util::*;

const LINES: usize = 100;

fn line(i: usize) -> Vec<u8> {
    format!("line {i}\n").into_bytes()
}

fn all_lines() -> Vec<u8> {
    (0..LINES).flat_map(line).collect()
}

/// A reactor with a line-buffered channel whose peer has written every
/// line; with `buffered`, the lines already sit in the channel's buffer.
fn lines_waiting(buffered: bool) -> (Reactor, Token, TestChannel) {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut peer) = TestChannel::pair();
    let token = reactor.register(channel.line_buffered()).unwrap();
    peer.put(&all_lines());
    if buffered {
        reactor.pause(token);
        let deadline = Instant::now() + DEADLINE;
        while reactor.channel(token).unwrap().buffered() < all_lines().len() {
            assert!(Instant::now() < deadline, "the lines never reached the buffer");
            reactor.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("paused: {e:?}")).unwrap();
        }
        reactor.resume(token);
    }
    (reactor, token, peer)
}

fn data(event: ReactorEvent<'_>) -> Vec<u8> {
    match event {
        ReactorEvent::Data { data, .. } => data.to_vec(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn reading_the_channel_mid_batch_takes_the_next_line_once() {
    for buffered in [false, true] {
        let (mut reactor, token, _peer) = lines_waiting(buffered);
        let mut got = Vec::new();
        while got.len() < LINES {
            reactor
                .poll_once(Some(DEADLINE), |reactor, e| {
                    got.push(data(e));
                    if got.len() == 4 {
                        got.push(reactor.channel(token).unwrap().read().unwrap());
                    }
                })
                .unwrap();
        }
        assert_eq!(got, (0..LINES).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
    }
}

#[test]
fn pausing_mid_batch_holds_the_rest_until_resumed() {
    for buffered in [false, true] {
        let (mut reactor, token, _peer) = lines_waiting(buffered);
        let mut got = Vec::new();
        reactor
            .poll_once(Some(DEADLINE), |reactor, e| {
                got.push(data(e));
                if got.len() == 4 {
                    reactor.pause(token);
                }
            })
            .unwrap();
        assert_eq!(got.len(), 4, "buffered: {buffered}");
        reactor.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
        reactor.resume(token);
        while got.len() < LINES {
            reactor.poll_once(Some(DEADLINE), |_, e| got.push(data(e))).unwrap();
        }
        assert_eq!(got, (0..LINES).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
    }
}

#[test]
fn unregistering_mid_batch_hands_back_the_rest_unread() {
    for buffered in [false, true] {
        let (mut reactor, token, _peer) = lines_waiting(buffered);
        let mut got = Vec::new();
        let mut taken = None;
        reactor
            .poll_once(Some(DEADLINE), |reactor, e| {
                got.push(data(e));
                if got.len() == 4 {
                    taken = reactor.unregister(token);
                }
            })
            .unwrap();
        assert_eq!(got.len(), 4, "no event after unregister; buffered: {buffered}");
        let mut channel = taken.unwrap();
        while got.len() < LINES {
            got.push(read_some(&mut channel).unwrap());
        }
        assert_eq!(got, (0..LINES).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
    }
}

#[test]
fn writing_on_every_line_keeps_every_line_in_order() {
    for buffered in [false, true] {
        let (mut reactor, token, mut peer) = lines_waiting(buffered);
        let mut got = Vec::new();
        while got.len() < LINES {
            reactor
                .poll_once(Some(DEADLINE), |reactor, e| {
                    let line = data(e);
                    reactor.channel(token).unwrap().write(&line).unwrap();
                    got.push(line);
                })
                .unwrap();
        }
        assert_eq!(got, (0..LINES).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
        let mut echoed = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while echoed.len() < all_lines().len() {
            assert!(Instant::now() < deadline, "echoes missing");
            echoed.extend(peer.get());
        }
        assert_eq!(echoed, all_lines());
    }
}

#[test]
fn a_nested_poll_hands_each_line_once() {
    for buffered in [false, true] {
        let (mut reactor, _token, _peer) = lines_waiting(buffered);
        let got = Rc::new(RefCell::new(Vec::new()));
        while got.borrow().len() < LINES {
            let outer = Rc::clone(&got);
            reactor
                .poll_once(Some(DEADLINE), |reactor, e| {
                    outer.borrow_mut().push(data(e));
                    if outer.borrow().len() == 4 {
                        let inner = Rc::clone(&outer);
                        reactor
                            .poll_once(Some(Duration::ZERO), |_, e| inner.borrow_mut().push(data(e)))
                            .unwrap();
                    }
                })
                .unwrap();
        }
        assert_eq!(*got.borrow(), (0..LINES).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
    }
}

#[test]
fn leaving_line_mode_mid_batch_hands_the_rest_as_bytes() {
    for buffered in [false, true] {
        let (mut reactor, token, _peer) = lines_waiting(buffered);
        let (mut lines, mut bytes): (Vec<Vec<u8>>, Vec<u8>) = (Vec::new(), Vec::new());
        let mut chunks = 0;
        while lines.len() < 4 || bytes.len() < all_lines().len() - lines.concat().len() {
            reactor
                .poll_once(Some(DEADLINE), |reactor, e| {
                    if lines.len() < 4 {
                        lines.push(data(e));
                        if lines.len() == 4 {
                            reactor.channel(token).unwrap().set_line_buffered(false);
                        }
                    } else {
                        bytes.extend(data(e));
                        chunks += 1;
                    }
                })
                .unwrap();
        }
        assert_eq!(lines, (0..4).map(line).collect::<Vec<_>>(), "buffered: {buffered}");
        assert_eq!(bytes, (4..LINES).flat_map(line).collect::<Vec<_>>(), "buffered: {buffered}");
        assert!(chunks < LINES - 4, "{chunks} events: still one per line; buffered: {buffered}");
    }
}

/// The Runner hands batches over too: a handler that reads the child's
/// channel, then terminates it, mid-stream.
#[test]
fn a_runner_handler_that_reads_then_terminates_mid_stream() {
    use procloop::{App, Buffering, Event};
    let mut runner = runner_with("seq", App::new("seq 1 2000").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    let mut got = Vec::new();
    let mut terminated = false;
    let deadline = Instant::now() + DEADLINE;
    while !terminated {
        assert!(Instant::now() < deadline, "seq gave {} lines", got.len());
        runner
            .poll_once(Some(DEADLINE), |runner, e| {
                assert!(!terminated, "an event after terminate: {e:?}");
                let Event::Data { data, .. } = e else { return };
                got.push(data.to_vec());
                if got.len() == 10 {
                    got.push(read_some(runner.get_channel("seq").unwrap()).unwrap());
                }
                if got.len() == 1500 {
                    runner.terminate("seq").unwrap();
                    terminated = true;
                }
            })
            .unwrap();
    }
    let want: Vec<Vec<u8>> = (1..=1500).map(|i| format!("{i}\n").into_bytes()).collect();
    assert_eq!(got, want);
}

/// A handler that touches an exited child's channel while its last lines
/// and its exit wait together: the lines it did not read still come before
/// `Exited` (a grandchild keeps the pipe open, so the exit is queued right
/// behind the lines, with no `Closed` between).
#[test]
fn touching_the_channel_of_an_exited_child_keeps_exited_after_its_lines() {
    use procloop::{App, Buffering, Event};
    let app = App::new("sh -c 'seq 1 300; sleep 5 &'").buffering(Buffering::Line).setpgrp(true);
    let mut runner = runner_with("seq", app);
    runner.start("seq").unwrap();
    assert!(runner.wait("seq", DEADLINE).unwrap().is_some(), "sh is done");
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while seen.last().is_none_or(|s| s != "exited") {
        assert!(Instant::now() < deadline, "{seen:?}");
        runner
            .poll_once(Some(DEADLINE), |runner, e| match e {
                Event::Data { data, .. } => {
                    seen.push(String::from_utf8_lossy(data).trim().to_string());
                    if seen.len() == 2 {
                        runner.get_channel("seq").unwrap(); // a touch: the rest is taken back
                    }
                }
                Event::Exited { .. } => seen.push("exited".into()),
                _ => {}
            })
            .unwrap();
    }
    let want: Vec<String> = (1..=300).map(|i| i.to_string()).chain(["exited".into()]).collect();
    assert_eq!(seen, want);
    runner.terminate("seq").unwrap(); // and the sleeping grandchild with its group
}

/// A handler that polls again and so reads more while it still holds the
/// bytes of its own event: those stay what they were (the nested fill
/// starts a new scratch buffer instead of writing over them).
#[test]
fn a_nested_poll_leaves_the_outer_handlers_bytes_intact() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (first, mut first_peer) = TestChannel::pair();
    let (second, mut second_peer) = TestChannel::pair();
    reactor.register(first).unwrap();
    let inner_token = reactor.register(second).unwrap();
    first_peer.put(b"outer");
    let mut checked = false;
    let deadline = Instant::now() + DEADLINE;
    while !checked {
        assert!(Instant::now() < deadline);
        reactor
            .poll_once(Some(DEADLINE), |reactor, e| {
                let ReactorEvent::Data { token, data } = e else { return };
                assert_ne!(token, inner_token, "only the nested poll sees it");
                second_peer.put(b"INNER!");
                let mut inner = Vec::new();
                while inner.len() < 6 {
                    assert!(Instant::now() < deadline);
                    reactor
                        .poll_once(Some(DEADLINE), |_, e| {
                            if let ReactorEvent::Data { data, .. } = e {
                                inner.extend_from_slice(data);
                            }
                        })
                        .unwrap();
                }
                assert_eq!((data, inner.as_slice()), (&b"outer"[..], &b"INNER!"[..]));
                checked = true;
            })
            .unwrap();
    }
}

/// Lines of every length from 1 to 200 bytes (so ends on both sides of
/// each 64 bytes the line search looks at together, and lines longer than
/// that), handed whole and in order, by `poll_once` and by the pull form.
#[test]
fn lines_of_every_length_come_whole_and_in_order() {
    let want: Vec<Vec<u8>> = (1..=200).map(|len| [vec![b'x'; len - 1], vec![b'\n']].concat()).collect();
    for pull in [false, true] {
        init();
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut peer) = TestChannel::pair();
        reactor.register(channel.line_buffered()).unwrap();
        peer.put(&want.concat());
        let mut got = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while got.len() < want.len() {
            assert!(Instant::now() < deadline, "{} lines, pull: {pull}", got.len());
            if pull {
                reactor.wait_events(Some(DEADLINE)).unwrap();
                while let Some(event) = reactor.next_event() {
                    got.push(data(event));
                }
            } else {
                reactor.poll_once(Some(DEADLINE), |_, e| got.push(data(e))).unwrap();
            }
        }
        assert!(got == want, "pull: {pull}: lengths {:?}", got.iter().map(Vec::len).collect::<Vec<_>>());
    }
}

/// The Runner's loops (one a role): a child's stdout and captured stderr
/// lines of every length from 1 to 150 bytes, each one event, whole and in
/// order.
#[test]
fn a_runner_hands_stdout_and_stderr_lines_of_every_length_whole() {
    use procloop::{App, Buffering, Runner, Stderr};
    init();
    let command = "python3 -c 'import sys\nfor n in range(1, 151):\n    sys.stdout.write(\"o\" * (n - 1) + chr(10))\n    sys.stderr.write(\"e\" * (n - 1) + chr(10))'";
    let mut runner = Runner::new().unwrap();
    let app = App::new(command).stderr(Stderr::Capture).buffering(Buffering::Line);
    runner.add("py", app);
    runner.start("py").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    let lines = |fill: u8| (1..=150).map(|n| [vec![fill; n - 1], vec![b'\n']].concat()).collect::<Vec<_>>();
    let out: Vec<Vec<u8>> =
        got.iter().filter_map(|g| if let Got::Data(_, d) = g { Some(d.clone()) } else { None }).collect();
    let err: Vec<Vec<u8>> =
        got.iter().filter_map(|g| if let Got::Stderr(_, d) = g { Some(d.clone()) } else { None }).collect();
    assert!(out == lines(b'o'), "stdout lengths {:?}", out.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(err == lines(b'e'), "stderr lengths {:?}", err.iter().map(Vec::len).collect::<Vec<_>>());
}
