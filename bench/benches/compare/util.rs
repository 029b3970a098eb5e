//! Scenarios, metrics and the table.

use std::time::{Duration, Instant};

use crate::frame;

/// One scenario with its size.
#[derive(Clone, Debug)]
pub enum Scenario {
    /// Start and reap `n` children of `program`, `in_flight` at a time.
    Spawn { n: usize, in_flight: usize, program: String },
    /// `n` cat children, one 64-byte line each, every echo, close, reap.
    Fanout { n: usize },
    /// `bytes` through one cat in 64 KiB writes.
    Throughput { bytes: usize },
    /// `rounds` round trips of a 32-byte line through one cat.
    PingPong { rounds: usize },
    /// Read `seq 1 n` line by line.
    Lines { n: usize },
    /// `n` bots, a line to each a turn, every reply or a 16 ms deadline
    /// (see `frame.rs`); with `faults`, a stop and a crash.
    Frame { n: usize, faults: bool },
}

pub const CHUNK: usize = 64 * 1024;
pub const LINE: &[u8; 32] = b"0123456789abcdefghijklmnopqrstu\n";

pub fn scenarios(quick: bool) -> Vec<Scenario> {
    let q = |full: usize, small: usize| if quick { small } else { full };
    let mut all = vec![
        Scenario::Spawn { n: q(1000, 200), in_flight: 1, program: "/bin/true".into() },
        Scenario::Spawn { n: q(1000, 200), in_flight: 32, program: "/bin/true".into() },
    ];
    if let Some(static_true) = static_true() {
        all.push(Scenario::Spawn { n: q(2000, 300), in_flight: 1, program: static_true.clone() });
        all.push(Scenario::Spawn { n: q(2000, 300), in_flight: 32, program: static_true });
    }
    for n in if quick { vec![100, 1000] } else { vec![100, 1000, 4000] } {
        all.push(Scenario::Fanout { n });
    }
    all.push(Scenario::Throughput { bytes: q(1 << 30, 256 << 20) });
    all.push(Scenario::PingPong { rounds: q(100_000, 20_000) });
    all.push(Scenario::Lines { n: 1_000_000 });
    for faults in [false, true] {
        for n in [100, 1000] {
            all.push(Scenario::Frame { n, faults });
        }
    }
    all
}

impl Scenario {
    pub fn name(&self) -> String {
        match self {
            Scenario::Spawn { n, in_flight, program } => {
                let what = if program.ends_with("static-true") { "static true" } else { program.as_str() };
                format!("spawn: {n} × {what}, {in_flight} in flight")
            }
            Scenario::Fanout { n } => format!("fanout: {n} cat children"),
            Scenario::Throughput { bytes } => format!("throughput: {} MiB through cat", bytes >> 20),
            Scenario::PingPong { rounds } => format!("ping-pong: {rounds} round trips through cat"),
            Scenario::Lines { n } => format!("lines: seq 1 {n}"),
            Scenario::Frame { n, faults: false } => {
                format!(
                    "frame: {n} bots, {} turns, {} ms deadline",
                    frame::TURNS,
                    frame::DEADLINE.as_millis()
                )
            }
            Scenario::Frame { n, faults: true } => format!(
                "frame-faults: {n} bots, {} turns, {} ms deadline, a stop at turn {} and a crash at turn {}",
                frame::TURNS,
                frame::DEADLINE.as_millis(),
                frame::STOP_TURN,
                frame::CRASH_TURN
            ),
        }
    }

    pub fn spec(&self) -> String {
        match self {
            Scenario::Spawn { n, in_flight, program } => format!("spawn:{n}:{in_flight}:{program}"),
            Scenario::Fanout { n } => format!("fanout:{n}"),
            Scenario::Throughput { bytes } => format!("throughput:{bytes}"),
            Scenario::PingPong { rounds } => format!("pingpong:{rounds}"),
            Scenario::Lines { n } => format!("lines:{n}"),
            Scenario::Frame { n, faults } => format!("frame:{n}:{}", u8::from(*faults)),
        }
    }

