//! procloop: the Runner's loop (also in whole-lines mode), and the Channel
//! facade without it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use procloop::{
    App, Buffering, Cgroups, Event, Restart, Runner, Scheduler, Start, TimerId, Transport, Turn, TurnId,
};

use crate::frame::{self, Ledger, Role};
use crate::util::*;

pub fn run(scenario: &Scenario, transport: Transport) -> Metrics {
    run_with(scenario, transport, false)
}

/// As [`run`], with every child in a cgroup of its own
/// (`Cgroups::Required`): what containment costs a start.
pub fn run_contained(scenario: &Scenario) -> Metrics {
    CONTAINED.with(|c| c.set(true));
    run(scenario, Transport::Pipes)
}

/// As [`run`], with every app started `die_with_parent` (the fork path).
pub fn run_with(scenario: &Scenario, transport: Transport, die_with_parent: bool) -> Metrics {
    TRANSPORT.with(|t| t.set(transport));
    DIE_WITH_PARENT.with(|d| d.set(die_with_parent));
    match scenario {
        Scenario::Spawn { n, in_flight, program } => spawn(*n, *in_flight, program),
        Scenario::Fanout { n } => fanout(*n),
        Scenario::Throughput { bytes } => throughput(*bytes),
        Scenario::PingPong { rounds } => ping_pong(*rounds),
        Scenario::Lines { n } => lines(*n),
        Scenario::Frame { n, faults } => frame(*n, *faults),
    }
}

thread_local! {
    static TRANSPORT: std::cell::Cell<Transport> = const { std::cell::Cell::new(Transport::Pipes) };
    static DIE_WITH_PARENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static SCHEDULER: std::cell::Cell<Scheduler> = const { std::cell::Cell::new(Scheduler::Normal) };
}

/// As [`run`] (the frame scenarios), with every bot under `scheduler`
/// (`procloop-batch`: `SCHED_BATCH`).
pub fn run_scheduled(scenario: &Scenario, scheduler: Scheduler) -> Metrics {
    SCHEDULER.with(|s| s.set(scheduler));
    run(scenario, Transport::Pipes)
}

fn runner(name: &str, app: App) -> Runner {
    let mut runner = match CONTAINED.with(|c| c.get()) {
        true => Runner::with_cgroups(Cgroups::Required).unwrap(),
        false => Runner::new().unwrap(),
    };
    let app = app.transport(TRANSPORT.with(|t| t.get())).die_with_parent(DIE_WITH_PARENT.with(|d| d.get()));
    runner.add(name, app);
    runner
}

fn spawn(n: usize, in_flight: usize, program: &str) -> Metrics {
    let mut runner = runner("p", App::new(program));
    let timer = Timer::start();
    let mut started = 0;
    let mut done = 0;
    while started < in_flight.min(n) {
        runner.start_with("p", Start::new().alias(started.to_string())).unwrap();
        started += 1;
    }
    let mut exited = Vec::new();
    while done < n {
        runner
            .poll_once(None, |_, e| {
                if let Event::Exited { alias, status } = e {
                    assert!(status.success());
                    exited.push(alias.to_string());
                }
            })
            .unwrap();
        for alias in exited.drain(..) {
            runner.terminate(&alias).unwrap();
            done += 1;
            if started < n {
                runner.start_with("p", Start::new().alias(started.to_string())).unwrap();
                started += 1;
            }
        }
    }
    Metrics::rate(n, timer.elapsed())
}

/// Spawns all N, handing events over between spawns with a zero-timeout
/// poll: a child whose echo came gets its stdin closed, an exited one is
/// reaped, while the rest are still being started.
fn fanout(n: usize) -> Metrics {
    let mut runner = runner("cat", App::new("cat").buffering(Buffering::Line));
    let timer = Timer::start();
    let mut echoed: HashSet<usize> = HashSet::new();
    let exited = std::cell::Cell::new(0);
    let mut handle = |runner: &mut Runner, e: Event<'_>| match e {
        Event::Data { alias, data } => {
            let i: usize = alias.parse().unwrap();
            assert_eq!(data, fanout_line(i));
            assert!(echoed.insert(i));
            runner.get_channel(alias).unwrap().close_write();
        }
        Event::Exited { alias, status } => {
            assert!(status.success());
            let alias = alias.to_string();
            runner.terminate(&alias).unwrap();
            exited.set(exited.get() + 1);
        }
        _ => {}
    };
    for i in 0..n {
        runner.start_with("cat", Start::new().alias(i.to_string())).unwrap();
        runner.get_channel(&i.to_string()).unwrap().write(&fanout_line(i)).unwrap();
        runner.poll_once(Some(Duration::ZERO), &mut handle).unwrap();
    }
    while exited.get() < n {
        runner.poll_once(None, &mut handle).unwrap();
    }
    assert_eq!(echoed.len(), n);
    Metrics::wall_ms(timer.elapsed())
}

