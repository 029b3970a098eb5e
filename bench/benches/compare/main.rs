//! Side-by-side benchmark: procloop against what its users would otherwise
//! use, the same scenarios, interleaved runs, medians and ratios.
//!
//! ```text
//! cargo bench -p procloop-bench --bench compare -- [--reps 5] [--pin] [--quick] [scenario ...]
//! ```
//!
//! Each run is its own process (the bench binary run again with `--one`),
//! so one run's fds, memory and threads never weigh on the next, and peak
//! RSS is the run's own. Every scenario checks its results (every echo,
//! every byte, every line): a fast wrong answer fails the run.
//!
//! Rows: `procloop` is the Runner's loop over pipes, `procloop-sock` the
//! same over one socket pair per child, `procloop-dwp` the same with
//! `die_with_parent` (which takes the fork path), `procloop-facade` the Channel
//! without the loop (`poll(2)` on its fd), `mio-loop` a minimal hand-written
//! mio loop, `tokio-ct`/`tokio-mt` tokio::process on a current-thread or
//! multi-thread runtime, `threads` std::process with a thread per pipe, and
//! `plain` the bare limit (a read loop; a pipe between two threads).
//!
//! `procloop-wholelines` is `procloop` on the lines scenario only, with
//! `Buffering::WholeLines`: one event a read, its lines counted with memchr.
//!
//! `procloop-turns` is the frame scenarios written with `Runner::begin_turn`,
//! `procloop-batch` the `procloop` frame loop with its bots under `SCHED_BATCH`.
//! The frame scenarios (`frame`, `frame-faults`) run procloop, tokio-ct and
//! threads only, and `frame` the mio loop too; their bots are this binary run with `--bot` (see `frame.rs`).
//!
//! `--pair-pingpong BLOCKS ROUNDS` and `--pair-frame BOTS BLOCK` run loops
//! side by side in one process instead, alternating in blocks, where a gap
//! smaller than the noise between processes is to be measured
//! (`pingpong_pair.rs`, `frame_pair.rs`).

mod frame;
mod frame_pair;
mod imp_mio;
mod imp_procloop;
mod imp_threads;
mod imp_tokio;
mod pingpong_pair;
mod util;

use std::process::Command;

use procloop::Transport;
use util::{Metrics, Scenario};

/// The implementations, in table order.
const IMPLS: &[&str] = &[
    "procloop",
    "procloop-turns",
    "procloop-batch",
    "procloop-sock",
    "procloop-dwp",
    "procloop-cg",
    "procloop-facade",
    "procloop-wholelines",
    "mio-loop",
    "tokio-ct",
    "tokio-mt",
    "threads",
    "plain",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        return run_one(&args[1], &args[2]);
    }
    if args.first().map(String::as_str) == Some("--pair-pingpong") {
        let num = |i: usize| args.get(i).and_then(|a| a.parse().ok()).expect("--pair-pingpong BLOCKS ROUNDS");
        return pingpong_pair::run(num(1), num(2));
    }
    if args.first().map(String::as_str) == Some("--pair-frame") {
        let num = |i: usize| args.get(i).and_then(|a| a.parse().ok()).expect("--pair-frame BOTS BLOCK");
        return frame_pair::run(num(1), num(2) as u32);
    }
    if args.first().map(String::as_str) == Some("--bot") {
        return frame::bot(&args[1..]);
    }
    let mut reps = 5;
    let mut pin = false;
    let mut quick = false;
    let mut wanted = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--reps" => reps = it.next().and_then(|r| r.parse().ok()).expect("--reps N"),
            "--pin" => pin = true,
            "--quick" => quick = true,
            "--bench" => {}
            other => wanted.push(other.to_string()),
        }
    }
    let scenarios: Vec<Scenario> = util::scenarios(quick)
        .into_iter()
        .filter(|s| wanted.is_empty() || wanted.iter().any(|w| s.name().starts_with(w.as_str())))
        .collect();
    println!("# procloop side by side\n");
    println!("{}\n", util::machine());
    println!(
        "{reps} repetitions, interleaved; medians, with min–max in brackets.{}\n",
        if pin { " Pinned to CPU 0 (taskset -c 0)." } else { "" }
    );
    for scenario in scenarios {
        let impls: Vec<&str> = IMPLS.iter().copied().filter(|i| scenario.supports(i)).collect();
        let mut samples: Vec<Vec<Metrics>> = vec![Vec::new(); impls.len()];
        for _ in 0..reps {
            for (i, imp) in impls.iter().enumerate() {
                if let Some(m) = run_child(imp, &scenario, pin) {
                    samples[i].push(m);
                }
            }
        }
        util::print_table(&scenario, &impls, &samples);
    }
}

/// Runs one (implementation, scenario) in a fresh process; `None` if it failed.
fn run_child(imp: &str, scenario: &Scenario, pin: bool) -> Option<Metrics> {
    let exe = std::env::current_exe().unwrap();
    let spec = scenario.spec();
    let output = if pin {
        Command::new("taskset").args(["-c", "0"]).arg(exe).args(["--one", imp, &spec]).output()
    } else {
        Command::new(exe).args(["--one", imp, &spec]).output()
    }
    .expect("run the bench binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(line) => Some(Metrics::parse(line)),
        None => {
            eprintln!("{imp} {spec} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
            None
        }
    }
}

/// In the child process: run one implementation of one scenario, print its metrics.
fn run_one(imp: &str, spec: &str) {
    let scenario = Scenario::from_spec(spec);
    let metrics = match imp {
        "procloop" => imp_procloop::run(&scenario, Transport::Pipes),
        "procloop-sock" => imp_procloop::run(&scenario, Transport::SocketPair),
        "procloop-dwp" => imp_procloop::run_with(&scenario, Transport::Pipes, true),
        "procloop-facade" => imp_procloop::run_facade(&scenario),
        "procloop-wholelines" => imp_procloop::run_whole_lines(&scenario),
        "procloop-turns" => imp_procloop::run_turns(&scenario),
        "procloop-batch" => imp_procloop::run_scheduled(&scenario, procloop::Scheduler::Batch),
        "procloop-cg" => imp_procloop::run_contained(&scenario),
        "mio-loop" => imp_mio::run(&scenario),
        "tokio-ct" => imp_tokio::run(&scenario, false),
        "tokio-mt" => imp_tokio::run(&scenario, true),
        "threads" => imp_threads::run(&scenario),
        "plain" => imp_threads::run_plain(&scenario),
        other => panic!("unknown implementation {other}"),
    };
    println!("RESULT {}", metrics.with_rss().format());
}
