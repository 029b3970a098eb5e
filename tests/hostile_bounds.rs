//! A hostile tester's pass over resource bounds: floods, endless lines
//! and endless writes, exits mid-drain; every buffer within its bound,
//! and not a byte lost.

mod util;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procloop::{Buffering, Channel, Reactor, ReactorEvent, Token};
use util::*;

const MODES: [Buffering; 3] = [Buffering::Bytes, Buffering::Line, Buffering::WholeLines];

/// Lines of many lengths (1 to 300 bytes), so that line modes keep
/// partial lines between reads.
fn ragged_lines(total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total);
    let mut i = 0u64;
    while out.len() < total {
        let len = (i * 7919 % 300) as usize;
        out.extend(format!("{i:06}:").bytes());
        out.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, len));
        out.push(b'\n');
        i += 1;
    }
    out.truncate(total);
    out
}

fn with_mode(channel: Channel, mode: Buffering) -> Channel {
    let mut channel = channel;
    channel.set_buffering(mode);
    channel
}

/// Waits until `pid` has ended (a zombie, not reaped), so that the
/// reactor sees its exit in the same wait as its output.
fn wait_until_ended(pid: u32) {
    let deadline = Instant::now() + DEADLINE;
    while pid_state(pid) != Some('Z') {
        assert!(Instant::now() < deadline, "pid {pid} never ended");
        std::thread::yield_now();
    }
}

/// `cat` of `input` into a channel of `capacity` in `mode`, the child
/// ended (its output all in the pipe) before the reactor first looks.
fn ended_cat(input: &[u8], capacity: usize, mode: Buffering) -> (Reactor, Token, Token, TempDir) {
    let dir = TempDir::new("bounds");
    let file = dir.path().join("input");
    std::fs::write(&file, input).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let mut child = Command::new("cat").arg(&file).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let channel = Channel::from_pipe(Some(stdout.into()), None).unwrap().with_input_capacity(capacity);
    let output = reactor.register(with_mode(channel, mode)).unwrap();
    let pid = child.id();
    let process = reactor.add_process(child, &[output]).unwrap();
    wait_until_ended(pid);
    (reactor, output, process, dir)
}

/// Known item of the last pass: an exit's drain read the channel a second
/// time in the fill that had read it already, so a handler that paused it
/// on the first piece got both reads put back, twice the capacity. The
/// buffer never holds more than its capacity, no piece is longer, and
/// every byte comes once, in order, before `Exited`.
#[test]
fn a_put_back_buffer_never_holds_more_than_its_capacity() {
    init();
    const CAPACITY: usize = 4096;
    let input = ragged_lines(60_000); // fits the pipe: all there at the exit
    for mode in MODES {
        let (mut reactor, output, process, _dir) = ended_cat(&input, CAPACITY, mode);
        let (mut bytes, mut most, mut held) = (Vec::new(), 0, None);
        let mut exited = false;
        let deadline = Instant::now() + DEADLINE;
        while !exited {
            assert!(Instant::now() < deadline, "{mode:?}: no exit; {} bytes", bytes.len());
            reactor
                .poll_once(Some(Duration::from_millis(100)), |r, e| match e {
                    ReactorEvent::Data { data, .. } => {
                        assert!(!exited, "{mode:?}: data after Exited");
                        bytes.extend_from_slice(data);
                        most = most.max(data.len());
                        if held.is_none() {
                            r.pause(output);
                            held = Some(r.channel(output).unwrap().buffered());
                            r.resume(output);
                        }
                    }
                    ReactorEvent::Closed { .. } => {}
                    ReactorEvent::Exited { token, .. } => {
                        assert_eq!(token, process);
                        exited = true;
                    }
                    other => panic!("{other:?}"),
                })
                .unwrap();
        }
        let held = held.unwrap();
        assert!(held <= CAPACITY, "{mode:?}: {held} bytes put back in a buffer of {CAPACITY}");
        assert!(most <= CAPACITY, "{mode:?}: a piece of {most} bytes from a buffer of {CAPACITY}");
        assert!(bytes == input, "{mode:?}: {} of {} bytes, or out of order", bytes.len(), input.len());
    }
}

