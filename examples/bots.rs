//! A round-based game server: K bot processes get each turn's state and must
//! answer within a deadline the loop enforces with a timer. A late, wrong or
//! dead bot forfeits the turn; a crashing bot is restarted by its app's
//! restart policy. Every bot runs under a memory cap; one that thinks past
//! its CPU budget is stopped. A results table at the end, with the CPU time
//! and peak memory each bot used, and the CPU time of its whole tree.
//!
//! Each bot runs in a cgroup of its own where one can be had
//! (`Cgroups::Preferred`), and two intruders try their luck beside the game:
//! one leaves its tree (setsid and a double fork) with a busy grandchild,
//! which still ends with its bot; one forks without end, held by
//! `Limit::Tasks` where the cgroup has the pids controller (elsewhere its
//! start is refused, `LimitUnsupported`, and it sits out).
//!
//! ```text
//! cargo run --example bots -- [turns] [deadline-ms]
//! ```
//!
//! The bots are small scripts (sh, and python3 for the hog) written to a
//! temporary folder: each says `hello` once it runs, then reads `turn T A B`
//! and must answer `T A+B`. Ctrl-C (or SIGTERM) comes through the loop:
//! the arena ends every bot and cleans up before it exits.

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use procloop::{
    App, Buffering, Cgroups, Channel, Containment, Error, Event, Limit, ReactorEvent, Restart, Runner, Start,
    Stderr,
};

