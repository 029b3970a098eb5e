//! Fan out to N `cat` children from one thread: start them all, send each a
//! distinct line, collect every echo through `poll_once`, then close their
//! stdin and reap them all.
//!
//! ```text
//! cargo run --release --example fanout -- 2000
//! ```

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let n: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let mut runner = Runner::new()?;
    runner.add("cat", App::new(std::env::var("CAT").unwrap_or("cat".into())).buffering(Buffering::Line));

    let start = Instant::now();
    for i in 0..n {
        runner.start_with("cat", Start::new().alias(format!("cat-{i}")))?;
        if i % 250 == 0 {
            progress(&format!("spawned {i}/{n}"));
        }
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
        progress(&format!("echoed {}/{n}", n - waiting.len()));
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
        progress(&format!("exited {}/{n}", n - running));
    }
    for i in 0..n {
        runner.terminate(&format!("cat-{i}"))?;
    }
    let teardown = start.elapsed();

    progress("");
    println!("{n} cat children, one thread, every echo checked");
    println!("  spawn      {:>9.1?}  ({:.0} µs per child)", spawned, per_child(spawned, n));
    println!("  round trip {:>9.1?}  (all {n} lines out and back)", round_trip);
    println!("  teardown   {:>9.1?}  (close stdin, reap all)", teardown);
    Ok(())
}

fn per_child(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n.max(1) as f64
}

fn progress(msg: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K{msg}");
    let _ = err.flush();
}
