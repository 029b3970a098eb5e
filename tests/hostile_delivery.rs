//! A hostile tester's pass over event delivery and turns: handlers that
//! poll again, pause, read, write or begin turns mid-batch, against real
//! children; every byte once and in order, and no call that hangs.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Buffering, Error, Event, Runner, Start};
use util::*;

/// A deterministic choice maker for the handlers below (xorshift).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

/// What a chaotic handler saw of one alias, in order.
#[derive(Default)]
struct Seen {
    /// Every byte of output, from events and from the handler's own reads.
    bytes: Vec<u8>,
    /// The events, as letters: D data, R a read of its own, C closed, X
    /// exited; and the handler's acts: ( ) a nested poll, P pause, U resume, W write.
    order: String,
    paused: bool,
    paused_at_exit: bool,
    closed_by_read: bool,
}

/// A handler that, on each event, may poll again (up to three levels),
/// read the channel, pause or resume it, or write to it.
fn chaos(runner: &mut Runner, event: Event<'_>, seen: &mut Seen, dice: &mut Dice, depth: u32) {
    match event {
        Event::Data { data, .. } => {
            seen.bytes.extend_from_slice(data);
            seen.order.push('D');
        }
        Event::Closed { .. } => seen.order.push('C'),
        Event::Exited { .. } => {
            seen.order.push('X');
            seen.paused_at_exit = seen.paused;
        }
        other => panic!("unexpected {other:?}"),
    }
    match dice.roll(8) {
        0 | 1 if depth < 3 => {
            let max = 1 + dice.roll(3) as usize;
            seen.order.push('(');
            runner
                .poll_once_max(Some(Duration::ZERO), max, |r, e| chaos(r, e, seen, dice, depth + 1))
                .unwrap();
            seen.order.push(')');
        }
        2 => {
            if let Some(channel) = runner.get_channel("chaos") {
                match channel.read() {
                    Ok(bytes) if !bytes.is_empty() => {
                        seen.bytes.extend_from_slice(&bytes);
                        seen.order.push('R');
                    }
                    Ok(_) => {}
                    Err(Error::EndpointClosed) => seen.closed_by_read = true,
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
        3 => {
            seen.paused = runner.pause("chaos");
            seen.order.push('P');
        }
        4 => {
            runner.resume("chaos");
            seen.paused = false;
            seen.order.push('U');
        }
        5 => {
            // Its stdin was closed: a write fails cleanly, and takes
            // back what was queued of the channel's output.
            if let Some(channel) = runner.get_channel("chaos") {
                assert!(matches!(channel.write(b"late\n"), Err(Error::EndpointClosed)));
                seen.order.push('W');
            }
        }
        _ => {}
    }
}

/// Runs `cat` on `input` in `buffering`, with a chaotic handler seeded
/// `seed`; returns what it saw.
fn run_chaos(input: &[u8], buffering: Buffering, seed: u64, max_events: usize) -> Seen {
    let mut runner = runner_with("cat", App::new("cat").buffering(buffering).setpgrp(true));
    runner.start_with("cat", Start::new().alias("chaos")).unwrap();
    let channel = runner.get_channel("chaos").unwrap();
    channel.write(input).unwrap();
    channel.close_write();
    let (mut seen, mut dice) = (Seen::default(), Dice(seed | 1));
    let deadline = Instant::now() + DEADLINE;
    while !seen.order.contains('X') || (!seen.order.contains('C') && !seen.closed_by_read) {
        assert!(Instant::now() < deadline, "seed {seed}: no end; {} bytes, {}", seen.bytes.len(), seen.order);
        runner
            .poll_once_max(
                Some(Duration::from_millis(if seen.paused { 0 } else { 100 })),
                max_events,
                |r, e| chaos(r, e, &mut seen, &mut dice, 0),
            )
            .unwrap();
        seen.order.push('|');
        // A pause lasts a poll or two: the rest comes in good time.
        if seen.paused && dice.roll(2) == 0 {
            runner.resume("chaos");
            seen.paused = false;
            seen.order.push('u');
        }
    }
    // What a last pause held back is still there.
    runner.resume("chaos");
    let _ = runner.poll_once(Some(Duration::ZERO), |r, e| chaos(r, e, &mut seen, &mut dice, 3));
    if let Some(channel) = runner.get_channel("chaos") {
        while let Ok(bytes) = channel.read() {
            if bytes.is_empty() {
                break;
            }
            seen.bytes.extend_from_slice(&bytes);
            seen.order.push('R');
        }
    }
    runner.terminate("chaos").unwrap();
    seen
}

/// Lines of random lengths (some empty, some longer than 64 bytes), a
/// CR or a NUL here and there, and no final newline.
fn awkward_input(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = random_bytes(len, seed);
    for b in bytes.iter_mut() {
        *b = match *b {
            0..=12 => b'\n',
            13..=15 => b'\r',
            16..=18 => 0,
            b => b'a' + b % 26,
        };
    }
    if bytes.last() == Some(&b'\n') {
        bytes.push(b'z');
    }
    bytes
}

/// Every byte a child wrote comes once, in order, whatever a handler does
/// mid-batch (polls again, reads, pauses, resumes, writes), in every mode
/// and under every cap; `Closed` and `Exited` once each, after the bytes
/// (unless a pause held them back past the exit).
#[test]
fn a_chaotic_handler_loses_no_byte_in_any_mode() {
    for seed in 1..=24u64 {
        let input = awkward_input(seed, 20_000 + seed as usize * 3_001);
        let buffering = [Buffering::Bytes, Buffering::Line, Buffering::WholeLines][seed as usize % 3];
        let max_events = [usize::MAX, 1, 2, 7][seed as usize % 4];
        let seen = run_chaos(&input, buffering, seed, max_events);
        assert!(
            seen.bytes == input,
            "seed {seed} {buffering:?} cap {max_events}: {} bytes of {}, first difference at {:?}; {}",
            seen.bytes.len(),
            input.len(),
            seen.bytes.iter().zip(&input).position(|(a, b)| a != b),
            seen.order
        );
        assert_eq!(seen.order.matches('X').count(), 1, "seed {seed}: {}", seen.order);
        assert!(seen.order.matches('C').count() <= 1, "seed {seed}: {}", seen.order);
        let last_data = seen.order.rfind(['D', 'R']).unwrap_or(0);
        if let Some(closed) = seen.order.find('C') {
            assert!(closed > last_data, "seed {seed}: data after Closed: {}", seen.order);
        }
        if !seen.paused_at_exit {
            let exited = seen.order.find('X').unwrap();
            assert!(exited > last_data, "seed {seed}: data after Exited: {}", seen.order);
        }
    }
}

/// A child that writes and exits while its channel is paused: `Exited`
/// comes (a pause holds bytes, not the exit), and once resumed, every byte
/// and then `Closed`.
#[test]
fn a_child_that_exits_while_paused_hands_everything_once_resumed() {
    for buffering in [Buffering::Bytes, Buffering::Line, Buffering::WholeLines] {
        let input = awkward_input(7, 32_004);
        let mut runner = runner_with("cat", App::new("cat").buffering(buffering));
        runner.start("cat").unwrap();
        assert!(runner.pause("cat"));
        let channel = runner.get_channel("cat").unwrap();
        channel.write(&input).unwrap();
        channel.close_write();
        let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
        assert_eq!(output_of(&got, "cat"), b"", "{buffering:?}: paused, yet data came");
        assert!(runner.resume("cat"));
        let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Closed(..))));
        assert!(
            output_of(&got, "cat") == input,
            "{buffering:?}: {} bytes of {}",
            output_of(&got, "cat").len(),
            input.len()
        );
        runner.terminate("cat").unwrap();
    }
}