fn throughput(total: usize) -> Metrics {
    let chunk = chunk();
    let mut runner = runner("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let timer = Timer::start();
    let (mut sent, mut received) = (0, 0);
    while received < total {
        let channel = runner.get_channel("cat").unwrap();
        while sent < total && channel.queued() == 0 {
            let n = CHUNK.min(total - sent);
            channel.write(&chunk[..n]).unwrap();
            sent += n;
        }
        runner
            .poll_once(None, |_, e| {
                if let Event::Data { data, .. } = e {
                    check_stream(&chunk, received, data);
                    received += data.len();
                }
            })
            .unwrap();
    }
    let elapsed = timer.elapsed();
    assert_eq!(received, total);
    Metrics::gbps(total, elapsed)
}

fn ping_pong(rounds: usize) -> Metrics {
    let mut runner = runner("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        round_trip(&mut runner);
        samples.push(start.elapsed());
    }
    Metrics::latencies(samples)
}

/// One `LINE` to the alias `cat` (a line-buffered `cat`) and its echo back.
pub fn round_trip(runner: &mut Runner) {
    runner.get_channel("cat").unwrap().write(LINE).unwrap();
    let mut got = false;
    while !got {
        runner
            .poll_once(None, |_, e| {
                if let Event::Data { data, .. } = e {
                    assert_eq!(data, LINE);
                    got = true;
                }
            })
            .unwrap();
    }
}

fn lines(n: usize) -> Metrics {
    seq_lines(n, Buffering::Line, |_| 1)
}

/// The lines scenario with `Buffering::WholeLines` (the only one it runs):
/// one event a read, its lines counted as the mio loop counts them.
pub fn run_whole_lines(scenario: &Scenario) -> Metrics {
    let Scenario::Lines { n } = scenario else { unreachable!("whole lines run the lines scenario only") };
    seq_lines(*n, Buffering::WholeLines, |data| memchr::memchr_iter(b'\n', data).count())
}

/// `seq 1 n` read in `buffering` mode, `count` giving the lines of each
/// `Data` (generic, so that it is inlined in the handler).
fn seq_lines(n: usize, buffering: Buffering, count: impl Fn(&[u8]) -> usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let mut runner = runner("seq", App::new(format!("seq 1 {n}")).buffering(buffering));
    let timer = Timer::start();
    runner.start("seq").unwrap();
    let (mut lines, mut bytes, mut closed) = (0, 0, false);
    while !closed {
        runner
            .poll_once(None, |_, e| match e {
                Event::Data { data, .. } => {
                    debug_assert_eq!(data.last(), Some(&b'\n'));
                    lines += count(data);
                    bytes += data.len();
                }
                Event::Closed { .. } => closed = true,
                _ => {}
            })
            .unwrap();
    }
    let elapsed = timer.elapsed();
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    Metrics::mlines(lines, elapsed)
}

/// The frame scenario in the Runner's loop: a timer per turn is its
/// deadline (and the next turn's start); the crashed bot is restarted by its
/// app's policy, the stopped one killed by a loop timer.
fn frame(n: usize, faults: bool) -> Metrics {
    every_turn(n, faults, frame_turn)
}

/// A frame scenario's whole run: every turn by `turn`, then the drain.
fn every_turn(n: usize, faults: bool, turn: fn(&mut Runner, &[String], &mut Ledger, u32)) -> Metrics {
    let (mut runner, aliases, mut ledger) = frame_runner(n, faults);
    for number in 0..Ledger::turns() {
        turn(&mut runner, &aliases, &mut ledger, number);
    }
    frame_drain(&mut runner, &mut ledger);
    ledger.finish()
}

/// One turn of the hand-written frame loop: the lines written, then events
/// until the deadline timer.
pub fn frame_turn(runner: &mut Runner, aliases: &[String], ledger: &mut Ledger, turn: u32) {
    if let Some(bot) = ledger.begin_turn(turn) {
        // SIGTERM now, SIGKILL from a loop timer after the app's grace.
        runner.stop(&aliases[bot]).unwrap();
    }
    let deadline = runner.set_timer(frame::DEADLINE);
    for (bot, alias) in aliases.iter().enumerate() {
        if let Some(line) = ledger.line(bot) {
            runner.get_channel(alias).unwrap().write(&line).unwrap();
        }
    }
    ledger.written();
    let mut over = false;
    while !over {
        runner.poll_once(None, |_, e| over |= on_event(ledger, e, deadline)).unwrap();
    }
    ledger.end_turn();
}

/// After the last turn: late replies (and the faults' exits) until settled.
pub fn frame_drain(runner: &mut Runner, ledger: &mut Ledger) {
    let deadline = runner.set_timer(frame::DRAIN);
    let mut over = false;
    while !over && !ledger.settled() {
        runner.poll_once(None, |_, e| over |= on_turn_event(ledger, e, deadline, None).0).unwrap();
    }
}

/// The frame scenario's Runner with its bots started, their aliases, and the ledger.
pub fn frame_runner(n: usize, faults: bool) -> (Runner, Vec<String>, Ledger) {
    let mut runner = Runner::new().unwrap();
    let program = format!("'{}'", frame::bot_program());
    let scheduler = SCHEDULER.with(|s| s.get());
    let app = |role: Role| {
        App::new(format!("{program} {}", role.args().join(" ")))
            .buffering(Buffering::Line)
            .scheduler(scheduler)
    };
    runner.add("bot", app(Role::Healthy));
    // The stubborn bot has the crashy one's policy too: a stopped child is
    // not restarted (the ledger fails the run if it is). Its grace is the stop's.
    let policy =
        |app: App| app.restart(Restart::OnFailure).backoff(frame::RESTART_DELAY, frame::RESTART_DELAY);
    runner.add("stubborn", policy(app(Role::Stubborn)).termination_grace(frame::GRACE));
    runner.add(
        "crashy",
        app(Role::Crashy).restart(Restart::OnFailure).backoff(frame::RESTART_DELAY, frame::RESTART_DELAY),
    );
    let ledger = Ledger::new(n, faults);
    let aliases: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    for (i, alias) in aliases.iter().enumerate() {
        let app = match ledger.role(i) {
            Role::Healthy => "bot",
            Role::Stubborn => "stubborn",
            Role::Crashy => "crashy",
        };
        runner.start_with(app, Start::new().alias(alias)).unwrap();
    }
    (runner, aliases, ledger)
}

/// The frame scenarios written with `Runner::begin_turn`: each frame is a
/// turn of every live bot with the frame's deadline; the next frame starts
/// at the frame timer once the turn has ended (a late bot's turn ends at its
/// deadline, so with the frame). Late replies come as data of a later turn.
pub fn run_turns(scenario: &Scenario) -> Metrics {
    let Scenario::Frame { n, faults } = scenario else {
        unreachable!("procloop-turns runs the frame scenarios")
    };
    every_turn(*n, *faults, turn_frame)
}

/// One frame written with `begin_turn`: a turn of every live bot, then
/// events until both the frame timer fired and the turn ended.
pub fn turn_frame(runner: &mut Runner, aliases: &[String], ledger: &mut Ledger, turn: u32) {
    if let Some(bot) = ledger.begin_turn(turn) {
        runner.stop(&aliases[bot]).unwrap();
    }
    let frame_end = runner.set_timer(frame::DEADLINE);
    let mut next = Turn::new(frame::DEADLINE);
    let mut bots = 0;
    for (bot, alias) in aliases.iter().enumerate() {
        if let Some(line) = ledger.line(bot) {
            next = next.bot(alias, line);
            bots += 1;
        }
    }
    let id = (bots > 0).then(|| runner.begin_turn(next).unwrap());
    ledger.written();
    let (mut frame_over, mut turn_over) = (false, id.is_none());
    while !(frame_over && turn_over) {
        runner
            .poll_once(None, |_, e| {
                let (f, t) = on_turn_event(ledger, e, frame_end, id);
                frame_over |= f;
                turn_over |= t;
            })
            .unwrap();
    }
    ledger.end_turn();
}

/// With `FRAME_REPORTS` set, a line on stderr for each turn's report:
/// `REPORT` then, in µs, the harness delay (the longest any reply sat
/// readable before it was handed), the last reply's time, the one before
/// it, and the median one. A slow turn with the usual harness delay is one
/// whose bots were late, not its loop.
fn trace_report(report: &procloop::TurnReport) {
    if std::env::var_os("FRAME_REPORTS").is_none() {
        return;
    }
    let mut replies: Vec<u128> = report
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            procloop::Outcome::Replied { elapsed, .. } => Some(elapsed.as_micros()),
            _ => None,
        })
        .collect();
    replies.sort_unstable();
    let at = |i: usize| replies.get(i).copied().unwrap_or(0);
    let n = replies.len();
    eprintln!(
        "REPORT {} {} {} {}",
        report.harness_delay().as_micros(),
        at(n.wrapping_sub(1)),
        at(n.wrapping_sub(2)),
        at(n / 2)
    );
}

