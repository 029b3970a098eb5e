//! The frame scenario, shared by every implementation: the bot program, the
//! schedule of turns and faults, and the ledger that accounts for every
//! line sent.
//!
//! A turn starts at a frame boundary, writes one line to every live bot and
//! waits for the replies until its deadline, which is also the next turn's
//! start (frames of 16 ms, as a 60 Hz server loop). The turn's latency is
//! the time until its last reply came in; a turn that misses its deadline
//! counts the time until the loop noticed the deadline (its timer), and
//! each reply not in by the deadline is a missed reply (judged by the
//! clock, not by the loop's timer). A missed reply must still come, late.
//! Set `FRAME_TRACE` to have each turn's times on stderr. Each run also
//! prints on stderr the CPU its own process (the loop, and its threads if
//! it has any; not the bots) used per measured turn: `CPU per turn N us`.
//!
//! With faults, bot 0 ignores SIGTERM and is stopped at turn 10 (SIGTERM,
//! SIGKILL after a grace of 2 s; the loop must not wait for it), and bot 1
//! gets a `crash` line at turn 20, on which it exits with status 1 without a
//! reply; its restart policy (on failure, after 100 ms) starts it again.
//! A stopped bot gets no more lines, a crashed one none until its restart.
//! The other bots are the healthy ones.
//!
//! Columns: turn latency p99 and p50 over the measured turns (p99 of 200
//! is the second worst); the worst turn (with faults: the worst time until
//! the healthy bots' replies were all in, and the worst turn that saw a
//! fault: the stop, the crash line, an exit or the restart); missed replies.
//! Every run checks that each line sent was replied to, once, with the same
//! line, in order, in time or late; that the stopped bot ended by SIGKILL
//! after its grace and the crashed one by status 1, restarted once.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::util::Metrics;

/// Measured turns.
pub const TURNS: u32 = 200;
/// Turns before the measured ones (the bots' first reads), not counted.
pub const WARMUP: u32 = 10;
/// A turn's deadline, and the length of a frame.
pub const DEADLINE: Duration = Duration::from_millis(16);
/// The measured turn at which the stubborn bot is stopped.
pub const STOP_TURN: u32 = 10;
/// The measured turn at which the crashing bot crashes.
pub const CRASH_TURN: u32 = 20;
/// From SIGTERM to SIGKILL for the stubborn bot.
pub const GRACE: Duration = Duration::from_secs(2);
/// From the crash to the restart (the policy's backoff, fixed).
pub const RESTART_DELAY: Duration = Duration::from_millis(100);
/// How long after the last turn the late replies may take to come.
pub const DRAIN: Duration = Duration::from_secs(2);

/// The bot that ignores SIGTERM, in the faults run.
pub const STUBBORN: usize = 0;
/// The bot that crashes, in the faults run.
pub const CRASHY: usize = 1;

/// Every line has this length: `turn 00012 bot 00345 go\n`.
pub const LINE_LEN: usize = 24;
pub type Line = [u8; LINE_LEN];
/// The line that makes a bot exit with status 1, without a reply.
pub const CRASH_LINE: &Line = b"crash                  \n";

/// The line for `bot` at `turn`; its reply is the same line.
pub fn line(turn: u32, bot: usize) -> Line {
    let mut line = *b"turn 00000 bot 00000 go\n";
    put_digits(&mut line[5..10], turn as usize);
    put_digits(&mut line[15..20], bot);
    line
}

fn put_digits(out: &mut [u8], mut value: usize) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    assert_eq!(value, 0, "a number too big for its field");
}

/// Whether `turn` is measured (not a warm-up turn).
fn measured(turn: u32) -> bool {
    turn >= WARMUP
}

/// What a bot is in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Healthy,
    /// Ignores SIGTERM; stopped at [`STOP_TURN`].
    Stubborn,
    /// Crashes at [`CRASH_TURN`]; restarted by its policy.
    Crashy,
}

impl Role {
    /// The bot program's arguments after the program (the bench binary).
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Role::Stubborn => &["--bot", "--ignore-term"],
            Role::Healthy | Role::Crashy => &["--bot"],
        }
    }
}