/// A handler that touches the channel (a write, a read, a pause and
/// resume) while a batch of an exited child's lines is queued: the lines
/// it puts back come before `Exited`, every one of them.
#[test]
fn touching_an_exited_child_s_channel_mid_batch_keeps_exited_last() {
    let input: Vec<u8> = (0..6000).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
    for touch in ["write", "read", "pause"] {
        for buffering in [Buffering::Line, Buffering::Bytes] {
            let mut runner = runner_with("cat", App::new("cat").buffering(buffering));
            runner.start("cat").unwrap();
            let channel = runner.get_channel("cat").unwrap();
            channel.write(&input).unwrap();
            channel.close_write();
            // The exit is seen by the first poll, with all the output.
            assert!(runner.wait("cat", DEADLINE).unwrap().is_some());
            let (mut bytes, mut order, mut events) = (Vec::new(), String::new(), 0);
            let deadline = Instant::now() + DEADLINE;
            while !order.contains('X') {
                assert!(Instant::now() < deadline, "{touch} {buffering:?}: no exit; {order}");
                runner
                    .poll_once(Some(Duration::from_millis(100)), |r, e| {
                        events += 1;
                        match e {
                            Event::Data { data, .. } => {
                                bytes.extend_from_slice(data);
                                order.push('D');
                            }
                            Event::Closed { .. } => order.push('C'),
                            Event::Exited { .. } => order.push('X'),
                            other => panic!("{other:?}"),
                        }
                        if events % 3 != 1 || order.contains('X') {
                            return;
                        }
                        match touch {
                            "write" => assert!(r.get_channel("cat").unwrap().write(b"x").is_err()),
                            "read" => match r.get_channel("cat").unwrap().read() {
                                Ok(more) => {
                                    bytes.extend_from_slice(&more);
                                    order.push('R');
                                }
                                Err(Error::EndpointClosed) => order.push('E'),
                                Err(e) => panic!("read: {e}"),
                            },
                            _ => {
                                r.pause("cat");
                                r.resume("cat");
                            }
                        }
                    })
                    .unwrap();
            }
            let last_data = order.rfind(['D', 'R']).unwrap();
            assert!(last_data < order.find('X').unwrap(), "{touch} {buffering:?}: data after Exited");
            assert!(bytes == input, "{touch} {buffering:?}: {} bytes of {}", bytes.len(), input.len());
            runner.terminate("cat").unwrap();
        }
    }
}

/// Waits until `pid` has ended (a zombie: not reaped, so the reactor still
/// finds its exit), or fails at the deadline.
fn wait_until_ended(pid: u32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(')').next().unwrap().split_whitespace().next().unwrap();
        if state == "Z" {
            return;
        }
        assert!(Instant::now() < deadline, "pid {pid} still in state {state}");
        std::thread::yield_now();
    }
}