/// [`on_event`] for the turn-written loop: (the frame timer fired, the turn ended).
fn on_turn_event(
    ledger: &mut Ledger,
    event: Event<'_>,
    frame_end: TimerId,
    turn: Option<TurnId>,
) -> (bool, bool) {
    match event {
        Event::Reply { alias, data, .. } => ledger.reply(alias.parse().unwrap(), data),
        Event::TurnEnded { turn: t, report } => {
            trace_report(report);
            return (false, Some(t) == turn);
        }
        other => return (on_event(ledger, other, frame_end), false),
    }
    (false, false)
}

/// Hands one event of the frame loop to the ledger; true at the deadline.
fn on_event(ledger: &mut Ledger, event: Event<'_>, deadline: TimerId) -> bool {
    match event {
        Event::Data { alias, data } => ledger.reply(alias.parse().unwrap(), data),
        Event::Timer { id } if id == deadline => return true,
        Event::Closed { .. } => {}
        Event::Exited { alias, status } => {
            // The crashed bot's restart is its policy's: nothing to do here.
            ledger.exited(alias.parse().unwrap(), status);
        }
        Event::Restarted { alias, .. } => ledger.restarted(alias.parse().unwrap()),
        other => panic!("unexpected {other:?}"),
    }
    false
}

/// The Channel facade alone: `read` and `write` with `poll(2)` on its fd.
pub fn run_facade(scenario: &Scenario) -> Metrics {
    match scenario {
        Scenario::PingPong { rounds } => facade_ping_pong(*rounds),
        Scenario::Lines { n } => facade_lines(*n),
        _ => unreachable!("the facade runs ping-pong and lines"),
    }
}

fn wait_readable(channel: &procloop::Channel) {
    let fd = channel.read_fd().unwrap();
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).unwrap();
}

fn facade_ping_pong(rounds: usize) -> Metrics {
    let mut runner = runner("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    let channel = runner.get_channel("cat").unwrap();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        channel.write(LINE).unwrap();
        loop {
            let line = channel.read().unwrap();
            if !line.is_empty() {
                assert_eq!(line, LINE);
                break;
            }
            wait_readable(channel);
        }
        samples.push(start.elapsed());
    }
    Metrics::latencies(samples)
}

fn facade_lines(n: usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let mut runner = runner("seq", App::new(format!("seq 1 {n}")).buffering(Buffering::Line));
    let timer = Timer::start();
    runner.start("seq").unwrap();
    let channel = runner.get_channel("seq").unwrap();
    let (mut lines, mut bytes) = (0, 0);
    loop {
        match channel.read() {
            Ok(line) if line.is_empty() => wait_readable(channel),
            Ok(line) => {
                lines += 1;
                bytes += line.len();
            }
            Err(procloop::Error::EndpointClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let elapsed = timer.elapsed();
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    let _ = Duration::ZERO;
    Metrics::mlines(lines, elapsed)
}