/// The bot program: the bench binary itself, run with `--bot`.
pub fn bot_program() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

/// The bot, in the bench binary run with `--bot [--ignore-term]`: each line
/// in goes straight back out (one `write` a line), a `crash` line makes it
/// exit with status 1; it ends at end of input.
pub fn bot(args: &[String]) {
    if args.iter().any(|a| a == "--ignore-term") {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: SIG_IGN installs no handler; nothing else runs yet.
        unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }.unwrap();
    }
    let mut stdin = std::io::stdin().lock();
    // Stdout is line-buffered: a whole line is written at once.
    let mut stdout = std::io::stdout().lock();
    let mut line = Vec::with_capacity(64);
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.starts_with(b"crash") => std::process::exit(1),
            Ok(_) => {
                if stdout.write_all(&line).is_err() {
                    return;
                }
            }
        }
    }
}

/// Where a bot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Live,
    /// Stopped at this instant (no more lines to it); its exit is due.
    Stopping(Instant),
    /// Sent the crash line at this instant; its exit is due.
    Crashing(Instant),
    /// Crashed at this instant; its restart is due.
    Down(Instant),
    /// Exited for good.
    Gone,
}

#[derive(Debug)]
struct Bot {
    role: Role,
    life: Life,
    /// The turns of the lines sent and not replied to yet, oldest first.
    pending: VecDeque<u32>,
    restarts: u32,
}

/// The accounts of one run: every line sent is replied to in time, or
/// missed and replied to late; a fast wrong answer fails the run.
#[derive(Debug)]
pub struct Ledger {
    faults: bool,
    bots: Vec<Bot>,
    /// The turn under way (warm-up turns first).
    turn: u32,
    in_turn: bool,
    start: Instant,
    /// Replies of this turn still out: from any bot, from healthy bots.
    open_all: usize,
    open_healthy: usize,
    done_all: Option<Duration>,
    done_healthy: Option<Duration>,
    /// Latency of each measured turn.
    samples: Vec<Duration>,
    healthy_worst: Duration,
    /// Whether the turn under way saw a fault: a stop, a crash, an exit or a restart.
    fault_turn: bool,
    /// The worst of those turns.
    fault_worst: Duration,
    /// Counts over the measured turns.
    sent: usize,
    in_time: usize,
    missed: usize,
    late: usize,
    /// From SIGTERM to the stubborn bot's exit.
    killed_after: Option<Duration>,
    /// `FRAME_TRACE` set: each turn's latency on stderr, with what happened.
    trace: bool,
    /// With the trace: when the turn's writes were done.
    written: Option<Duration>,
    /// This process's CPU time when the first measured turn began, and
    /// then when the last one ended.
    cpu_from: Option<Duration>,
    cpu_to: Option<Duration>,
}

/// The CPU time this process (all its threads, not its children) used so far.
fn own_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage of the process itself");
    let (user, system) = (usage.user_time(), usage.system_time());
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(micros(user) + micros(system))
}

impl Ledger {
    pub fn new(n: usize, faults: bool) -> Ledger {
        assert!(n > CRASHY, "the faults run needs two bots");
        let bots = (0..n)
            .map(|i| Bot {
                role: match i {
                    STUBBORN if faults => Role::Stubborn,
                    CRASHY if faults => Role::Crashy,
                    _ => Role::Healthy,
                },
                life: Life::Live,
                pending: VecDeque::new(),
                restarts: 0,
            })
            .collect();
        Ledger {
            faults,
            bots,
            turn: 0,
            in_turn: false,
            start: Instant::now(),
            open_all: 0,
            open_healthy: 0,
            done_all: None,
            done_healthy: None,
            samples: Vec::with_capacity(TURNS as usize),
            healthy_worst: Duration::ZERO,
            fault_turn: false,
            fault_worst: Duration::ZERO,
            sent: 0,
            in_time: 0,
            missed: 0,
            late: 0,
            killed_after: None,
            trace: std::env::var_os("FRAME_TRACE").is_some(),
            written: None,
            cpu_from: None,
            cpu_to: None,
        }
    }

    /// How many turns to run, warm-up included.
    pub fn turns() -> u32 {
        WARMUP + TURNS
    }