/// A child whose exit is seen while a small channel still has much to
/// drain, and a handler that reads the channel on the first line (taking
/// back the lines queued, from the channel's own read and from the exit's
/// drain): every byte once, all of them before `Exited`, and no more bytes
/// put back than the channel holds.
#[test]
fn a_read_mid_batch_while_an_exit_drains_keeps_exited_last() {
    use std::process::{Command, Stdio};
    init();
    let dir = TempDir::new("drain");
    let file = dir.0.join("lines");
    for (lines, touch_at) in [(700, 1), (700, 2), (5000, 1), (5000, 5), (5000, 300)] {
        let input: Vec<u8> = (0..lines).flat_map(|i| format!("line {i:05}\n").into_bytes()).collect();
        std::fs::write(&file, &input).unwrap();
        let mut reactor = procloop::Reactor::new().unwrap();
        let mut child = Command::new("cat").arg(&file).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let channel = procloop::Channel::from_pipe(Some(stdout.into()), None).unwrap();
        let output = reactor.register(channel.with_input_capacity(4096).line_buffered()).unwrap();
        let pid = child.id();
        let process = reactor.add_process(child, &[output]).unwrap();
        wait_until_ended(pid);
        let (mut bytes, mut order, mut handed) = (Vec::new(), String::new(), 0);
        let deadline = Instant::now() + DEADLINE;
        while !order.contains('X') {
            assert!(Instant::now() < deadline, "touch at {touch_at}: no exit; {} bytes", bytes.len());
            reactor
                .poll_once(Some(Duration::from_millis(100)), |r, e| match e {
                    procloop::ReactorEvent::Data { data, .. } => {
                        bytes.extend_from_slice(data);
                        order.push('D');
                        handed += 1;
                        if handed == touch_at {
                            let line = r.channel(output).unwrap().read().unwrap();
                            bytes.extend_from_slice(&line);
                        }
                    }
                    procloop::ReactorEvent::Closed { .. } => order.push('C'),
                    procloop::ReactorEvent::Exited { token, .. } => {
                        assert_eq!(token, process);
                        order.push('X');
                    }
                    other => panic!("{other:?}"),
                })
                .unwrap();
        }
        let exited = order.find('X').unwrap();
        assert!(
            bytes.len() == input.len() && !order[exited..].contains('D'),
            "{lines} lines, touch at {touch_at}: {} of {} bytes, {} lines after Exited",
            bytes.len(),
            input.len(),
            order[exited..].matches('D').count()
        );
        assert!(bytes == input, "touch at {touch_at}: bytes out of order");
    }
}

/// A child that ended while its channel was paused, its `Exited` handed:
/// nothing can come until the user resumes, so `poll_once(None)` returns
/// at once (it waited for ever); once resumed, the bytes and `Closed` come.
#[test]
fn a_paused_channel_at_its_end_leaves_the_loop_idle() {
    let mut runner = runner_with("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    assert!(runner.pause("cat"));
    let channel = runner.get_channel("cat").unwrap();
    channel.write(b"held\nback").unwrap();
    channel.close_write();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert_eq!(output_of(&got, "cat"), b"");
    let deadline = Instant::now() + DEADLINE;
    while !runner.is_idle() {
        assert!(Instant::now() < deadline, "never idle while paused at the end");
        runner.poll_once(Some(Duration::from_millis(100)), |_, e| panic!("paused: {e:?}")).unwrap();
    }
    assert_eq!(runner.poll_once(None, |_, e| panic!("paused: {e:?}")).unwrap(), 0);
    assert!(runner.resume("cat"));
    assert!(!runner.is_idle(), "resumed, it has bytes to hand");
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Closed(..))));
    assert_eq!(output_of(&got, "cat"), b"held\nback");
    assert!(runner.is_idle());
    runner.terminate("cat").unwrap();
}

/// Polls until turn `id` ends; returns its report and the events, as
/// text, in the order they came.
fn play_turn(runner: &mut Runner, id: procloop::TurnId) -> (procloop::TurnReport, Vec<String>) {
    let deadline = Instant::now() + DEADLINE;
    let (mut report, mut events) = (None, Vec::new());
    while report.is_none() {
        assert!(Instant::now() < deadline, "the turn never ended: {events:?}");
        runner
            .poll_once(Some(Duration::from_millis(100)), |_, e| match e {
                Event::Reply { turn, alias, data, .. } if turn == id => {
                    events.push(format!("reply {alias} {}", String::from_utf8_lossy(data)))
                }
                Event::TurnEnded { turn, report: r } if turn == id => report = Some(r.clone()),
                other => events.extend(as_text(&other)),
            })
            .unwrap();
    }
    (report.unwrap(), events)
}

fn line_bots(command: &str, aliases: &[&str], app: impl Fn(App) -> App) -> Runner {
    let mut runner = runner_with("bot", app(App::new(command).buffering(Buffering::Line)));
    for alias in aliases {
        runner.start_with("bot", Start::new().alias(*alias)).unwrap();
    }
    runner
}

/// A bank of `Duration::MAX` ("never time out") neither overflows a
/// deadline nor a CPU backstop: the silent bot's turn ends when it is
/// stopped, the echo's reply costs its bank nothing, and both banks stay.
#[test]
fn an_endless_bank_overflows_nothing() {
    for charge in [procloop::Charge::Wall, procloop::Charge::Cpu] {
        let mut runner = line_bots("cat", &["echo"], |app| app.overage(Duration::MAX));
        runner.add("silent", App::new("sleep 600").overage(Duration::MAX).termination_grace(Duration::ZERO));
        runner.start("silent").unwrap();
        let turn = procloop::Turn::new(Duration::from_millis(1)).bot("echo", "hi\n").bot("silent", "hi\n");
        let id = runner.begin_turn(turn.charge(charge)).unwrap();
        runner.stop("silent").unwrap();
        let (report, _) = play_turn(&mut runner, id);
        assert_eq!(report.outcome("silent"), Some(procloop::Outcome::Exited), "{charge:?}");
        assert!(matches!(report.outcome("echo"), Some(procloop::Outcome::Replied { .. })), "{charge:?}");
        let left = runner.overage_left("echo").unwrap();
        assert!(left > Duration::from_secs(1 << 40), "{charge:?}: the bank went down to {left:?}");
        runner.terminate_all();
    }
}

