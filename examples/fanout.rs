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

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let n: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let mut runner = Runner::new()?;
    runner.add("cat", App::new(std::env::var("CAT").unwrap_or("cat".into())).buffering(Buffering::Line));

    let mut progress = Progress::new();
    let start = Instant::now();
    for i in 0..n {
        runner.start_with("cat", Start::new().alias(format!("cat-{i}")))?;
        progress.show("spawned", i + 1, n);
    }
    let spawned = start.elapsed();

    let start = Instant::now();
    for i in 0..n {
        let line = format!("hello from line {i}\n");
        runner.get_channel(&format!("cat-{i}")).expect("started").write(line.as_bytes())?;
    }
    let mut waiting: HashSet<usize> = (0..n).collect();
    while !waiting.is_empty() {
        runner.poll_once(Some(Duration::from_secs(10)), |_, event| {
            if let Event::Data { alias, data } = event {
                let i: usize = alias["cat-".len()..].parse().expect("our alias");
                assert_eq!(data, format!("hello from line {i}\n").as_bytes(), "echo of {alias}");
                waiting.remove(&i);
            }
        })?;
        progress.show("echoed", n - waiting.len(), n);
    }
    let round_trip = start.elapsed();

    let start = Instant::now();
    for i in 0..n {
        runner.get_channel(&format!("cat-{i}")).expect("started").close_write();
    }
    let mut running = n;
    while running > 0 {
        runner.poll_once(Some(Duration::from_secs(10)), |_, event| {
            if let Event::Exited { status, alias } = event {
                assert!(status.success(), "{alias}: {status}");
                running -= 1;
            }
        })?;
        progress.show("exited", n - running, n);
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
