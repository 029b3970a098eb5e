//! Properties: line framing does not depend on how the bytes were chunked.

use std::time::Duration;

use procloop::testing::TestChannel;
use procloop::{Reactor, ReactorEvent};
use proptest::prelude::*;

/// The lines of `stream` as line mode should hand them: each with its
/// `\n`, the last one without if the stream does not end in one.
fn expected_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    stream.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

/// Splits `stream` at the given cut points.
fn chunks(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([stream.len()]) {
        out.push(stream[start..cut].to_vec());
        start = cut;
    }
    out
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => Just(b'\n'), 10 => any::<u8>()], 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reactor_lines_do_not_depend_on_chunking(stream in stream(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut test) = TestChannel::pair();
        let token = reactor.register(channel.line_buffered().with_input_capacity(512)).unwrap();
        let mut lines = Vec::new();
        for chunk in chunks(&stream, &cuts) {
            test.put(&chunk);
            reactor.poll_once(Some(Duration::from_millis(1)), |_, e| {
                if let ReactorEvent::Data { data, .. } = e { lines.push(data.to_vec()) }
            }).unwrap();
        }
        test.close();
        let mut closed = false;
        while !closed {
            reactor.poll_once(Some(Duration::from_secs(5)), |_, e| match e {
                ReactorEvent::Data { data, .. } => lines.push(data.to_vec()),
                ReactorEvent::Closed { token: t } => { assert_eq!(t, token); closed = true }
                _ => {}
            }).unwrap();
        }
        prop_assert_eq!(lines, expected_lines(&stream));
    }

    /// A handler that reads the channel itself, or pauses it, after some
    /// events: every line still comes once, in order, by one way or the other.
    #[test]
    fn reactor_lines_survive_a_handler_that_reads_and_pauses(
        stream in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
        reads in prop::collection::btree_set(0usize..60, 0..8),
        pauses in prop::collection::btree_set(0usize..60, 0..4),
    ) {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut test) = TestChannel::pair();
        let token = reactor.register(channel.line_buffered().with_input_capacity(512)).unwrap();
        let (mut lines, mut events, closed) = (Vec::new(), 0, std::cell::Cell::new(false));
        let mut handle = |reactor: &mut Reactor, e: ReactorEvent<'_>| {
            match e {
                ReactorEvent::Data { data, .. } => lines.push(data.to_vec()),
                ReactorEvent::Closed { .. } => closed.set(true),
                _ => {}
            }
            events += 1;
            if reactor.channel(token).is_some_and(|c| c.is_line_buffered()) && reads.contains(&events) {
                match reactor.channel(token).unwrap().read() {
                    Ok(line) if !line.is_empty() => lines.push(line),
                    _ => {}
                }
            }
            if pauses.contains(&events) {
                reactor.pause(token);
            }
        };
        for chunk in chunks(&stream, &cuts) {
            test.put(&chunk);
            reactor.poll_once(Some(Duration::from_millis(1)), &mut handle).unwrap();
            reactor.resume(token);
        }
        test.close();
        while !closed.get() {
            reactor.poll_once(Some(Duration::from_secs(5)), &mut handle).unwrap();
            reactor.resume(token);
        }
        prop_assert_eq!(lines, expected_lines(&stream));
    }

    #[test]
    fn channel_read_lines_do_not_depend_on_chunking(stream in stream(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let (channel, mut test) = TestChannel::pair();
        let mut channel = channel.line_buffered().with_input_capacity(512);
        let mut lines = Vec::new();
        for chunk in chunks(&stream, &cuts) {
            test.put(&chunk);
            loop {
                let line = channel.read().unwrap();
                if line.is_empty() { break }
                lines.push(line);
            }
        }
        test.close();
        loop {
            match channel.read() {
                Ok(line) if line.is_empty() => std::thread::yield_now(),
                Ok(line) => lines.push(line),
                Err(procloop::Error::EndpointClosed) => break,
                Err(e) => panic!("{e}"),
            }
        }
        prop_assert_eq!(lines, expected_lines(&stream));
    }
}