/// Bots that misbehave mid-turn, each its own way: one writes half a line
/// and exits, one closes its stdout and lingers, one floods, one exits at
/// once; the turn ends with an outcome for each, no event twice, and
/// every byte of the flood after the reply comes as data.
#[test]
fn bots_that_misbehave_mid_turn_each_get_an_outcome() {
    let mut runner = runner_with("bot", App::new("true").buffering(Buffering::Line));
    let apps = [
        ("half", "sh -c 'read x; printf half; exit 3'"),
        ("mute", "sh -c 'read x; exec >&-; read y'"),
        ("flood", "sh -c 'read x; seq 1 20000'"),
        ("gone", "sh -c 'exit 0'"),
    ];
    for (name, command) in apps {
        runner.add(name, App::new(command).buffering(Buffering::Line).termination_grace(Duration::ZERO));
        runner.start(name).unwrap();
    }
    let mut turn = procloop::Turn::new(Duration::from_secs(2));
    for (name, _) in apps {
        turn = turn.bot(name, "go\n");
    }
    let id = runner.begin_turn(turn).unwrap();
    let (report, events) = play_turn(&mut runner, id);
    use procloop::Outcome::*;
    assert!(matches!(report.outcome("flood"), Some(Replied { .. })), "{report:?}");
    assert_eq!(report.outcome("mute"), Some(TimedOut), "{report:?}");
    assert_eq!(report.outcome("gone"), Some(Exited), "{report:?}");
    // Half a line, then the exit: the piece is handed (as the reply, or
    // as data after a time-out on a loaded machine), and before `Exited`.
    let half = events.iter().position(|e| e.ends_with(" half half")).expect("half a line came");
    if let Some(exited) = events.iter().position(|e| e == "exited half") {
        assert!(half < exited, "{events:?}");
    }
    let mut flood = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    let mut rest = events.clone();
    while !rest.iter().any(|e| e == "closed flood") {
        assert!(Instant::now() < deadline, "the flood never ended");
        rest.extend(play_more(&mut runner));
    }
    for e in &rest {
        if let Some(line) = e.strip_prefix("reply flood ").or_else(|| e.strip_prefix("data flood ")) {
            flood.push(line.trim_end().parse::<u32>().unwrap());
        }
    }
    assert!(flood.iter().copied().eq(1..=20000), "{} lines of the flood, in order?", flood.len());
    assert_eq!(rest.iter().filter(|e| e.starts_with("reply flood")).count(), 1);
    runner.terminate_all();
}

/// One poll's events, as text.
fn play_more(runner: &mut Runner) -> Vec<String> {
    let mut events = Vec::new();
    runner.poll_once(Some(Duration::from_millis(100)), |_, e| events.extend(as_text(&e))).unwrap();
    events
}

/// A `Data`, `Closed` or `Exited` event as text ("data bot old\n").
fn as_text(event: &Event<'_>) -> Option<String> {
    match event {
        Event::Data { alias, data } => Some(format!("data {alias} {}", String::from_utf8_lossy(data))),
        Event::Closed { alias } => Some(format!("closed {alias}")),
        Event::Exited { alias, .. } => Some(format!("exited {alias}")),
        _ => None,
    }
}

/// A bot frozen between turns that is killed from outside while frozen:
/// its `Exited` comes, the next turn (begun in the handler of the last
/// one's end) gives it `Exited` at once and thaws the other bot, which
/// replies.
#[test]
fn a_bot_killed_while_frozen_is_exited_in_the_next_turn() {
    let mut runner = line_bots("cat", &["a", "b"], |app| app.setpgrp(true));
    let first =
        procloop::Turn::new(Duration::from_secs(10)).bot("a", "1\n").bot("b", "1\n").freeze_between(true);
    let id = runner.begin_turn(first).unwrap();
    let (report, _) = play_turn(&mut runner, id);
    assert!(report.iter().all(|(_, o)| matches!(o, procloop::Outcome::Replied { .. })), "{report:?}");
    let pid = runner.pid("a").unwrap() as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == "a")));
    assert!(!got.iter().any(|g| matches!(g, Got::Exited(b, _) if b == "b")), "b is frozen, not ended");
    let second =
        procloop::Turn::new(Duration::from_secs(10)).bot("a", "2\n").bot("b", "2\n").freeze_between(true);
    let id = runner.begin_turn(second).unwrap();
    let (report, events) = play_turn(&mut runner, id);
    assert_eq!(report.outcome("a"), Some(procloop::Outcome::Exited), "{events:?}");
    assert!(matches!(report.outcome("b"), Some(procloop::Outcome::Replied { .. })), "{events:?}");
    assert!(events.contains(&"reply b 2\n".to_string()), "{events:?}");
    runner.terminate_all();
}