    pub fn from_spec(spec: &str) -> Scenario {
        let parts: Vec<&str> = spec.splitn(4, ':').collect();
        let num = |i: usize| parts[i].parse::<usize>().unwrap();
        match parts[0] {
            "spawn" => Scenario::Spawn { n: num(1), in_flight: num(2), program: parts[3].to_string() },
            "fanout" => Scenario::Fanout { n: num(1) },
            "throughput" => Scenario::Throughput { bytes: num(1) },
            "pingpong" => Scenario::PingPong { rounds: num(1) },
            "lines" => Scenario::Lines { n: num(1) },
            "frame" => Scenario::Frame { n: num(1), faults: num(2) == 1 },
            other => panic!("unknown scenario {other}"),
        }
    }

    pub fn supports(&self, imp: &str) -> bool {
        if matches!(self, Scenario::Frame { .. }) {
            let mio = imp == "mio-loop" && matches!(self, Scenario::Frame { faults: false, .. });
            let ours = matches!(imp, "procloop" | "procloop-turns" | "procloop-batch");
            return mio || ours || matches!(imp, "tokio-ct" | "threads");
        }
        match imp {
            "procloop-facade" => matches!(self, Scenario::PingPong { .. } | Scenario::Lines { .. }),
            "procloop-wholelines" => matches!(self, Scenario::Lines { .. }),
            "plain" => matches!(self, Scenario::Throughput { .. } | Scenario::Lines { .. }),
            "procloop-sock" => !matches!(self, Scenario::Lines { .. }),
            "procloop-dwp" => matches!(self, Scenario::Spawn { .. } | Scenario::Fanout { .. }),
            "procloop-cg" => matches!(self, Scenario::Spawn { .. }),
            "procloop-turns" | "procloop-batch" => false,
            "threads" => true,
            _ => true,
        }
    }

    /// The metrics' names and whether bigger is better.
    fn columns(&self) -> &'static [(&'static str, bool)] {
        match self {
            Scenario::Spawn { .. } => &[("spawns/s", true), ("peak RSS KiB", false)],
            Scenario::Fanout { .. } => &[("wall ms", false), ("peak RSS KiB", false)],
            Scenario::Throughput { .. } => &[("GB/s", true), ("peak RSS KiB", false)],
            Scenario::PingPong { .. } => &[("mean µs", false), ("p99 µs", false), ("peak RSS KiB", false)],
            Scenario::Lines { .. } => &[("M lines/s", true), ("peak RSS KiB", false)],
            Scenario::Frame { faults: false, .. } => &[
                ("turn p99 ms", false),
                ("turn p50 ms", false),
                ("worst ms", false),
                ("missed", false),
                ("peak RSS KiB", false),
            ],
            Scenario::Frame { faults: true, .. } => &[
                ("turn p99 ms", false),
                ("turn p50 ms", false),
                ("healthy worst ms", false),
                ("fault turns worst ms", false),
                ("missed", false),
                ("peak RSS KiB", false),
            ],
        }
    }
}

/// What one run measured; the last value is peak RSS in KiB.
#[derive(Clone, Debug)]
pub struct Metrics(pub Vec<f64>);

impl Metrics {
    pub fn with_rss(mut self) -> Metrics {
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
        self.0.push(usage.max_rss() as f64);
        self
    }

    pub fn format(&self) -> String {
        self.0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")
    }

    pub fn parse(line: &str) -> Metrics {
        Metrics(line.split_whitespace().map(|v| v.parse().unwrap()).collect())
    }

    pub fn rate(count: usize, elapsed: Duration) -> Metrics {
        Metrics(vec![count as f64 / elapsed.as_secs_f64()])
    }

    pub fn wall_ms(elapsed: Duration) -> Metrics {
        Metrics(vec![elapsed.as_secs_f64() * 1e3])
    }

    pub fn gbps(bytes: usize, elapsed: Duration) -> Metrics {
        Metrics(vec![bytes as f64 / elapsed.as_secs_f64() / 1e9])
    }

    pub fn mlines(lines: usize, elapsed: Duration) -> Metrics {
        Metrics(vec![lines as f64 / elapsed.as_secs_f64() / 1e6])
    }