/// Name, interpreter, script.
const BOTS: &[(&str, &str, &str)] = &[
    ("quick", "sh", r#"echo hello; while read w t a b; do echo "$t $((a + b))"; done"#),
    (
        "sloppy",
        "sh",
        r#"echo hello; while read w t a b; do [ $((t % 3)) = 0 ] && b=$((b + 1)); echo "$t $((a + b))"; done"#,
    ),
    // Late on even turns, whatever the deadline: it holds the answer back
    // until the next turn's state has come.
    (
        "slow",
        "sh",
        r#"echo hello; while read w t a b; do [ -n "$held" ] && echo "$held"; held="$t $((a + b))"; if [ $((t % 2)) = 1 ]; then echo "$held"; held=; fi; done"#,
    ),
    (
        "crashy",
        "sh",
        r#"echo hello; while read w t a b; do [ "$t" = 3 ] && exit 1; echo "$t $((a + b))"; done"#,
    ),
    ("silent", "sh", r#"echo hello; while read line; do :; done"#),
    // Thinks for ever from turn 2 on.
    (
        "spinner",
        "sh",
        r#"echo hello; while read w t a b; do [ "$t" = 2 ] && while :; do :; done; echo "$t $((a + b))"; done"#,
    ),
    // Hoards 64 MiB a turn on turns 1 and 2: the second is past its cap.
    (
        "hog",
        "python3",
        "import sys\nprint('hello', flush=True)\nhoard = []\nfor line in sys.stdin:\n    _, t, a, b = line.split()\n    \
         if int(t) <= 2:\n        hoard.append(bytearray(64 << 20))\n    \
         print(t, int(a) + int(b), flush=True)\n",
    ),
];

/// Each bot's address space (`RLIMIT_AS`): allocations past it fail.
const MEMORY_CAP: u64 = 128 << 20;
/// The CPU time a bot may think for in one run; the arena stops it past that.
const CPU_BUDGET: Duration = Duration::from_millis(500);
/// How long the bots have to start and say hello.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// What the arena keeps of each bot.
#[derive(Default)]
struct Record {
    right: u32,
    wrong: u32,
    forfeited: u32,
    /// CPU time and peak memory of its ended runs.
    cpu: Duration,
    peak: u64,
    /// The last line it wrote to stderr.
    last_words: String,
    /// Stopped for thinking past its budget.
    stopped: bool,
    /// The CPU time of its ended runs' whole trees, with a cgroup.
    tree_cpu: Option<Duration>,
}

fn main() -> Result<(), Failure> {
    env_logger::init();
    let turns: u32 = argument(1, "turns")?.unwrap_or(8);
    let deadline = Duration::from_millis(argument(2, "deadline-ms")?.unwrap_or(200));
    if deadline.is_zero() {
        // Its timer would fire at once: every bot would forfeit every turn.
        return Err("deadline-ms: at least 1".into());
    }
    let dir = std::env::temp_dir().join(format!("procloop-bots-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The folder goes whatever happened (python3 missing, say).
    let played = play(&dir, turns, deadline);
    std::fs::remove_dir_all(&dir)?;
    Ok(played?)
}

/// The number in argument `n`, named `name` in an error.
fn argument<T: std::str::FromStr<Err: std::fmt::Display>>(n: usize, name: &str) -> Result<Option<T>, String> {
    let Some(arg) = std::env::args().nth(n) else { return Ok(None) };
    arg.parse().map(Some).map_err(|e| format!("{name}: {arg:?} is not a number ({e})"))
}

/// The game, its bots' scripts in `dir`.
fn play(dir: &std::path::Path, turns: u32, deadline: Duration) -> Result<(), Box<dyn std::error::Error>> {
    // A cgroup per bot where this process may make them, else a process
    // group per bot.
    let mut runner = Runner::with_cgroups(Cgroups::Preferred)?;
    watch_interrupts(&mut runner)?;
    let intruders = start_intruders(&mut runner, dir)?;
    for (name, interpreter, script) in BOTS {
        let path = dir.join(format!("{name}.{interpreter}"));
        std::fs::write(&path, script)?;
        let app = App::new(format!("{interpreter} {}", path.display()))
            .buffering(Buffering::Line)
            .stderr(Stderr::Capture)
            .limit(Limit::Memory(MEMORY_CAP))
            // The kernel's backstop, should the arena itself stall.
            .limit(Limit::CpuTime(Duration::from_secs(10)))
            .restart(Restart::OnFailure)
            .backoff(Duration::from_millis(10), Duration::from_millis(100))
            .max_restarts(3, Duration::from_secs(60));
        runner.add(*name, app);
        runner.start_with(name, Start::new())?;
    }
    let mut records: BTreeMap<&str, Record> = BOTS.iter().map(|(n, ..)| (*n, Record::default())).collect();
    await_hellos(&mut runner, &mut records)?;
    stop_if_interrupted()?;
    for turn in 1..=turns {
        let (a, b) = (turn * 7 % 13, turn * 5 % 11);
        let answers = play_turn(&mut runner, &mut records, turn, a, b, deadline)?;
        stop_if_interrupted()?;
        for (name, record) in records.iter_mut() {
            match answers.get(name) {
                Some(answer) if *answer == a + b => record.right += 1,
                Some(_) => record.wrong += 1,
                None => record.forfeited += 1,
            }
        }
        check_budgets(&mut runner, &mut records, turn)?;
    }
    let escapee = show_intruders(&runner, &intruders, dir)?;
    // Game over: stop every bot and take what each used as its exit comes.
    runner.stop_all();
    while BOTS.iter().any(|(name, ..)| runner.exit_status(name).is_none()) && !interrupted() {
        runner.poll_once(None, |runner, event| keep_books(runner, &mut records, "game over", event))?;
    }
    stop_if_interrupted()?;
    println!("\n| bot     | right | wrong | forfeited | CPU time | peak memory | tree CPU |");
    println!("|---------|-------|-------|-----------|----------|-------------|----------|");
    for (name, r) in &records {
        let (cpu, peak) = (r.cpu.as_secs_f64(), r.peak as f64 / (1 << 20) as f64);
        let (right, wrong, forfeited) = (r.right, r.wrong, r.forfeited);
        let tree = r.tree_cpu.map_or("-".to_string(), |t| format!("{:.3} s", t.as_secs_f64()));
        println!(
            "| {name:<7} | {right:>5} | {wrong:>5} | {forfeited:>9} | {cpu:>6.3} s | {peak:>7.1} MiB | {tree:>8} |"
        );
    }
    drop(runner);
    if let Some(pid) = escapee {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        // A zombie nobody reaps (the orphan's new parent may not) has ended too.
        let ended =
            state.is_none_or(|stat| stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z')));
        println!(
            "the escaper's grandchild (pid {pid}): {}",
            if ended { "ended with its bot" } else { "got away" }
        );
    }
    Ok(())
}

/// Set once Ctrl-C (SIGINT) or SIGTERM came.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Ends the game once interrupted: dropping the Runner on the way out ends
/// every bot and removes their cgroups, and `main` removes the folder.
fn stop_if_interrupted() -> Result<(), &'static str> {
    if interrupted() { Err("interrupted: every bot is ended, the game is off") } else { Ok(()) }
}

/// Makes Ctrl-C (and SIGTERM) an event of the loop instead of the end of
/// the arena: they are blocked, and a signalfd that reads them is a channel
/// of the Runner's loop. Without it the arena would die at once, leaving
/// its folder and its cgroups behind. (Its children start with no signal
/// blocked: the bots still get the terminal's SIGINT.)
fn watch_interrupts(runner: &mut Runner) -> Result<(), Box<dyn std::error::Error>> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;
    let signal_fd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)?;
    let channel = Channel::from_pipe(Some(std::os::fd::AsFd::as_fd(&signal_fd).try_clone_to_owned()?), None)?;
    runner.reactor().register(channel)?;
    Ok(())
}

/// Waits until every bot has said hello (or the start deadline passed), so
/// that starting up costs no turn.
fn await_hellos(runner: &mut Runner, records: &mut BTreeMap<&'static str, Record>) -> procloop::Result<()> {
    let deadline = runner.set_timer(START_DEADLINE);
    let mut hello = BTreeSet::new();
    let mut over = false;
    while !over && hello.len() < BOTS.len() && !interrupted() {
        runner.poll_once(None, |runner, event| match event {
            Event::Data { alias, data } if data.starts_with(b"hello") => {
                hello.insert(alias.to_string());
            }
            Event::Timer { id } if id == deadline => over = true,
            other => keep_books(runner, records, "start", other),
        })?;
    }
    runner.cancel_timer(deadline);
    Ok(())
}

/// One turn: send the state to every bot, collect answers until all came
/// or the deadline's timer fires.
fn play_turn(
    runner: &mut Runner,
    records: &mut BTreeMap<&'static str, Record>,
    turn: u32,
    a: u32,
    b: u32,
    deadline: Duration,
) -> procloop::Result<BTreeMap<&'static str, u32>> {
    let state = format!("turn {turn} {a} {b}\n");
    for (name, ..) in BOTS {
        if let Some(channel) = runner.get_channel(name) {
            // A bot that is down or not reading forfeits; the game goes on.
            let _ = channel.write(state.as_bytes());
        }
    }
    let deadline = runner.set_timer(deadline);
    let when = format!("turn {turn}");
    let mut answers = BTreeMap::new();
    let mut over = false;
    while !over && answers.len() < BOTS.len() && !interrupted() {
        runner.poll_once(None, |runner, event| match event {
            Event::Data { alias, data } => {
                let text = String::from_utf8_lossy(data);
                let mut words = text.split_whitespace().map(|w| w.parse::<u32>().ok());
                if let (Some(Some(t)), Some(Some(answer))) = (words.next(), words.next()) {
                    let name = BOTS.iter().map(|(n, ..)| *n).find(|n| *n == alias).expect("our bot");
                    // A late answer to an earlier turn is ignored.
                    if t == turn {
                        answers.insert(name, answer);
                    }
                }
            }
            Event::Timer { id } if id == deadline => over = true,
            other => keep_books(runner, records, &when, other),
        })?;
    }
    runner.cancel_timer(deadline);
    println!("turn {turn}: {} of {} answered in time", answers.len(), BOTS.len());
    Ok(answers)
}

/// A bot's life beside its answers: its stderr, its exits (with what the
/// run used), its restarts.
fn keep_books(runner: &mut Runner, records: &mut BTreeMap<&str, Record>, when: &str, event: Event<'_>) {
    match event {
        Event::Stderr { alias, data } => {
            let line = String::from_utf8_lossy(data).trim().to_string();
            if let Some(record) = records.get_mut(alias).filter(|_| !line.is_empty()) {
                record.last_words = line;
            }
        }
        Event::Exited { alias, status } => {
            let Some(record) = records.get_mut(alias) else { return };
            let mut used = String::new();
            if let Some(usage) = runner.usage(alias) {
                record.cpu += usage.cpu_time();
                record.peak = record.peak.max(usage.max_rss);
                let peak = usage.max_rss as f64 / (1 << 20) as f64;
                used = format!("; {:.3} s of CPU, peak {peak:.1} MiB", usage.cpu_time().as_secs_f64());
            }
            if let Ok(tree) = runner.tree_usage(alias) {
                *record.tree_cpu.get_or_insert_default() += tree.cpu_time();
            }
            let words = std::mem::take(&mut record.last_words);
            let said = if words.is_empty() { String::new() } else { format!(": {words}") };
            println!("{when}: {alias} exited ({status}{used}){said}");
        }
        Event::Restarted { alias, .. } => println!("{when}: {alias} restarted"),
        Event::GaveUp { alias, .. } => println!("{when}: {alias} gave up"),
        // The only channel of our own: Ctrl-C's signalfd.
        Event::Reactor(ReactorEvent::Data { .. }) => INTERRUPTED.store(true, Ordering::Relaxed),
        _ => {}
    }
}

/// Stops each bot that has thought for longer than its budget: `stop`
/// returns at once, and its exit comes through the loop.
fn check_budgets(
    runner: &mut Runner,
    records: &mut BTreeMap<&str, Record>,
    turn: u32,
) -> procloop::Result<()> {
    for (name, record) in records.iter_mut() {
        if record.stopped || !runner.is_running(name) {
            continue;
        }
        let used = runner.cpu_time(name)?;
        if used > CPU_BUDGET {
            println!(
                "turn {turn}: {name} thought for {used:.2?} of CPU, past its budget of {CPU_BUDGET:?}: stopped"
            );
            runner.stop(name)?;
            record.stopped = true;
        }
    }
    Ok(())
}

/// Name, script, tree limit: bots that attack the arena instead of playing.
const INTRUDERS: &[(&str, &str, Option<Limit>)] = &[
    // Leaves its tree: a new session and a double fork; the grandchild spins
    // (at nice 19, to spare the players) for as long as it lives, or until
    // the arena (ARENA, its pid) is gone: an arena ended by Ctrl-C kills no
    // cgroup, and a grandchild out of the terminal's session gets no SIGINT.
    (
        "escaper",
        "setsid sh -c 'nice -n 19 sh -c \"while kill -0 ARENA 2>/dev/null; do :; done\" & echo $! > escapee.pid'\n\
         exec sleep 1000\n",
        None,
    ),
    // Forks without end (4096 at most, should it ever run uncapped): a fork
    // fails once its tree holds 32 tasks, which ends the loop.
    (
        "forker",
        "(i=0; while [ $i -lt 4096 ]; do sleep 1000 & i=$((i + 1)); done) 2>/dev/null &\nexec sleep 1000\n",
        Some(Limit::Tasks(32)),
    ),
];

/// Starts the intruders that can be held here; their names. Without a
/// cgroup, the escaper sits out (its grandchild would get away), and the
/// forker's start is refused.
fn start_intruders(runner: &mut Runner, dir: &std::path::Path) -> Result<Vec<&'static str>, Error> {
    let contained = matches!(runner.containment(), Containment::Cgroup { .. });
    println!("containment: {:?}", runner.containment());
    let mut started = Vec::new();
    for (name, script, limit) in INTRUDERS {
        if *name == "escaper" && !contained {
            println!("escaper sits out: without a cgroup its grandchild would get away");
            continue;
        }
        let path = dir.join(format!("{name}.sh"));
        std::fs::write(&path, script.replace("ARENA", &std::process::id().to_string()))?;
        let mut app = App::new(format!("sh {}", path.display())).cwd(dir).stderr(Stderr::Null);
        if let Some(limit) = limit {
            app = app.limit(*limit);
        }
        runner.add(*name, app);
        match runner.start(name) {
            Ok(_) => started.push(*name),
            Err(e @ Error::LimitUnsupported { .. }) => println!("{name} is refused, and sits out: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(started)
}

/// What each intruder's tree holds at the end of the game; the escaper's
/// grandchild's pid, if it got that far.
fn show_intruders(runner: &Runner, intruders: &[&str], dir: &std::path::Path) -> Result<Option<u32>, Error> {
    for name in intruders {
        let tree = runner.tree_usage(name)?;
        let cpu = tree.cpu_time().as_secs_f64();
        println!("{name}: its tree holds {} tasks and has used {cpu:.3} s of CPU", tree.tasks);
    }
    let pid = std::fs::read_to_string(dir.join("escapee.pid")).ok().and_then(|p| p.trim().parse().ok());
    if let Some(pid) = pid.filter(|_| intruders.contains(&"escaper")) {
        println!("the escaper's grandchild (pid {pid}) left its session, not its cgroup");
    }
    Ok(pid)
}