/// A third turn begun from the handler of the second's `TurnEnded`, for a
/// bot frozen by the second: it is thawed and replies.
#[test]
fn a_turn_begun_in_turn_ended_thaws_the_bot_the_last_one_froze() {
    let mut runner = line_bots("cat", &["a"], |app| app.setpgrp(true));
    let mut current = runner.begin_turn(turn_of(1)).unwrap();
    let (mut replies, mut ended) = (Vec::new(), 0);
    let deadline = Instant::now() + DEADLINE;
    while ended < 3 {
        assert!(Instant::now() < deadline, "stuck after {ended} turns, replies {replies:?}");
        runner
            .poll_once(Some(Duration::from_millis(100)), |r, e| match e {
                Event::Reply { data, .. } => replies.push(data.to_vec()),
                Event::TurnEnded { turn, report } if turn == current => {
                    assert!(
                        matches!(report.outcome("a"), Some(procloop::Outcome::Replied { .. })),
                        "{report:?}"
                    );
                    ended += 1;
                    if ended < 3 {
                        current = r.begin_turn(turn_of(ended + 1)).unwrap();
                    }
                }
                _ => {}
            })
            .unwrap();
    }
    assert_eq!(replies, [b"1\n".to_vec(), b"2\n".to_vec(), b"3\n".to_vec()]);
    runner.terminate_all();
}

fn turn_of(n: u32) -> procloop::Turn {
    procloop::Turn::new(Duration::from_secs(10)).bot("a", format!("{n}\n")).freeze_between(true)
}

/// Under `Charge::Cpu` with a cgroup, a bot whose grandchild burns the CPU
/// is charged for it: it times out, though its own process sleeps and it
/// replies before the wall-time backstop (ten deadlines).
#[test]
fn cpu_charge_counts_a_grandchild_s_burn() {
    init();
    let mut runner = match Runner::with_cgroups(procloop::Cgroups::Required) {
        Ok(runner) => runner,
        Err(e) => return eprintln!("skipped: {e}"),
    };
    // The burner runs on after the reply: nothing of its CPU time reaches
    // the bot's own clock through a reaped child's.
    let burn = "sh -c 'read x; timeout 3 sh -c \"while :; do :; done\" & sleep 1.5; echo done'";
    runner.add("burner", App::new(burn).buffering(Buffering::Line));
    runner.start("burner").unwrap();
    // 200 ms of CPU in 1.5 s of wall time: a seventh of a CPU, however
    // loaded the machine; the backstop (ten deadlines) is at 2 s.
    let turn =
        procloop::Turn::new(Duration::from_millis(200)).bot("burner", "go\n").charge(procloop::Charge::Cpu);
    let id = runner.begin_turn(turn).unwrap();
    let (report, events) = play_turn(&mut runner, id);
    assert_eq!(report.outcome("burner"), Some(procloop::Outcome::TimedOut), "{events:?}");
    runner.terminate_all();
}

/// What a reactor handler saw, with the pull form mixed in.
#[derive(Default)]
struct Pulled {
    bytes: Vec<u8>,
    order: String,
}

fn note(seen: &mut Pulled, event: procloop::ReactorEvent<'_>) {
    match event {
        procloop::ReactorEvent::Data { data, .. } => {
            seen.bytes.extend_from_slice(data);
            seen.order.push('D');
        }
        procloop::ReactorEvent::Closed { .. } => seen.order.push('C'),
        procloop::ReactorEvent::Exited { .. } => seen.order.push('X'),
        other => panic!("{other:?}"),
    }
}

/// A reactor handler that pulls events itself (`next_event`, after
/// `wait_events`) in the middle of a `poll_once`'s batch, or polls again:
/// every byte of a child once and in order, `Closed` and `Exited` after.
#[test]
fn the_pull_form_inside_a_poll_loses_no_byte() {
    use std::process::{Command, Stdio};
    init();
    let dir = TempDir::new("pull");
    for seed in 1..=8u64 {
        let input = awkward_input(seed, 30_000);
        let file = dir.0.join(format!("input{seed}"));
        std::fs::write(&file, &input).unwrap();
        let mut reactor = procloop::Reactor::new().unwrap();
        let mut child = Command::new("cat").arg(&file).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = procloop::Channel::from_pipe(Some(child.stdout.take().unwrap().into()), None).unwrap();
        let capacity = [4096, 100, 65536][seed as usize % 3];
        let output = reactor.register(stdout.with_input_capacity(capacity).line_buffered()).unwrap();
        reactor.add_process(child, &[output]).unwrap();
        let (mut seen, mut dice) = (Pulled::default(), Dice(seed));
        let deadline = Instant::now() + DEADLINE;
        while !(seen.order.contains('X') && seen.order.contains('C')) {
            assert!(Instant::now() < deadline, "seed {seed}: {} bytes, {}", seen.bytes.len(), seen.order);
            if dice.roll(3) == 0 && reactor.wait_events(Some(Duration::from_millis(100))).unwrap() {
                while let Some(event) = reactor.next_event() {
                    note(&mut seen, event);
                }
                continue;
            }
            reactor
                .poll_once(Some(Duration::from_millis(100)), |r, e| {
                    note(&mut seen, e);
                    match dice.roll(4) {
                        0 => {
                            for _ in 0..dice.roll(4) {
                                let Some(event) = r.next_event() else { break };
                                note(&mut seen, event);
                            }
                        }
                        1 if r.wait_events(Some(Duration::ZERO)).unwrap() => {
                            if let Some(event) = r.next_event() {
                                note(&mut seen, event);
                            }
                        }
                        2 => {
                            r.poll_once_max(Some(Duration::ZERO), 2, |_, e| note(&mut seen, e)).unwrap();
                        }
                        _ => {}
                    }
                })
                .unwrap();
        }
        assert!(seen.bytes == input, "seed {seed}: {} bytes of {}", seen.bytes.len(), input.len());
        let last_data = seen.order.rfind('D').unwrap();
        assert!(last_data < seen.order.find('C').unwrap(), "seed {seed}: {}", seen.order);
        assert!(last_data < seen.order.find('X').unwrap(), "seed {seed}: {}", seen.order);
        assert_eq!((seen.order.matches('C').count(), seen.order.matches('X').count()), (1, 1));
    }
}

