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

/// Writes `chunk` until the queue refuses it; returns the bytes taken.
/// The refusal is `QueueFull` naming what is queued, what was asked and
/// the limit, and takes nothing: the queue is as it was.
fn write_until_full(channel: &mut Channel, chunk: &[u8], limit: usize) -> Vec<u8> {
    let mut taken = Vec::new();
    loop {
        let before = channel.queued();
        match channel.write(chunk) {
            Ok(()) => taken.extend_from_slice(chunk),
            Err(procloop::Error::QueueFull { queued, requested, limit: named, .. }) => {
                assert_eq!((queued, requested, named), (before, chunk.len(), limit));
                assert!(queued + requested > limit && queued <= limit, "{queued} + {requested} vs {limit}");
                assert_eq!(channel.queued(), before, "a refused write took something");
                return taken;
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(taken.len() <= limit + (1 << 20), "{} bytes taken, the queue never filled", taken.len());
    }
}

/// A numbered chunk of `len` bytes, so that a lost or doubled one shows.
fn numbered(i: usize, len: usize) -> Vec<u8> {
    let mut chunk = format!("{i:08}").into_bytes();
    chunk.resize(len - 1, b'.');
    chunk.push(b'\n');
    chunk
}

/// A user who writes endlessly to a child that reads nothing (a `cat`
/// stopped by SIGSTOP): its queue stops at the limit with a typed error
/// that takes nothing (also for `write_chunks`, all or none); once the
/// child reads again, every byte taken comes back, in order, and not one
/// refused.
#[test]
fn an_endless_writer_is_refused_at_the_queue_limit_and_loses_nothing() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    init();
    const LIMIT: usize = 100_000;
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let channel = Channel::from_pipe(Some(stdout.into()), Some(stdin.into())).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let token = reactor.register(channel.with_write_queue_limit(LIMIT)).unwrap();
    let channel = reactor.channel(token).unwrap();
    let mut sent = Vec::new();
    let mut i = 0;
    loop {
        let chunk = numbered(i, 1000);
        let before = channel.queued();
        if channel.write(&chunk).is_err() {
            break;
        }
        sent.extend(chunk);
        i += 1;
        assert!(sent.len() < 4 * LIMIT + (1 << 20), "the queue never filled: {before}");
    }
    let more = write_until_full(channel, &numbered(i, 1000), LIMIT);
    assert!(more.is_empty());
    let (a, b) = (numbered(i, 40), numbered(i + 1, 40));
    let room = LIMIT - channel.queued();
    let too_big = vec![b'!'; room];
    let err = channel.write_chunks(&[&a, &too_big]).unwrap_err();
    assert!(matches!(err, procloop::Error::QueueFull { .. }), "{err}");
    assert_eq!(LIMIT - channel.queued(), room, "write_chunks took part of a refused write");
    channel.write_chunks(&[&a, &b]).unwrap();
    sent.extend(a.iter().chain(&b));
    kill(pid, Signal::SIGCONT).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < sent.len() {
        assert!(Instant::now() < deadline, "{} of {} bytes back", got.len(), sent.len());
        reactor
            .poll_once(Some(Duration::from_millis(100)), |_, e| {
                if let ReactorEvent::Data { data, .. } = e {
                    got.extend_from_slice(data);
                }
            })
            .unwrap();
    }
    assert!(got == sent, "{} bytes back of {}, or out of order", got.len(), sent.len());
    assert_eq!(reactor.channel(token).unwrap().queued(), 0);
    drop(reactor);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The same through a Runner, at the default limit (16 MiB): `freeze`
/// holds the bot, the queue stops at the limit, `thaw` lets it all through.
#[test]
fn an_endless_writer_to_a_frozen_bot_is_refused_at_the_default_limit() {
    init();
    let mut runner = procloop::Runner::new().unwrap();
    runner.add("cat", procloop::App::new("cat"));
    runner.start("cat").unwrap();
    runner.freeze("cat").unwrap();
    let limit = procloop::DEFAULT_WRITE_QUEUE_LIMIT;
    let channel = runner.get_channel("cat").unwrap();
    let mut sent = Vec::new();
    let mut i = 0;
    while channel.write(&numbered(i, 65_536)).is_ok() {
        sent.extend(numbered(i, 65_536));
        i += 1;
        assert!(sent.len() <= limit + (1 << 20), "the queue never filled");
    }
    sent.extend(write_until_full(channel, &numbered(i, 4096), limit));
    assert!(channel.queued() <= limit);
    runner.thaw("cat").unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < sent.len() {
        assert!(Instant::now() < deadline, "{} of {} bytes back", got.len(), sent.len());
        runner
            .poll_once(Some(Duration::from_millis(100)), |_, e| {
                if let procloop::Event::Data { data, .. } = e {
                    got.extend_from_slice(data);
                }
            })
            .unwrap();
    }
    assert!(got == sent, "{} bytes back of {}, or out of order", got.len(), sent.len());
    runner.terminate("cat").unwrap();
}

/// Polls `reactor` a few times with `tokens` paused: no event may come,
/// and each channel's buffer is then (and stays) at its capacity.
fn hold_paused(reactor: &mut Reactor, tokens: &[Token], capacity: usize, what: &str) {
    let full = |r: &mut Reactor| tokens.iter().all(|t| r.channel(*t).unwrap().buffered() == capacity);
    let deadline = Instant::now() + DEADLINE;
    while !full(reactor) {
        assert!(Instant::now() < deadline, "{what}: the paused buffers never filled");
        reactor
            .poll_once(Some(Duration::from_millis(50)), |_, e| panic!("{what}: paused, yet {e:?}"))
            .unwrap();
    }
    for _ in 0..5 {
        reactor
            .poll_once(Some(Duration::from_millis(10)), |_, e| panic!("{what}: paused, yet {e:?}"))
            .unwrap();
        for t in tokens {
            let held = reactor.channel(*t).unwrap().buffered();
            assert_eq!(held, capacity, "{what}: a paused buffer holds {held}");
        }
    }
}

/// The numbers `1..=n`, a line each, as `seq` writes them.
fn seq_output(n: u32) -> Vec<u8> {
    (1..=n).flat_map(|i| format!("{i}\n").into_bytes()).collect()
}

/// A child flooding stdout and stderr at once, both channels paused, in
/// a Reactor, in each mode: each buffer stops at its capacity across
/// polls (the child is held back by its full pipes), and once resumed
/// both streams come whole and in order, no piece over the capacity.
#[test]
fn a_paused_flood_on_both_outputs_is_held_and_lost_nowhere_in_a_reactor() {
    init();
    const CAPACITY: usize = 4096;
    const LINES: u32 = 60_000;
    for mode in MODES {
        let mut child = Command::new("sh")
            .args(["-c", &format!("seq 1 {LINES} >&2 & seq 1 {LINES}; wait")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reactor = Reactor::new().unwrap();
        let mut register = |fd: std::os::fd::OwnedFd| {
            let channel = Channel::from_pipe(Some(fd), None).unwrap().with_input_capacity(CAPACITY);
            let token = reactor.register(with_mode(channel, mode)).unwrap();
            assert!(reactor.pause(token));
            token
        };
        let out = register(child.stdout.take().unwrap().into());
        let err = register(child.stderr.take().unwrap().into());
        let process = reactor.add_process(child, &[out, err]).unwrap();
        hold_paused(&mut reactor, &[out, err], CAPACITY, &format!("{mode:?}"));
        assert!(reactor.resume(out) && reactor.resume(err));
        let seen = poll_until(&mut reactor, |s| s.contains(&Seen::Exited(process, 0)));
        let most = seen.iter().map(|s| if let Seen::Data(_, d) = s { d.len() } else { 0 }).max();
        assert!(most <= Some(CAPACITY), "{mode:?}: a piece of {most:?} bytes");
        for token in [out, err] {
            let data = data_of(&seen, token);
            assert!(data == seq_output(LINES), "{mode:?}: {} bytes, or out of order", data.len());
        }
    }
}

/// The same through a Runner, stdout paused (the default 64 KiB buffer)
/// while stderr is captured and handed: stdout's buffer holds at its
/// capacity, stderr goes on as events until the bot blocks on stdout;
/// once resumed, both streams whole and in order.
#[test]
fn a_paused_flood_is_held_while_stderr_flows_in_a_runner() {
    init();
    let capacity = procloop::DEFAULT_INPUT_CAPACITY;
    const LINES: u32 = 100_000;
    let script = format!("seq 1 {LINES} >&2 & seq 1 {LINES}; wait");
    for mode in MODES {
        let mut runner = procloop::Runner::new().unwrap();
        let app = procloop::App::new("sh").buffering(mode).stderr(procloop::Stderr::Capture);
        runner.add("flood", app);
        runner.start_with("flood", procloop::Start::new().args(["-c", &script])).unwrap();
        assert!(runner.pause("flood"));
        let mut stderr = Vec::new();
        let mut on_event = |e: procloop::Event<'_>| match e {
            procloop::Event::Stderr { data, .. } => stderr.extend_from_slice(data),
            other => panic!("{mode:?}: paused, yet {other:?}"),
        };
        let held = |r: &mut procloop::Runner| r.get_channel("flood").unwrap().buffered();
        let deadline = Instant::now() + DEADLINE;
        while held(&mut runner) < capacity {
            assert!(Instant::now() < deadline, "{mode:?}: the paused buffer never filled");
            runner.poll_once(Some(Duration::from_millis(50)), |_, e| on_event(e)).unwrap();
        }
        for _ in 0..5 {
            runner.poll_once(Some(Duration::from_millis(10)), |_, e| on_event(e)).unwrap();
            assert_eq!(held(&mut runner), capacity, "{mode:?}");
        }
        assert!(runner.resume("flood"));
        let got = run_until(&mut runner, |g| g.iter().any(|g| matches!(g, Got::Exited(..))));
        for g in &got {
            if let Got::Stderr(_, d) = g {
                stderr.extend_from_slice(d);
            }
        }
        let stdout = output_of(&got, "flood");
        assert!(stdout == seq_output(LINES), "{mode:?}: stdout {} bytes, or out of order", stdout.len());
        assert!(stderr == seq_output(LINES), "{mode:?}: stderr {} bytes, or out of order", stderr.len());
        runner.terminate("flood").unwrap();
    }
}

/// True in a process of the test's own; else runs the test `name` in one
/// (so that no other test's memory counts in its VmRSS) and returns false
/// once it passed there.
fn alone(name: &str) -> bool {
    if std::env::var_os("PROCLOOP_BOUNDS_ALONE").is_some() {
        return true;
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env("PROCLOOP_BOUNDS_ALONE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "{name} failed in a process of its own");
    false
}

/// This process's resident memory, in bytes.
fn vm_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

/// Many bots flooding stdout for ever (`yes`), first paused, then drained
/// one event a poll (`poll_once_max` of 1, far slower than they write):
/// the loop's memory grows by no more than a buffer a bot (a coarse
/// check of VmRSS, with 8 MiB of slack), in line and byte mode. Reads
/// happen only when no event waits, so the queue never piles up.
#[test]
fn flooding_bots_paused_or_drained_slowly_keep_the_loop_s_memory_bounded() {
    if !alone("flooding_bots_paused_or_drained_slowly_keep_the_loop_s_memory_bounded") {
        return;
    }
    init();
    const BOTS: usize = 32;
    let capacity = procloop::DEFAULT_INPUT_CAPACITY;
    for mode in [Buffering::Line, Buffering::Bytes] {
        let mut runner = procloop::Runner::new().unwrap();
        runner.add("yes", procloop::App::new("yes 0123456789abcdef").buffering(mode));
        let aliases: Vec<String> = (0..BOTS).map(|i| format!("yes{i}")).collect();
        for alias in &aliases {
            runner.start_with("yes", procloop::Start::new().alias(alias)).unwrap();
            assert!(runner.pause(alias));
        }
        let base = vm_rss();
        let bound = base + BOTS * capacity + (8 << 20);
        let deadline = Instant::now() + DEADLINE;
        let full = |r: &mut procloop::Runner| {
            aliases.iter().all(|a| r.get_channel(a).unwrap().buffered() == capacity)
        };
        while !full(&mut runner) {
            assert!(Instant::now() < deadline, "{mode:?}: the paused buffers never filled");
            runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
        }
        for _ in 0..20 {
            runner.poll_once(Some(Duration::from_millis(5)), |_, e| panic!("paused: {e:?}")).unwrap();
        }
        let paused = vm_rss();
        assert!(paused <= bound, "{mode:?} paused: {paused} bytes resident, from {base}");
        for alias in &aliases {
            assert!(runner.resume(alias));
        }
        let mut bytes = 0usize;
        for _ in 0..20_000 {
            runner
                .poll_once_max(Some(Duration::from_millis(100)), 1, |_, e| match e {
                    procloop::Event::Data { data, .. } => bytes += data.len(),
                    other => panic!("{other:?}"),
                })
                .unwrap();
        }
        let drained = vm_rss();
        assert!(drained <= bound, "{mode:?} drained slowly: {drained} bytes resident, from {base}");
        assert!(bytes > 20_000, "{mode:?}: {bytes} bytes handed in 20,000 polls");
        runner.terminate_all();
    }
}

/// Turns with a thousand bots, eight of them flooding stdout for ever
/// (`yes`: their reply is their first line, the rest comes as data): each
/// turn ends with an outcome for every bot, no turn leaves a timer armed,
/// and the loop's memory does not grow from turn to turn (VmRSS after the
/// last turn within 4 MiB of that after the fifth).
#[test]
fn turns_of_a_thousand_bots_with_floods_keep_the_loop_s_memory_flat() {
    if !alone("turns_of_a_thousand_bots_with_floods_keep_the_loop_s_memory_flat") {
        return;
    }
    init();
    let mut runner = procloop::Runner::new().unwrap();
    runner.add("cat", procloop::App::new("cat").buffering(Buffering::Line));
    runner.add("yes", procloop::App::new("yes flood").buffering(Buffering::Line));
    let mut aliases: Vec<String> = (0..992).map(|i| format!("cat{i}")).collect();
    for alias in &aliases {
        runner.start_with("cat", procloop::Start::new().alias(alias)).unwrap();
    }
    for i in 0..8 {
        let alias = format!("yes{i}");
        runner.start_with("yes", procloop::Start::new().alias(&alias)).unwrap();
        aliases.push(alias);
    }
    let mut after_fifth = 0;
    for round in 0..25 {
        let mut turn = procloop::Turn::new(Duration::from_secs(30));
        for alias in &aliases {
            turn = turn.bot(alias, format!("{alias} {round}\n"));
        }
        let id = runner.begin_turn(turn).unwrap();
        let mut report = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while report.is_none() {
            assert!(Instant::now() < deadline, "turn {round} never ended");
            runner
                .poll_once_max(Some(Duration::from_millis(100)), 256, |_, e| {
                    if let procloop::Event::TurnEnded { turn, report: r } = e {
                        assert_eq!(turn, id);
                        report = Some(r.clone());
                    }
                })
                .unwrap();
        }
        let report = report.unwrap();
        assert_eq!(report.iter().count(), aliases.len(), "turn {round}");
        let replied = report.iter().filter(|(_, o)| matches!(o, procloop::Outcome::Replied { .. })).count();
        assert_eq!(replied, aliases.len(), "turn {round}: {replied} replies");
        if round == 4 {
            after_fifth = vm_rss();
        }
    }
    let last = vm_rss();
    assert!(
        last <= after_fifth + (4 << 20),
        "VmRSS {after_fifth} after the fifth turn, {last} after the last"
    );
    runner.terminate_all();
}

/// Children flooding stdout for ever (`yes`, line mode; two over sockets,
/// which hold more than a read takes, so they never stop being readable)
/// keep a reactor's queue busy, drained 256 events a poll; a quiet channel
/// then gets a line. The loop notices it after a bounded amount of flood:
/// at most 4 MiB of it is handed first (a fill's worth queued before, and
/// the reads until the next wait, 1 MiB), however long the floods last.
/// Reads until the next wait were bounded by 1,024 of them only (64 MiB):
/// more than 4 MiB went first in two runs of three.
#[test]
fn floods_do_not_keep_a_quiet_channel_s_line_waiting_for_long() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let children: Vec<_> = [false, false, true, true].map(|socket| yes_over(&mut reactor, socket)).into();
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    let quiet = reactor.register(channel.line_buffered()).unwrap();
    let mut flood = 0usize;
    let poll = |reactor: &mut Reactor, flood: &mut usize| {
        let mut heard = false;
        reactor
            .poll_once_max(Some(Duration::from_millis(100)), 256, |_, e| match e {
                ReactorEvent::Data { token, data } if token == quiet => {
                    assert_eq!(data, b"hello\n");
                    heard = true;
                }
                ReactorEvent::Data { data, .. } => *flood += data.len(),
                other => panic!("{other:?}"),
            })
            .unwrap();
        heard
    };
    while flood < (1 << 20) {
        assert!(!poll(&mut reactor, &mut flood));
    }
    peer.put(b"hello\n");
    let before = flood;
    while !poll(&mut reactor, &mut flood) {
        assert!(flood - before <= 4 << 20, "{} bytes of flood handed, the line still waits", flood - before);
    }
    drop(reactor);
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// A `yes` child flooding its stdout, a pipe or a socket (which holds
/// more than a read takes: the flood never stops being readable), as a
/// line-mode channel of `reactor`.
fn yes_over(reactor: &mut Reactor, socket: bool) -> std::process::Child {
    if socket {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let stdout = Stdio::from(std::os::fd::OwnedFd::from(theirs));
        let child = Command::new("yes").arg("flood").stdout(stdout).spawn().unwrap();
        reactor.register(Channel::from_unix(ours).unwrap().line_buffered()).unwrap();
        return child;
    }
    let mut child = Command::new("yes").arg("flood").stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    reactor.register(Channel::from_pipe(Some(stdout.into()), None).unwrap().line_buffered()).unwrap();
    child
}

fn end_all(children: Vec<std::process::Child>) {
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// A line-mode channel paused with ten thousand short lines in its
/// buffer, resumed beside flooding neighbours: its lines come in a batch,
/// not one a fill (each fill also hands what the neighbours have, so one
/// line a fill let 10,000 fills of flood go first). At most 1 MiB of flood
/// comes before its last line.
#[test]
fn lines_held_in_a_buffer_come_in_one_batch_beside_a_flood() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let children: Vec<_> = (0..4).map(|_| yes_over(&mut reactor, false)).collect();
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    let quiet = reactor.register(channel.line_buffered()).unwrap();
    assert!(reactor.pause(quiet));
    let lines: Vec<u8> = (0..10_000).flat_map(|i| format!("{i:05}\n").into_bytes()).collect();
    peer.put(&lines);
    let (mut flood, mut got) = (0usize, Vec::new());
    let deadline = Instant::now() + DEADLINE;
    while reactor.channel(quiet).unwrap().buffered() < lines.len() {
        assert!(Instant::now() < deadline, "the lines never came");
        reactor
            .poll_once_max(Some(Duration::from_millis(100)), 256, |_, e| match e {
                ReactorEvent::Data { data, .. } => flood += data.len(),
                other => panic!("{other:?}"),
            })
            .unwrap();
    }
    assert!(reactor.resume(quiet));
    let before = flood;
    while got.len() < lines.len() {
        assert!(
            flood - before <= 1 << 20,
            "{} bytes of flood handed, {} of the lines",
            flood - before,
            got.len()
        );
        reactor
            .poll_once_max(Some(Duration::from_millis(100)), 256, |_, e| match e {
                ReactorEvent::Data { token, data } if token == quiet => got.extend_from_slice(data),
                ReactorEvent::Data { data, .. } => flood += data.len(),
                other => panic!("{other:?}"),
            })
            .unwrap();
    }
    assert_eq!(got, lines);
    end_all(children);
    drop(reactor);
}

/// One `poll_once` without a cap, among floods that never stop being
/// readable: it hands at most about 1 MiB of their output (what is read
/// between two waits), then returns; the rest comes in the next call.
#[test]
fn one_poll_hands_a_bounded_amount_of_flood() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let children: Vec<_> = (0..4).map(|_| yes_over(&mut reactor, true)).collect();
    let (mut total, mut most) = (0, 0);
    while total < 8 << 20 {
        let mut bytes = 0;
        reactor
            .poll_once(Some(Duration::from_secs(5)), |_, e| match e {
                ReactorEvent::Data { data, .. } => bytes += data.len(),
                other => panic!("{other:?}"),
            })
            .unwrap();
        (total, most) = (total + bytes, most.max(bytes));
    }
    assert!(most <= 2 << 20, "one poll handed {most} bytes");
    end_all(children);
    drop(reactor);
}

/// A channel given a huge input capacity (16 TiB): a read asks for no
/// more than a bounded amount, so nothing reserves the whole capacity
/// (which aborted the process: "memory allocation of 17592186044416 bytes
/// failed"), by `read()` or in a reactor, paused or not.
#[test]
fn a_huge_input_capacity_reserves_no_more_than_a_read() {
    init();
    const HUGE: usize = 1 << 44;
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    let mut channel = channel.with_input_capacity(HUGE);
    peer.put(b"hi");
    assert_eq!(read_some(&mut channel).unwrap(), b"hi");
    for mode in MODES {
        for paused in [false, true] {
            let mut reactor = Reactor::new().unwrap();
            let (channel, mut peer) = procloop::testing::TestChannel::pair();
            let token = reactor.register(with_mode(channel.with_input_capacity(HUGE), mode)).unwrap();
            if paused {
                reactor.pause(token);
            }
            peer.put(b"one\ntwo\n");
            let deadline = Instant::now() + DEADLINE;
            let mut got = Vec::new();
            while got.len() < 8 {
                assert!(Instant::now() < deadline, "{mode:?}, paused {paused}: {got:?}");
                reactor
                    .poll_once(Some(Duration::from_millis(50)), |_, e| match e {
                        ReactorEvent::Data { data, .. } => got.extend_from_slice(data),
                        other => panic!("{other:?}"),
                    })
                    .unwrap();
                if paused {
                    got.extend(reactor.channel(token).unwrap().read_available().unwrap());
                }
            }
            assert_eq!(got, b"one\ntwo\n", "{mode:?}, paused {paused}");
        }
    }
}
