//! Fan out to N `cat` children from one thread: start them all, send each a
//! distinct line, collect every echo through `poll_once`, then close their
//! stdin and reap them all.
//!
//! ```text
//! cargo run --release --example fanout -- 2000
//! ```
//!
//! Progress goes to stderr: one line rewritten in place on a terminal, and
//! a line every tenth of each phase when stderr is a file or a pipe.
//!
//! `CAT` names another program to echo with (`CAT="python3 -u cat.py"`);
//! a child that echoes wrong, ends before its echo or with a failure, or
//! leaves a phase without progress for 10 s ends the run with an error
//! naming it.

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start};

fn main() -> Result<(), Failure> {
    env_logger::init();
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| format!("the number of children, {arg:?}: {e}"))?,
        None => 1000,
    };
    let mut runner = Runner::new()?;
    runner.add("cat", App::new(std::env::var("CAT").unwrap_or("cat".into())).buffering(Buffering::Line));

    let mut progress = Progress::new();
    let start = Instant::now();
    for i in 0..n {
        runner
            .start_with("cat", Start::new().alias(format!("cat-{i}")))
            .map_err(|e| format!("cat-{i}: {e}"))?;
        progress.show("spawned", i + 1, n);
    }
    let spawned = start.elapsed();

    let start = Instant::now();
    for i in 0..n {
        let line = format!("hello from line {i}\n");
        let channel = runner.get_channel(&format!("cat-{i}")).expect("started");
        channel.write(line.as_bytes()).map_err(|e| format!("cat-{i}: {e}"))?;
    }
    let mut waiting: HashSet<usize> = (0..n).collect();
    // A child that ends early (`head -n 1` echoes first) is no failure
    // until the last phase looks at its exit status.
    let mut exited: Vec<(usize, ExitStatus)> = Vec::new();
    let mut stalled = Stall::new("echo");
    while !waiting.is_empty() {
        let mut wrong = None;
        runner.poll_once(Some(stalled.left()?), |_, event| match event {
            Event::Data { alias, data } => {
                let i = index(alias);
                if data != format!("hello from line {i}\n").as_bytes() {
                    wrong = Some(format!("{alias} echoed {:?}", String::from_utf8_lossy(data)));
                }
                waiting.remove(&i);
            }
            Event::Exited { alias, status } => {
                let i = index(alias);
                if waiting.contains(&i) {
                    wrong = Some(format!("{alias} ended ({status}) before its echo"));
                }
                exited.push((i, status));
            }
            _ => {}
        })?;
        if let Some(wrong) = wrong {
            return Err(wrong.into());
        }
        stalled.progress(n - waiting.len());
        progress.show("echoed", n - waiting.len(), n);
    }
    let round_trip = start.elapsed();

    let start = Instant::now();
    for i in 0..n {
        runner.get_channel(&format!("cat-{i}")).expect("started").close_write();
    }
    let mut stalled = Stall::new("exit");
    while exited.len() < n {
        runner.poll_once(Some(stalled.left()?), |_, event| {
            if let Event::Exited { status, alias } = event {
                exited.push((index(alias), status));
            }
        })?;
        stalled.progress(exited.len());
        progress.show("exited", exited.len(), n);
    }
    if let Some((i, status)) = exited.iter().find(|(_, status)| !status.success()) {
        return Err(format!("cat-{i}: {status}").into());
    }
    for i in 0..n {
        runner.terminate(&format!("cat-{i}"))?;
    }
    let teardown = start.elapsed();

    progress.finish();
    println!("{n} cat children, one thread, every echo checked");
    println!("  spawn      {:>9.1?}  ({:.0} µs per child)", spawned, per_child(spawned, n));
    println!("  round trip {:>9.1?}  (all {n} lines out and back)", round_trip);
    println!("  teardown   {:>9.1?}  (close stdin, reap all)", teardown);
    Ok(())
}

/// The number in one of our aliases, `cat-<i>`.
fn index(alias: &str) -> usize {
    alias["cat-".len()..].parse().expect("our alias")
}

/// How long a phase may go without progress before the demo gives up: a
/// child that never answers (`CAT="sleep 1000"`) ends the run with an error
/// instead of hanging it.
const STALL: Duration = Duration::from_secs(10);

/// The time since a phase last made progress.
struct Stall {
    phase: &'static str,
    done: usize,
    since: Instant,
}

impl Stall {
    fn new(phase: &'static str) -> Stall {
        Stall { phase, done: 0, since: Instant::now() }
    }

    /// What is left of the wait for the next step; an error once it is spent.
    fn left(&self) -> Result<Duration, String> {
        STALL.checked_sub(self.since.elapsed()).filter(|left| !left.is_zero()).ok_or_else(|| {
            format!("no {} for {STALL:?} ({} done): a child does not answer", self.phase, self.done)
        })
    }

    fn progress(&mut self, done: usize) {
        if done > self.done {
            self.done = done;
            self.since = Instant::now();
        }
    }
}

fn per_child(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n.max(1) as f64
}

/// "what done/n" on stderr: on a terminal one line, rewritten at most every
/// hundredth of a phase; elsewhere (a file, a pipe, a CI log) a plain line
/// at each tenth, so the output stays readable there.
struct Progress {
    terminal: bool,
    last: Option<(&'static str, usize)>,
}

impl Progress {
    fn new() -> Progress {
        Progress { terminal: std::io::stderr().is_terminal(), last: None }
    }

    fn show(&mut self, what: &'static str, done: usize, n: usize) {
        let steps = if self.terminal { 100 } else { 10 };
        let step = (done * steps).checked_div(n).unwrap_or(steps);
        if self.last == Some((what, step)) {
            return;
        }
        self.last = Some((what, step));
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r\x1b[2K{what} {done}/{n}")
        } else {
            writeln!(err, "{what} {done}/{n}")
        };
        let _ = err.flush();
    }

    /// Clears the terminal's progress line before the results.
    fn finish(&mut self) {
        if self.terminal {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