/// A waker from another thread ends a `poll_once(None)` of a Runner whose
/// child is alive and silent, and a `wait_events(None)` of a reactor: each
/// returns with nothing. (A broken waker fails at the child's exit, 60 s.)
#[test]
fn a_waker_from_another_thread_ends_waits_without_a_timeout() {
    let mut runner = runner_with("sleeper", App::new("sleep 60"));
    runner.start("sleeper").unwrap();
    for _ in 0..3 {
        let waker = runner.waker().unwrap();
        let thread = std::thread::spawn(move || waker.wake().unwrap());
        let handed = runner.poll_once(None, |_, e| panic!("nothing should come: {e:?}")).unwrap();
        assert_eq!(handed, 0);
        thread.join().unwrap();
    }
    let (channel, _peer) = procloop::testing::TestChannel::pair();
    let mut reactor = procloop::Reactor::new().unwrap();
    reactor.register(channel).unwrap();
    let waker = reactor.waker().unwrap();
    let thread = std::thread::spawn(move || waker.wake().unwrap());
    assert!(!reactor.wait_events(None).unwrap());
    thread.join().unwrap();
    runner.terminate("sleeper").unwrap();
}

/// A child that floods while its alias is paused is held at the channel's
/// capacity (no event, no byte dropped) across polls, and a pause taken
/// and let go between polls loses nothing: every line in order at the end.
#[test]
fn a_flood_while_paused_is_held_at_capacity_and_lost_nowhere() {
    let mut runner = runner_with("seq", App::new("seq 1 300000").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    assert!(runner.pause("seq"));
    let deadline = Instant::now() + DEADLINE;
    while runner.get_channel("seq").unwrap().buffered() < procloop::DEFAULT_INPUT_CAPACITY {
        assert!(Instant::now() < deadline, "the paused buffer never filled");
        runner.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("paused: {e:?}")).unwrap();
    }
    for _ in 0..5 {
        runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
        assert_eq!(runner.get_channel("seq").unwrap().buffered(), procloop::DEFAULT_INPUT_CAPACITY);
    }
    let (mut next, mut polls) = (1u32, 0u32);
    let deadline = Instant::now() + DEADLINE;
    let (mut exited, mut closed) = (false, false);
    while !exited {
        assert!(Instant::now() < deadline, "stuck at line {next}");
        polls += 1;
        if polls % 3 == 0 {
            runner.pause("seq");
        } else {
            runner.resume("seq");
        }
        runner
            .poll_once(Some(Duration::from_millis(20)), |_, e| match e {
                Event::Data { data, .. } => {
                    assert_eq!(data, format!("{next}\n").as_bytes());
                    next += 1;
                }
                Event::Closed { .. } => closed = true,
                Event::Exited { .. } => exited = true,
                _ => {}
            })
            .unwrap();
        let held = runner.get_channel("seq").map_or(0, |c| c.buffered());
        assert!(held <= procloop::DEFAULT_INPUT_CAPACITY, "{held} bytes held");
    }
    runner.resume("seq");
    // `Closed` may have come before `Exited` (all was handed by then).
    let got = run_until(&mut runner, |got| closed || got.iter().any(|g| matches!(g, Got::Closed(_))));
    for line in output_of(&got, "seq").split_inclusive(|b| *b == b'\n') {
        assert_eq!(line, format!("{next}\n").as_bytes());
        next += 1;
    }
    assert_eq!(next, 300_001);
    runner.terminate("seq").unwrap();
}

/// A bot in byte mode, paused while its output of an earlier turn waits
/// in its buffer, gets a turn, answers, and is resumed: what it wrote
/// before the turn is data, and its answer the reply (a pause joins both
/// in one buffer; they are handed apart).
#[test]
fn a_paused_byte_mode_bot_s_old_output_and_reply_are_handed_apart() {
    let (mut runner, id) = paused_bot_with_old_output_and_answer();
    let (report, events) = play_turn(&mut runner, id);
    assert!(matches!(report.outcome("bot"), Some(procloop::Outcome::Replied { .. })), "{events:?}");
    assert_eq!(events, ["data bot old\n", "reply bot new\n"]);
    runner.terminate_all();
}

/// As above, polled one event at a time: the old output and the reply,
/// read as one piece, come in two polls, each within its cap of one.
#[test]
fn a_paused_byte_mode_bot_s_old_output_and_reply_keep_a_cap_of_one() {
    let (mut runner, id) = paused_bot_with_old_output_and_answer();
    let (mut events, mut ended) = (Vec::new(), false);
    let deadline = Instant::now() + DEADLINE;
    while !ended {
        assert!(Instant::now() < deadline, "the turn never ended: {events:?}");
        let mut this_poll = 0;
        let handed = runner
            .poll_once_max(Some(Duration::from_millis(100)), 1, |_, e| {
                this_poll += 1;
                match e {
                    Event::Reply { turn, data, .. } if turn == id => {
                        events.push(format!("reply {}", String::from_utf8_lossy(data)))
                    }
                    Event::Data { data, .. } => {
                        events.push(format!("data {}", String::from_utf8_lossy(data)))
                    }
                    Event::TurnEnded { turn, .. } if turn == id => ended = true,
                    _ => {}
                }
            })
            .unwrap();
        assert!(
            this_poll <= 1 && handed == this_poll,
            "{this_poll} events handed, {handed} counted: {events:?}"
        );
    }
    assert_eq!(events, ["data old\n", "reply new\n"]);
    runner.terminate_all();
}