    pub fn role(&self, bot: usize) -> Role {
        self.bots[bot].role
    }

    /// Starts `turn` now; returns the bot to stop now, before the writes.
    pub fn begin_turn(&mut self, turn: u32) -> Option<usize> {
        assert!(!self.in_turn);
        self.turn = turn;
        self.in_turn = true;
        if turn == WARMUP {
            self.cpu_from = Some(own_cpu());
        }
        self.start = Instant::now();
        (self.open_all, self.open_healthy) = (0, 0);
        (self.done_all, self.done_healthy) = (None, None);
        self.fault_turn = false;
        if self.faults && turn == WARMUP + STOP_TURN {
            self.fault_turn = true;
            let bot = &mut self.bots[STUBBORN];
            assert_eq!(bot.life, Life::Live);
            bot.life = Life::Stopping(self.start);
            return Some(STUBBORN);
        }
        None
    }

    /// When the turn under way started; its deadline is [`DEADLINE`] later.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The line to write to `bot` this turn, if it gets one (it is live).
    pub fn line(&mut self, bot: usize) -> Option<Line> {
        let (turn, counted) = (self.turn, measured(self.turn));
        let b = &mut self.bots[bot];
        if b.life != Life::Live {
            return None;
        }
        if b.role == Role::Crashy && turn == WARMUP + CRASH_TURN {
            b.life = Life::Crashing(Instant::now());
            self.fault_turn = true;
            return Some(*CRASH_LINE);
        }
        b.pending.push_back(turn);
        self.open_all += 1;
        if b.role == Role::Healthy {
            self.open_healthy += 1;
        }
        if counted {
            self.sent += 1;
        }
        Some(line(turn, bot))
    }

    /// The turn's lines are written (for the trace).
    pub fn written(&mut self) {
        if self.trace {
            self.written = Some(self.start.elapsed());
        }
    }

    /// A reply from `bot`: the line of its oldest unanswered turn.
    pub fn reply(&mut self, bot: usize, data: &[u8]) {
        let b = &mut self.bots[bot];
        let Some(turn) = b.pending.pop_front() else {
            panic!("bot {bot}: a reply to no line: {:?}", String::from_utf8_lossy(data));
        };
        assert!(
            data == line(turn, bot),
            "bot {bot}: {:?} in reply to turn {turn}",
            String::from_utf8_lossy(data)
        );
        // After the deadline it is late, whether the loop noticed the deadline yet or not.
        if turn != self.turn || !self.in_turn || self.start.elapsed() > DEADLINE {
            if measured(turn) {
                self.late += 1;
            }
            return;
        }
        if measured(turn) {
            self.in_time += 1;
        }
        self.open_all -= 1;
        if self.open_all == 0 {
            self.done_all = Some(self.start.elapsed());
        }
        if b.role == Role::Healthy {
            self.open_healthy -= 1;
            if self.open_healthy == 0 {
                self.done_healthy = Some(self.done_all.unwrap_or_else(|| self.start.elapsed()));
            }
        }
    }

