//! The frame scenario side by side in one process: the Runner's loop
//! written by hand, the same written with `begin_turn`, and tokio on a
//! current-thread runtime, each with its own bots, run a few turns at a
//! time in rotated order. Separate processes meet different stretches of a
//! noisy VM; here each side's turns are spread over the same stretch, so
//! that a p99 of the second-worst turn in 200 is compared with one taken
//! under the same conditions.
//!
//! ```text
//! target/release/deps/compare-* --pair-frame 100 5
//! ```
//!
//! One `PAIRFRAME` line: each side's p99, p50 and worst turn (ms) and missed
//! replies, as `--one IMP frame:N:0` reports them; with `FRAME_SAMPLES=FILE`
//! each side's turn latencies (µs) are appended to FILE, one line a side.
//! (The "CPU per turn" the ledgers print covers all three sides here.)
//! A `MACHINE` line gives the run's wall time, the CPU time all processes
//! used and the time the hypervisor took from the VM's CPUs while they had
//! work (the "steal" of `/proc/stat`), which lands on every side alike.

use std::io::Write;

use crate::frame::{Ledger, WARMUP};
use crate::imp_procloop::{frame_drain, frame_runner, frame_turn, turn_frame};
use crate::imp_tokio::TokioFrame;

/// Runs the three sides with `n` bots each, `block` turns at a time.
pub fn run(n: usize, block: u32) {
    let (started, machine_before) = (std::time::Instant::now(), machine_ticks());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut tokio_side = runtime.block_on(async { TokioFrame::new(n, false) });
    let (mut hand_runner, hand_aliases, mut hand_ledger) = frame_runner(n, false);
    let (mut turn_runner, turn_aliases, mut turn_ledger) = frame_runner(n, false);
    let turns = Ledger::turns();
    let mut first = 0;
    let mut order = 0;
    while first < turns {
        let last = (first + block.max(1)).min(turns);
        for side in (0..3).map(|i| (i + order) % 3) {
            for turn in first..last {
                match side {
                    0 => frame_turn(&mut hand_runner, &hand_aliases, &mut hand_ledger, turn),
                    1 => turn_frame(&mut turn_runner, &turn_aliases, &mut turn_ledger, turn),
                    _ => runtime.block_on(tokio_side.turn(turn)),
                }
            }
        }
        (first, order) = (last, order + 1);
    }
    frame_drain(&mut hand_runner, &mut hand_ledger);
    frame_drain(&mut turn_runner, &mut turn_ledger);
    runtime.block_on(tokio_side.drain());
    if let Some(path) = std::env::var_os("FRAME_SAMPLES") {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for (name, samples) in [
            ("hand", hand_ledger.samples()),
            ("turns", turn_ledger.samples()),
            ("tokio-ct", tokio_side.samples()),
        ] {
            let micros: Vec<String> = samples.iter().map(|d| d.as_micros().to_string()).collect();
            writeln!(file, "{name} {}", micros.join(" ")).unwrap();
        }
    }
    let show = |metrics: crate::util::Metrics| format!("{:?}", metrics.0);
    println!(
        "PAIRFRAME n {n} block {block} warmup {WARMUP}: hand {} turns {} tokio-ct {} (p99, p50, worst ms, missed)",
        show(hand_ledger.finish()),
        show(turn_ledger.finish()),
        show(tokio_side.finish())
    );
    let [busy, steal] = machine_ticks().map(|after| after as f64 / 100.0);
    let [busy_before, steal_before] = machine_before.map(|before| before as f64 / 100.0);
    println!(
        "MACHINE wall {:.2} s, CPU used {:.2} s, stolen {:.2} s",
        started.elapsed().as_secs_f64(),
        busy - busy_before,
        steal - steal_before
    );
}

/// All CPUs' busy (user, nice, system) and stolen time so far, in ticks of
/// 10 ms (`/proc/stat`'s first line); zeros where it cannot be read.
fn machine_ticks() -> [u64; 2] {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    [field(0) + field(1) + field(2), field(7)]
}
