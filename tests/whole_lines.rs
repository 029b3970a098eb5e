//! `Buffering::WholeLines` (issue 20): every read's whole lines in one
//! `Data` event, a partial line held until its newline, long lines and a
//! last line without `\n` handed as in line mode, and nothing lost.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use procloop::testing::TestChannel;
use procloop::{
    App, Buffering, Channel, Error, Event, Reactor, ReactorEvent, Runner, Spawn, Start, Token, Turn,
};
use util::*;

/// A small deterministic generator (no dependency for a few numbers).
struct Numbers(u64);

impl Numbers {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % n
    }
}

/// Lines of random lengths (some empty), `count` of them.
fn random_lines(numbers: &mut Numbers, count: usize) -> Vec<u8> {
    let mut text = Vec::new();
    for i in 0..count {
        let len = numbers.below(40);
        text.extend((0..len).map(|j| b'a' + ((i + j) % 26) as u8));
        text.push(b'\n');
    }
    text
}

fn whole_lines_channel(reactor: &mut Reactor) -> (Token, TestChannel) {
    let (channel, peer) = TestChannel::pair();
    (reactor.register(channel.whole_lines()).unwrap(), peer)
}

/// What one `poll_once` that does not wait hands: the data pieces.
fn poll_now(reactor: &mut Reactor) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    reactor
        .poll_once(Some(Duration::ZERO), |_, event| match event {
            ReactorEvent::Data { data, .. } => pieces.push(data.to_vec()),
            other => panic!("unexpected {other:?}"),
        })
        .unwrap();
    pieces
}

/// Polls until the channel's `Closed`; returns its data pieces before it.
fn pieces_until_closed(reactor: &mut Reactor) -> Vec<Vec<u8>> {
    let (mut pieces, mut closed) = (Vec::new(), false);
    let deadline = Instant::now() + DEADLINE;
    while !closed {
        assert!(Instant::now() < deadline, "no Closed before the deadline");
        reactor
            .poll_once(Some(DEADLINE), |_, event| match event {
                ReactorEvent::Data { data, .. } => pieces.push(data.to_vec()),
                ReactorEvent::Closed { .. } => closed = true,
                other => panic!("unexpected {other:?}"),
            })
            .unwrap();
    }
    pieces
}

/// Lines written in chunks cut at random bytes: each poll hands exactly
/// the lines the chunk completed, as one piece (none when it completed
/// none), so the pieces end where lines do and their concatenation is the
/// text.
#[test]
fn each_read_hands_exactly_the_lines_it_completed_as_one_piece() {
    init();
    for seed in 1..=5 {
        let mut numbers = Numbers(seed);
        let text = random_lines(&mut numbers, 400);
        let mut reactor = Reactor::new().unwrap();
        let (_, mut peer) = whole_lines_channel(&mut reactor);
        let (mut sent, mut handed) = (0, 0);
        let mut got = Vec::new();
        while sent < text.len() {
            let chunk = (1 + numbers.below(300)).min(text.len() - sent);
            peer.put(&text[sent..sent + chunk]);
            sent += chunk;
            let whole = text[..sent].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let pieces = poll_now(&mut reactor);
            let want: Vec<Vec<u8>> =
                if whole > handed { vec![text[handed..whole].to_vec()] } else { Vec::new() };
            assert_eq!(pieces, want, "seed {seed}, {sent} bytes sent");
            handed = whole;
            got.extend(pieces.concat());
        }
        assert_eq!(got, text, "seed {seed}");
    }
}

#[test]
fn a_partial_line_is_held_until_its_newline() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (token, mut peer) = whole_lines_channel(&mut reactor);
    peer.put(b"abc");
    assert!(poll_now(&mut reactor).is_empty(), "half a line is not handed");
    assert_eq!(reactor.channel(token).unwrap().buffered(), 3, "it waits in the channel");
    peer.put(b"def\nxy");
    assert_eq!(poll_now(&mut reactor), [b"abcdef\n".to_vec()]);
    peer.put(b"z\n1\n2\n");
    assert_eq!(poll_now(&mut reactor), [b"xyz\n1\n2\n".to_vec()]);
}

#[test]
fn end_of_stream_without_a_newline_hands_the_rest() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (_, mut peer) = whole_lines_channel(&mut reactor);
    peer.put(b"one\ntwo\nthr");
    peer.close();
    assert_eq!(pieces_until_closed(&mut reactor), [b"one\ntwo\n".to_vec(), b"thr".to_vec()]);
}