    /// Ends the turn under way, at its deadline (now).
    pub fn end_turn(&mut self) {
        assert!(self.in_turn);
        self.in_turn = false;
        if !measured(self.turn) {
            return;
        }
        let now = self.start.elapsed();
        if self.trace {
            let ms = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64() * 1e3));
            let (all, healthy, written) = (ms(self.done_all), ms(self.done_healthy), ms(self.written));
            let lives: Vec<String> = self.bots[..=CRASHY]
                .iter()
                .map(|b| format!("{:?}", b.life).split('(').next().unwrap().to_string())
                .collect();
            eprintln!(
                "turn {} written {written} all {all} healthy {healthy} open {} end {:.3}{} {}",
                self.turn - WARMUP,
                self.open_all,
                now.as_secs_f64() * 1e3,
                if self.fault_turn { " fault" } else { "" },
                if self.faults { lives.join(" ") } else { String::new() }
            );
        }
        self.samples.push(self.done_all.unwrap_or(now));
        if self.fault_turn {
            self.fault_worst = self.fault_worst.max(self.done_all.unwrap_or(now));
        }
        self.healthy_worst = self.healthy_worst.max(self.done_healthy.unwrap_or(now));
        self.missed += self.open_all;
        if self.turn + 1 == Self::turns() {
            self.cpu_to = Some(own_cpu());
        }
    }

    /// `bot` exited with `status`. The delay before a restart by hand, if
    /// its policy restarts it; any other exit fails the run.
    pub fn exited(&mut self, bot: usize, status: ExitStatus) -> Option<Duration> {
        self.fault_turn = true;
        let b = &mut self.bots[bot];
        assert!(b.pending.is_empty(), "bot {bot} exited ({status}) with replies owed: {:?}", b.pending);
        match b.life {
            Life::Stopping(at) => {
                assert_eq!(status.signal(), Some(9), "the stopped bot ends by SIGKILL, not {status}");
                let after = at.elapsed();
                assert!(after >= GRACE, "SIGKILL {after:?} after SIGTERM, before the grace");
                self.killed_after = Some(after);
                b.life = Life::Gone;
                None
            }
            Life::Crashing(_) => {
                assert_eq!(status.code(), Some(1), "the crash exits with status 1, not {status}");
                b.life = Life::Down(Instant::now());
                Some(RESTART_DELAY)
            }
            life => panic!("bot {bot} exited ({status}) while {life:?}"),
        }
    }

    /// `bot` was started again after its crash: it gets lines again.
    pub fn restarted(&mut self, bot: usize) {
        self.fault_turn = true;
        let b = &mut self.bots[bot];
        let Life::Down(at) = b.life else { panic!("bot {bot} restarted while {:?}", b.life) };
        assert!(at.elapsed() >= RESTART_DELAY, "restarted {:?} after the crash", at.elapsed());
        b.life = Life::Live;
        b.restarts += 1;
    }

    /// Every late reply came, and with faults, the stopped bot is gone and
    /// the crashed one back: the run may end.
    pub fn settled(&self) -> bool {
        self.bots.iter().all(|b| b.pending.is_empty())
            && (!self.faults
                || (self.bots[STUBBORN].life == Life::Gone && self.bots[CRASHY].life == Life::Live))
    }

    /// Checks the accounts; the metrics: turn latency p99 and p50, the
    /// healthy bots' worst turn, with faults the worst turn that saw one
    /// (all in ms), and missed replies.
    /// The latency of each measured turn so far, in turn order.
    pub fn samples(&self) -> &[Duration] {
        &self.samples
    }

    pub fn finish(self) -> Metrics {
        assert!(!self.in_turn);
        assert_eq!(self.samples.len(), TURNS as usize);
        for (i, b) in self.bots.iter().enumerate() {
            assert!(b.pending.is_empty(), "bot {i}: replies never came for turns {:?}", b.pending);
        }
        assert_eq!(self.sent, self.in_time + self.missed, "every line replied to in time or missed");
        assert_eq!(self.missed, self.late, "every missed reply came late");
        if self.faults {
            assert_eq!(self.bots[STUBBORN].life, Life::Gone, "the stopped bot was killed");
            let crashy = &self.bots[CRASHY];
            // Every line to it after the restart was replied to (checked above); an
            // overloaded loop may restart it late, even after the last turn.
            assert_eq!((crashy.life, crashy.restarts), (Life::Live, 1), "the crashed bot restarted once");
            // When its exit was handed to the loop, not when the kill was sent: no
            // upper bound, as an overloaded loop (threads at 1,000 bots) hears of
            // it late, behind its backlog of late replies.
            assert!(self.killed_after.is_some_and(|after| after >= GRACE));
        }
        if let (Some(from), Some(to)) = (self.cpu_from, self.cpu_to) {
            eprintln!("CPU per turn {:.1} us", (to - from).as_secs_f64() * 1e6 / f64::from(TURNS));
        }
        let mut samples = self.samples;
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut metrics = vec![
            ms(samples[samples.len() * 99 / 100]),
            ms(samples[samples.len() / 2]),
            ms(self.healthy_worst),
        ];
        if self.faults {
            metrics.push(ms(self.fault_worst));
        }
        metrics.push(self.missed as f64);
        Metrics(metrics)
    }
}