/// A cat bot in byte mode, paused with "old\n" in its buffer when a turn
/// writes "new\n" to it, and resumed once the answer joined the old output
/// there (one piece for the loop to read).
fn paused_bot_with_old_output_and_answer() -> (Runner, procloop::TurnId) {
    let mut runner = line_bots("cat", &["bot"], |app| app.buffering(Buffering::Bytes));
    assert!(runner.pause("bot"));
    runner.get_channel("bot").unwrap().write(b"old\n").unwrap();
    let held = |runner: &mut Runner| runner.get_channel("bot").unwrap().buffered();
    let deadline = Instant::now() + DEADLINE;
    while held(&mut runner) < 4 {
        assert!(Instant::now() < deadline, "the old output never came");
        runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
    }
    let id = runner.begin_turn(procloop::Turn::new(Duration::from_secs(20)).bot("bot", "new\n")).unwrap();
    while held(&mut runner) < 8 {
        assert!(Instant::now() < deadline, "the answer never came");
        runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
    }
    assert!(runner.resume("bot"));
    (runner, id)
}

/// A handler that terminates its alias mid-batch and starts it again,
/// three times: no line of an old run comes after that, each new run's
/// lines come from its first, and the last run's all of them, in order.
#[test]
fn restarting_an_alias_mid_batch_mixes_no_run_into_the_next() {
    let mut runner = runner_with("seq", App::new("seq 1 5000").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    let (mut runs, mut next, mut exited) = (1u32, 1u32, false);
    let deadline = Instant::now() + DEADLINE;
    while !exited {
        assert!(Instant::now() < deadline, "run {runs} stuck at line {next}");
        runner
            .poll_once(Some(Duration::from_millis(100)), |r, e| match e {
                Event::Data { data, .. } => {
                    assert_eq!(data, format!("{next}\n").as_bytes(), "run {runs}");
                    next += 1;
                    if next == 11 * runs && runs < 4 {
                        r.terminate("seq").unwrap();
                        r.start("seq").unwrap();
                        (runs, next) = (runs + 1, 1);
                    }
                }
                Event::Exited { .. } => exited = true,
                _ => {}
            })
            .unwrap();
    }
    assert_eq!((runs, next), (4, 5001));
    runner.terminate("seq").unwrap();
}

/// Turn after turn, each begun in the handler of the last one's end,
/// with a handler that polls again, pauses and resumes bots mid-batch:
/// every reply is the answer to its own turn's payload (never a line left
/// over from the turn before), in both line and byte mode.
#[test]
fn chaotic_turns_reply_with_their_own_turn_s_answer() {
    for (buffering, seed) in [(Buffering::Line, 3u64), (Buffering::Bytes, 5), (Buffering::Line, 9)] {
        let aliases = ["a", "b", "c"];
        let mut runner = line_bots("cat", &aliases, |app| app.buffering(buffering));
        let turn_of = |n: u32| {
            let mut turn = procloop::Turn::new(Duration::from_secs(20));
            for alias in aliases {
                // The answer, then a line left over for the next turn's handler.
                turn = turn.bot(alias, format!("{alias}{n}\nextra{n}\n"));
            }
            turn
        };
        let mut current = runner.begin_turn(turn_of(1)).unwrap();
        let (mut ended, mut dice, mut replies) = (0u32, Dice(seed), 0u32);
        let deadline = Instant::now() + DEADLINE;
        while ended < 15 {
            assert!(Instant::now() < deadline, "{buffering:?}: stuck after {ended} turns");
            let mut paused = Vec::new();
            chaos_turns(
                &mut runner,
                &mut current,
                &mut ended,
                &mut replies,
                &mut dice,
                &mut paused,
                0,
                &turn_of,
            );
            for alias in paused {
                runner.resume(alias);
            }
        }
        assert!(replies >= 15, "{buffering:?}: {replies} replies");
        runner.terminate_all();
    }
}

#[allow(clippy::too_many_arguments)]
fn chaos_turns(
    runner: &mut Runner,
    current: &mut procloop::TurnId,
    ended: &mut u32,
    replies: &mut u32,
    dice: &mut Dice,
    paused: &mut Vec<&'static str>,
    depth: u32,
    turn_of: &dyn Fn(u32) -> procloop::Turn,
) {
    let timeout = Some(Duration::from_millis(if depth == 0 { 100 } else { 0 }));
    runner
        .poll_once_max(timeout, 1 + dice.roll(3) as usize, |r, e| {
            match e {
                Event::Reply { turn, alias, data, .. } => {
                    assert_eq!(turn, *current);
                    // In byte mode the answer may come with the extra line.
                    let want = format!("{alias}{}\n", *ended + 1);
                    assert!(
                        data.starts_with(want.as_bytes()),
                        "{alias}: {:?} for {want:?}",
                        String::from_utf8_lossy(data)
                    );
                    *replies += 1;
                }
                Event::TurnEnded { turn, report } if turn == *current => {
                    assert!(
                        report.iter().all(|(_, o)| matches!(o, procloop::Outcome::Replied { .. })),
                        "{report:?}"
                    );
                    *ended += 1;
                    *current = r.begin_turn(turn_of(*ended + 1)).unwrap();
                }
                _ => {}
            }
            let alias = ["a", "b", "c"][dice.roll(3) as usize];
            match dice.roll(6) {
                0 if depth < 2 => chaos_turns(r, current, ended, replies, dice, paused, depth + 1, turn_of),
                1 => {
                    r.pause(alias);
                    paused.push(alias);
                }
                2 => {
                    r.resume(alias);
                }
                _ => {}
            }
        })
        .unwrap();
}

/// A bot paused with output of an earlier turn in its buffer gets a turn,
/// and the user reads that old output with `read` before resuming it: the
/// answer that follows is still the reply (it was taken for old output,
/// handed as data, and the bot timed out).
#[test]
fn old_output_taken_by_read_leaves_the_reply_a_reply() {
    for buffering in [Buffering::Line, Buffering::Bytes] {
        let mut runner = line_bots("cat", &["bot"], |app| app.buffering(buffering));
        assert!(runner.pause("bot"));
        runner.get_channel("bot").unwrap().write(b"old\n").unwrap();
        let deadline = Instant::now() + DEADLINE;
        while runner.get_channel("bot").unwrap().buffered() < 4 {
            assert!(Instant::now() < deadline, "the old output never came");
            runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("paused: {e:?}")).unwrap();
        }
        let id = runner.begin_turn(procloop::Turn::new(Duration::from_secs(20)).bot("bot", "new\n")).unwrap();
        assert_eq!(runner.get_channel("bot").unwrap().read().unwrap(), b"old\n");
        assert!(runner.resume("bot"));
        let (report, events) = play_turn(&mut runner, id);
        assert!(matches!(report.outcome("bot"), Some(procloop::Outcome::Replied { .. })), "{events:?}");
        assert_eq!(events, ["reply bot new\n"], "{buffering:?}");
        runner.terminate_all();
    }
}