/// A line longer than the input capacity comes in capacity-sized pieces
/// (the only pieces but the last that may end mid-line), and every byte
/// comes, in order.
#[test]
fn a_line_longer_than_the_input_capacity_comes_in_pieces() {
    init();
    const CAPACITY: usize = 16;
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut peer) = TestChannel::pair();
    reactor.register(channel.whole_lines().with_input_capacity(CAPACITY)).unwrap();
    let long = [b'x'; 45];
    let text = [&b"a\n"[..], &long, b"\nb\nc\n", &long, b"\nend"].concat();
    peer.put(&text);
    peer.close();
    let pieces = pieces_until_closed(&mut reactor);
    assert_eq!(pieces.concat(), text);
    let (last, rest) = pieces.split_last().unwrap();
    assert_eq!(last, b"end");
    for piece in rest {
        assert!(piece.len() <= CAPACITY, "{piece:?}");
        assert!(piece.ends_with(b"\n") || piece.len() == CAPACITY, "cut mid-line: {piece:?}");
    }
    assert!(rest.iter().any(|p| !p.ends_with(b"\n")), "the long lines came in pieces");
    assert!(rest.iter().any(|p| p.iter().filter(|&&b| b == b'\n').count() > 1), "lines came together");
}

/// Data pieces and the channel each came from.
type Pieces = Vec<(Token, Vec<u8>)>;

/// A handler that polls again gets the events queued behind its own, and
/// the outer poll does not hand them again: each channel's pieces come
/// once, in order.
#[test]
fn a_nested_poll_inside_the_handler_keeps_order() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let mut numbers = Numbers(7);
    let mut channels = Vec::new();
    for _ in 0..3 {
        let (token, mut peer) = whole_lines_channel(&mut reactor);
        let text = random_lines(&mut numbers, 50);
        peer.put(&text);
        channels.push((token, peer, text));
    }
    let got: Rc<RefCell<Pieces>> = Rc::default();
    let record = |got: &Rc<RefCell<Pieces>>, event: ReactorEvent<'_>| match event {
        ReactorEvent::Data { token, data } => got.borrow_mut().push((token, data.to_vec())),
        other => panic!("unexpected {other:?}"),
    };
    let mut nested = 0;
    reactor
        .poll_once(Some(DEADLINE), |reactor, event| {
            record(&got, event);
            nested += reactor.poll_once(Some(Duration::ZERO), |_, event| record(&got, event)).unwrap();
        })
        .unwrap();
    assert!(nested > 0, "the nested poll handed the events queued behind");
    let got = got.borrow();
    assert_eq!(got.len(), channels.len(), "one piece a channel: {got:?}");
    for (token, _, text) in &channels {
        let mine: Vec<u8> = got.iter().filter(|(t, _)| t == token).flat_map(|(_, d)| d.clone()).collect();
        assert_eq!(&mine, text, "{token:?}");
    }
}

/// `max_events` counts pieces, each with all the lines of its read.
#[test]
fn max_events_caps_pieces() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let texts = [&b"1\n2\n3\n"[..], b"a\nb\n"];
    for text in texts {
        let (_, mut peer) = whole_lines_channel(&mut reactor);
        peer.put(text);
        std::mem::forget(peer); // open to the end of the test: no Closed
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < texts.len() {
        assert!(Instant::now() < deadline, "the pieces never came");
        let before = got.len();
        let handed = reactor
            .poll_once_max(Some(DEADLINE), 1, |_, event| match event {
                ReactorEvent::Data { data, .. } => got.push(data.to_vec()),
                other => panic!("unexpected {other:?}"),
            })
            .unwrap();
        assert!(handed <= 1 && got.len() - before == handed, "{handed} handed");
    }
    got.sort();
    assert_eq!(got, [b"1\n2\n3\n".to_vec(), b"a\nb\n".to_vec()]);
}

/// Without a reactor, `read` returns all the whole lines there are, or
/// nothing; at end of stream the rest, then `EndpointClosed`.
#[test]
fn the_facade_read_returns_whole_lines_only() {
    init();
    let (channel, mut peer) = TestChannel::pair();
    let mut channel = channel.whole_lines();
    peer.put(b"1\n2\n3");
    assert_eq!(channel.read().unwrap(), b"1\n2\n");
    assert_eq!(channel.read().unwrap(), b"", "half a line is not handed");
    peer.put(b"\n4\n5");
    assert_eq!(channel.read().unwrap(), b"3\n4\n");
    peer.close();
    assert_eq!(channel.read().unwrap(), b"5");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
}