/// Checks `pieces` of `input` cut at `capacity` in line mode `mode`: each
/// ends with `\n` or is exactly `capacity` long (a piece of a long line),
/// but the last, which ends the stream; together they are `input`.
fn check_line_pieces(pieces: &[Vec<u8>], input: &[u8], capacity: usize, what: &str) {
    assert_eq!(pieces.concat(), input, "{what}: bytes lost or out of order");
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        assert!(
            piece.ends_with(b"\n") || piece.len() == capacity || last,
            "{what}: piece {i} of {} bytes, neither a line nor the capacity {capacity}",
            piece.len()
        );
        assert!(piece.len() <= capacity, "{what}: piece {i} of {} bytes", piece.len());
    }
}

/// An endless line (no newline for many times the capacity), between two
/// short ones: in line and whole-lines modes it comes in pieces of
/// exactly the capacity (a `Data` without `\n`: the line goes on), the
/// rest with its newline, then the last partial line at end of stream.
#[test]
fn an_endless_line_comes_in_capacity_sized_pieces_in_a_reactor() {
    init();
    const CAPACITY: usize = 4096;
    let mut input = b"head\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 50_000));
    input.extend(b"\nshort\ntail");
    for mode in [Buffering::Line, Buffering::WholeLines] {
        for ended in [true, false] {
            let dir = TempDir::new("endless");
            let file = dir.path().join("input");
            std::fs::write(&file, &input).unwrap();
            let mut reactor = Reactor::new().unwrap();
            let mut child = Command::new("cat").arg(&file).stdout(Stdio::piped()).spawn().unwrap();
            let stdout = child.stdout.take().unwrap();
            let channel =
                Channel::from_pipe(Some(stdout.into()), None).unwrap().with_input_capacity(CAPACITY);
            let output = reactor.register(with_mode(channel, mode)).unwrap();
            if ended {
                wait_until_ended(child.id());
            }
            let process = reactor.add_process(child, &[output]).unwrap();
            let seen = poll_until(&mut reactor, |s| s.contains(&Seen::Exited(process, 0)));
            let pieces: Vec<Vec<u8>> = seen
                .iter()
                .filter_map(|s| match s {
                    Seen::Data(_, d) => Some(d.clone()),
                    _ => None,
                })
                .collect();
            check_line_pieces(&pieces, &input, CAPACITY, &format!("{mode:?}, ended {ended}"));
        }
    }
}

/// The same through a Runner (the default 64 KiB capacity), and through
/// `read()` without a loop.
#[test]
fn an_endless_line_comes_in_capacity_sized_pieces_in_a_runner_and_by_read() {
    init();
    let capacity = procloop::DEFAULT_INPUT_CAPACITY;
    let script = "printf 'head\\n'; head -c 300000 /dev/zero | tr '\\0' x; printf '\\nshort\\ntail'";
    let mut input = b"head\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 300_000));
    input.extend(b"\nshort\ntail");
    for mode in [Buffering::Line, Buffering::WholeLines] {
        let mut runner = procloop::Runner::new().unwrap();
        runner.add("long", procloop::App::new("sh").buffering(mode));
        runner.start_with("long", procloop::Start::new().args(["-c", script])).unwrap();
        let got = run_until(&mut runner, |g| g.iter().any(|g| matches!(g, Got::Exited(..))));
        let pieces: Vec<Vec<u8>> = got
            .iter()
            .filter_map(|g| match g {
                Got::Data(_, d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        check_line_pieces(&pieces, &input, capacity, &format!("Runner, {mode:?}"));
        runner.terminate("long").unwrap();

        let (channel, mut peer) = procloop::testing::TestChannel::pair();
        let mut channel = with_mode(channel.with_input_capacity(4096), mode);
        peer.put(&input[..10_000]);
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while pieces.concat().len() < 5 + 8192 {
            assert!(Instant::now() < deadline, "read: {} bytes", pieces.concat().len());
            let piece = channel.read().unwrap();
            if !piece.is_empty() {
                pieces.push(piece);
            }
        }
        assert_eq!(pieces.iter().map(Vec::len).collect::<Vec<_>>(), [5, 4096, 4096], "read, {mode:?}");
        assert_eq!(channel.read().unwrap(), b"", "read, {mode:?}: a partial line waits");
    }
}