/// A child with captured stderr that has exited: a handler that reads
/// both channels itself mid-batch still gets `Exited` after every line of
/// both, and every line once.
#[test]
fn reading_both_outputs_of_an_exited_child_mid_batch_keeps_exited_last() {
    let command = "sh -c 'seq 1 3000; seq 1 3000 >&2'";
    let mut runner =
        runner_with("two", App::new(command).buffering(Buffering::Line).stderr(procloop::Stderr::Capture));
    runner.start("two").unwrap();
    assert!(runner.wait("two", DEADLINE).unwrap().is_some());
    let (mut out, mut err, mut order, mut events) = (Vec::new(), Vec::new(), String::new(), 0);
    let deadline = Instant::now() + DEADLINE;
    while !order.contains('X') {
        assert!(Instant::now() < deadline, "no exit: {} + {} bytes", out.len(), err.len());
        runner
            .poll_once(Some(Duration::from_millis(100)), |r, e| {
                events += 1;
                if order.contains('X') {
                    order.push('L'); // anything after the exit
                    return;
                }
                match e {
                    Event::Data { data, .. } => out.extend_from_slice(data),
                    Event::Stderr { data, .. } => err.extend_from_slice(data),
                    Event::Closed { .. } => order.push('C'),
                    Event::Exited { .. } => order.push('X'),
                    other => panic!("{other:?}"),
                }
                if order.contains('X') {
                    return;
                }
                order.push('D');
                if events % 50 == 1 {
                    if let Ok(line) = r.get_stderr("two").unwrap().read() {
                        err.extend_from_slice(&line);
                    }
                } else if events % 50 == 2
                    && let Ok(line) = r.get_channel("two").unwrap().read()
                {
                    out.extend_from_slice(&line);
                }
            })
            .unwrap();
    }
    runner.poll_once(Some(Duration::ZERO), |_, _| order.push('L')).unwrap();
    assert!(!order.contains('L'), "events after Exited");
    let want: Vec<u8> = (1..=3000).flat_map(|i| format!("{i}\n").into_bytes()).collect();
    assert!(out == want && err == want, "{} and {} bytes of {}", out.len(), err.len(), want.len());
    runner.terminate("two").unwrap();
}

/// A handler that stops its alias mid-batch (and polls again): what the
/// child wrote before it died comes whole and in order, then `Exited`,
/// and nothing after it.
#[test]
fn stopping_an_alias_mid_batch_keeps_its_last_lines_before_exited() {
    for nested in [false, true] {
        let mut runner = runner_with("seq", App::new("seq 1 1000000").buffering(Buffering::Line));
        runner.start("seq").unwrap();
        let (mut next, mut order) = (1u32, String::new());
        let deadline = Instant::now() + DEADLINE;
        while !order.contains('X') {
            assert!(Instant::now() < deadline, "no exit after line {next}");
            runner
                .poll_once(Some(Duration::from_millis(100)), |r, e| {
                    in_order(e, &mut next, &mut order);
                    if next == 10 {
                        r.stop("seq").unwrap();
                        if nested {
                            r.poll_once(Some(Duration::ZERO), |_, e| in_order(e, &mut next, &mut order))
                                .unwrap();
                        }
                    }
                })
                .unwrap();
        }
        runner.poll_once(Some(Duration::ZERO), |_, e| panic!("after Exited: {e:?}")).unwrap();
        assert!(next > 10, "{next}");
        runner.terminate("seq").unwrap();
    }
}

/// Checks that `e` is the next line of `seq` (or, killed mid-write, the
/// start of it, and then nothing more) and none comes after `Exited`.
fn in_order(e: Event<'_>, next: &mut u32, order: &mut String) {
    match e {
        Event::Data { data, .. } => {
            let line = format!("{next}\n");
            assert!(!order.contains(['X', 'P']), "data after Exited or a last piece: {order}");
            assert!(line.as_bytes().starts_with(data), "{:?} for {line:?}", String::from_utf8_lossy(data));
            if data.len() < line.len() {
                order.push('P');
            }
            *next += 1;
        }
        Event::Closed { .. } => order.push('C'),
        Event::Exited { .. } => order.push('X'),
        other => panic!("{other:?}"),
    }
}