#[test]
fn the_mode_is_set_got_and_line_mode_keeps_its_meaning() {
    let (channel, _peer) = TestChannel::pair();
    let mut channel: Channel = channel.whole_lines();
    assert_eq!(channel.buffering(), Buffering::WholeLines);
    assert!(!channel.is_line_buffered(), "line mode is Buffering::Line only");
    channel.set_line_buffered(true);
    assert_eq!(channel.buffering(), Buffering::Line);
    channel.set_line_buffered(false);
    assert_eq!(channel.buffering(), Buffering::Bytes);
    channel.set_buffering(Buffering::WholeLines);
    assert_eq!(channel.buffering(), Buffering::WholeLines);
}

/// The pieces of an app (by its `App` or its `Start`) come as
/// `Event::Data` naming the alias.
#[test]
fn runner_data_events_carry_the_alias() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("p", App::new("printf 'one\\ntwo\\nthree'").buffering(Buffering::WholeLines));
    runner.add("q", App::new("printf 'one\\ntwo\\nthree'"));
    runner.start_with("p", Start::new().alias("by-app")).unwrap();
    runner.start_with("q", Start::new().alias("by-start").buffering(Buffering::WholeLines)).unwrap();
    let mut pieces: Vec<(String, Vec<u8>)> = Vec::new();
    // Until Closed, which comes after the last line (see a_spawn_takes_the_mode).
    let mut closed = 0;
    let deadline = Instant::now() + DEADLINE;
    while closed < 2 {
        assert!(Instant::now() < deadline, "the apps' stdout never closed");
        runner
            .poll_once(Some(DEADLINE), |_, event| match event {
                Event::Data { alias, data } => pieces.push((alias.to_string(), data.to_vec())),
                Event::Closed { .. } => closed += 1,
                _ => {}
            })
            .unwrap();
    }
    for alias in ["by-app", "by-start"] {
        let mine: Vec<&[u8]> = pieces.iter().filter(|(a, _)| a == alias).map(|(_, d)| d.as_slice()).collect();
        assert_eq!(mine, [&b"one\ntwo\n"[..], b"three"], "{alias}");
    }
}

/// A `Spawn` on a bare reactor takes the mode too.
#[test]
fn a_spawn_takes_the_mode() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let started = reactor.spawn(Spawn::new("printf 'a\\nb\\nc'").buffering(Buffering::WholeLines)).unwrap();
    // Until Closed: a child another thread's test forks may hold the pipe
    // a while (until its exec), and the last line waits for end of stream.
    let (mut pieces, mut closed) = (Vec::new(), false);
    let deadline = Instant::now() + DEADLINE;
    while !closed {
        assert!(Instant::now() < deadline, "the pipe never closed");
        reactor
            .poll_once(Some(DEADLINE), |_, event| match event {
                ReactorEvent::Data { token, data } if token == started.channel => pieces.push(data.to_vec()),
                ReactorEvent::Closed { token } => closed |= token == started.channel,
                _ => {}
            })
            .unwrap();
    }
    assert_eq!(pieces, [b"a\nb\n".to_vec(), b"c".to_vec()]);
}

/// A turn's reply is one line: a bot in whole-lines mode is refused, and
/// the bots named before it are not left in a turn.
#[test]
fn a_turn_refuses_a_whole_lines_bot() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("line", App::new("cat").buffering(Buffering::Line));
    runner.add("whole", App::new("cat").buffering(Buffering::WholeLines));
    runner.start("line").unwrap();
    runner.start("whole").unwrap();
    let turn = Turn::new(Duration::from_secs(5)).bot("line", "x\n").bot("whole", "x\n");
    let err = runner.begin_turn(turn).unwrap_err();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("\"whole\"") && message.contains("Buffering::Line"), "{message}");
    let alone = Turn::new(Duration::from_secs(5)).bot("line", "x\n");
    runner.begin_turn(alone).expect("the line bot is in no turn");
    runner.terminate_all();
}

#[cfg(feature = "serde")]
#[test]
fn a_config_names_it_whole_lines() {
    let app: App = serde_json::from_str(r#"{"command": "cat", "buffering": "whole_lines"}"#).unwrap();
    assert!(format!("{app:?}").contains("buffering: WholeLines"), "{app:?}");
    let start: Start = serde_json::from_str(r#"{"buffering": "whole_lines"}"#).unwrap();
    assert!(format!("{start:?}").contains("WholeLines"), "{start:?}");
}