    /// Mean and p99 of round-trip times, in µs.
    pub fn latencies(mut samples: Vec<Duration>) -> Metrics {
        samples.sort();
        let mean = samples.iter().sum::<Duration>().as_secs_f64() / samples.len() as f64;
        let p99 = samples[samples.len() * 99 / 100];
        Metrics(vec![mean * 1e6, p99.as_secs_f64() * 1e6])
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

pub fn print_table(scenario: &Scenario, impls: &[&str], samples: &[Vec<Metrics>]) {
    let columns = scenario.columns();
    println!("## {}\n", scenario.name());
    let mut header = "| implementation |".to_string();
    let mut rule = "|---|".to_string();
    for (name, _) in columns {
        header += &format!(" {name} |");
        rule += "---|";
    }
    header += " procloop ÷ this |";
    rule += "---|";
    println!("{header}\n{rule}");
    let medians: Vec<Option<Vec<f64>>> = samples
        .iter()
        .map(|runs| {
            (!runs.is_empty()).then(|| {
                (0..columns.len())
                    .map(|c| median(&mut runs.iter().map(|m| m.0[c]).collect::<Vec<_>>()))
                    .collect()
            })
        })
        .collect();
    let ours = medians[0].as_ref().map(|m| m[0]);
    for (i, imp) in impls.iter().enumerate() {
        let Some(med) = &medians[i] else {
            println!("| {imp} | failed |");
            continue;
        };
        let mut row = format!("| {imp} |");
        for (c, _) in columns.iter().enumerate() {
            let values: Vec<f64> = samples[i].iter().map(|m| m.0[c]).collect();
            let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            row += &format!(" {} [{}–{}] |", fmt(med[c]), fmt(lo), fmt(hi));
        }
        let ratio = ours.map(|o| o / med[0]).map_or("–".into(), |r| format!("{r:.2}"));
        row += &format!(" {ratio} |");
        println!("{row}");
    }
    let better =
        if columns[0].1 { "above 1 means procloop is faster" } else { "below 1 means procloop is faster" };
    println!("\nThe ratio compares the first column; {better}.\n");
}

fn fmt(v: f64) -> String {
    if v >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A static `true` with no libc: it shows a spawner's own cost, not the
/// dynamic loader's. Built once with gcc, if gcc is there.
fn static_true() -> Option<String> {
    let dir = std::env::temp_dir().join("procloop-bench");
    let bin = dir.join("static-true");
    if bin.exists() {
        return Some(bin.display().to_string());
    }
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("static-true.c");
    std::fs::write(
        &src,
        "void _start(void){__asm__ volatile(\"mov $60,%eax\\nxor %edi,%edi\\nsyscall\");}\n",
    )
    .ok()?;
    let ok = std::process::Command::new("gcc")
        .args(["-nostdlib", "-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| bin.display().to_string())
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    format!("Machine: {cores} CPUs ({cpu}), Linux {kernel}.")
}

/// The expected output of `seq 1 n`: (lines, bytes).
pub fn seq_shape(n: usize) -> (usize, usize) {
    let bytes = (1..=n).map(|i| i.to_string().len() + 1).sum();
    (n, bytes)
}

/// The 64-byte line fanout child `i` gets.
pub fn fanout_line(i: usize) -> Vec<u8> {
    let mut line = format!("child {i:06} says hello").into_bytes();
    line.resize(63, b'.');
    line.push(b'\n');
    line
}

/// The chunk throughput runs write over and over.
pub fn chunk() -> Vec<u8> {
    (0..CHUNK).map(|i| (i % 251) as u8).collect()
}

/// Checks bytes received at stream offset `pos` against the repeated chunk.
pub fn check_stream(chunk: &[u8], pos: usize, data: &[u8]) {
    let mut off = pos % CHUNK;
    let mut rest = data;
    while !rest.is_empty() {
        let n = rest.len().min(CHUNK - off);
        assert!(rest[..n] == chunk[off..off + n], "corrupt stream at {pos}");
        rest = &rest[n..];
        off = 0;
    }
}

pub struct Timer(Instant);

impl Timer {
    pub fn start() -> Timer {
        Timer(Instant::now())
    }
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
