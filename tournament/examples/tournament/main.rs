//! A tournament between two UCI chess engines, many games at once, from
//! one thread: each move is a turn of one engine (`Runner::begin_turn`),
//! whose reply is its `bestmove` line and whose clock is its overage bank.
//!
//! ```text
//! apt-get install -y stockfish
//! cargo run --release -p procloop-tournament --example tournament -- \
//!     --engine stockfish --engine stockfish --concurrency 8 --games 64 \
//!     --nodes 2000 --max-plies 200 --hash 16 --pgn games.pgn --charge cpu
//! ```
//!
//! With `--tc BASE+INC` each side's clock starts at BASE seconds and gains
//! INC after each move (a Fischer clock); the engine is told both, and a
//! move past its clock loses on time (`[Termination "time forfeit"]`).
//! `--charge cpu` counts the engine's CPU time, so that a loaded machine
//! does not flag a healthy engine. Every move is checked for legality, and
//! games end by the rules (mate, stalemate, threefold repetition, the
//! 50-move rule, insufficient material), by the move limit (a draw), on
//! time, or by a crash or an illegal move (a loss). The last line printed
//! is the harness's own CPU time per move (`getrusage(RUSAGE_SELF)`).
//! A Ctrl-C (SIGINT), SIGTERM or SIGHUP ends the run early: the games
//! under way are dropped, the finished ones are already in the PGN, the
//! engines are ended and the summary is printed; the exit status is
//! 128 plus the signal's number.
//! Without a clock (`--nodes` alone), while more engines think than there
//! are cores, replies may wait for the harness up to 50 ms, so that each
//! of its wake-ups handles many (see pacing.rs).

mod answers;
mod game;
mod options;
mod pacing;
mod play;
mod score;
mod signals;

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use procloop::{Charge, Event, ReactorEvent, Runner};

use play::Tournament;

/// How long the engines have to quit at the end before they are ended.
const QUIT_GRACE: Duration = Duration::from_secs(5);

fn main() {
    let opts = match options::parse(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(message) => exit_with(&message, 2),
    };
    let tournament = match Tournament::new(opts, today()) {
        Ok(tournament) => tournament,
        Err(message) => exit_with(&message, 2),
    };
    match run(tournament) {
        Ok(Ending::Played) => {}
        Ok(Ending::Unplayed) => std::process::exit(1),
        Ok(Ending::Interrupted(signal)) => std::process::exit(128 + signal),
        Err(error) => exit_with(&format!("tournament: {error}"), 1),
    }
}

/// Says why on stderr (if it can: a closed stderr is no reason to
/// panic), and exits with `code`.
fn exit_with(message: &str, code: i32) -> ! {
    let _ = writeln!(std::io::stderr(), "{message}");
    std::process::exit(code);
}

/// How a run ended.
enum Ending {
    Played,
    /// Some games could not be played, or an error happened.
    Unplayed,
    /// By this signal.
    Interrupted(i32),
}

/// Plays the tournament.
fn run(mut tournament: Tournament) -> Result<Ending, Box<dyn std::error::Error>> {
    let opts = tournament.options();
    let games = opts.games;
    let began = Instant::now();
    // Cgroups (or else process groups): an engine's children end with it.
    let mut runner = Runner::with_cgroups_and_extra_paths(opts.cgroups, ["/usr/games"])?;
    let signals = signals::Signals::watch(&mut runner)?;
    tournament.begin(&mut runner);
    // Between polls the loop may nap, so that one wake-up handles many
    // replies (see pacing.rs): most of the harness's CPU is wake-ups.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pacing = tournament.may_nap().then(|| pacing::Pacing::new(cores, Instant::now()));
    while !tournament.over() {
        runner.poll_once(None, |runner, event| match event {
            Event::Reactor(ReactorEvent::Data { token, data }) if token == signals.token => {
                tournament.interrupt(runner, signals::Signals::number(data));
            }
            event => tournament.on_event(runner, event),
        })?;
        let busy = tournament.busy_engines();
        if let Some(nap) = pacing.as_mut().and_then(|p| p.nap(Instant::now(), tournament.turns_ended, busy)) {
            std::thread::sleep(nap);
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    if tournament.interrupted.is_none() {
        tournament.interrupted = end_engines(&mut runner, &signals)?;
    }
    signals.unwatch(&mut runner);
    runner.terminate_all();
    let unplayed = games - tournament.score.games as usize;
    let summary = summary(&tournament, unplayed, seconds);
    // One write, its error a message: a closed stdout (`| head -1`) is
    // no reason to panic.
    std::io::stdout().write_all(summary.as_bytes()).map_err(|e| format!("writing the summary: {e}"))?;
    Ok(match tournament.interrupted {
        Some(signal) => Ending::Interrupted(signal),
        None if unplayed == 0 && tournament.errors.is_empty() => Ending::Played,
        None => Ending::Unplayed,
    })
}

/// What the run did, in lines; the last one the harness's CPU per move.
fn summary(tournament: &Tournament, unplayed: usize, seconds: f64) -> String {
    let opts = tournament.options();
    let (games, concurrency) = (opts.games, opts.concurrency);
    // As the command line and the PGN write them: "0.3+0", "cpu".
    let clock =
        |tc: options::TimeControl| format!("{}+{}", tc.base.as_secs_f64(), tc.increment.as_secs_f64());
    let limit = match (opts.nodes, opts.tc) {
        (Some(n), Some(tc)) => format!("{n} nodes a move, {}", clock(tc)),
        (Some(n), None) => format!("{n} nodes a move"),
        (None, Some(tc)) => clock(tc),
        (None, None) => "no limit".into(),
    };
    let charge = if opts.charge == Charge::Cpu { "cpu" } else { "wall" };
    let mut out = String::new();
    let score = &tournament.score;
    let [first, second] = score.names();
    let _ = writeln!(out, "{games} games, {concurrency} at once, {limit}, {charge} charged");
    let _ = writeln!(out, "{first} vs {second}: +{} ={} -{}", score.wins, score.draws, score.losses);
    let _ = writeln!(
        out,
        "time losses {} / {}, crashes {} / {}, illegal moves {} / {}",
        score.time_losses[0],
        score.time_losses[1],
        score.crashes[0],
        score.crashes[1],
        score.illegal[0],
        score.illegal[1]
    );
    for error in &tournament.errors {
        let _ = writeln!(out, "error: {error}");
    }
    if let Some(signal) = tournament.interrupted {
        let _ = writeln!(out, "interrupted by {}: {unplayed} games not played", signals::name(signal));
    } else if unplayed > 0 {
        let _ = writeln!(out, "{unplayed} games not played");
    }
    let cpu = harness_cpu();
    // With no move made there is no CPU per move: 0, not the whole run's.
    let per_move = if score.moves == 0 { 0.0 } else { cpu.as_secs_f64() * 1e6 / score.moves as f64 };
    let _ = writeln!(out, "moves per second: {:.0}", score.moves as f64 / seconds);
    let _ =
        writeln!(out, "harness: {per_move:.1} µs CPU per move over {} moves in {seconds:.1} s", score.moves);
    out
}

/// Waits up to `QUIT_GRACE` for the engines, asked to quit, to exit (the
/// rest are then ended), or until a signal comes: then it is returned.
fn end_engines(runner: &mut Runner, signals: &signals::Signals) -> procloop::Result<Option<i32>> {
    let deadline = Instant::now() + QUIT_GRACE;
    let mut signal = None;
    let running = |runner: &Runner| runner.aliases().any(|alias| runner.exit_status(alias).is_none());
    while signal.is_none() && running(runner) && Instant::now() < deadline {
        runner.poll_once(Some(deadline - Instant::now()), |_, event| {
            if let Event::Reactor(ReactorEvent::Data { token, data }) = event
                && token == signals.token
            {
                signal = Some(signals::Signals::number(data));
            }
        })?;
    }
    Ok(signal)
}

/// The process's own CPU time so far, user and system.
fn harness_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else { return Duration::ZERO };
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(micros(usage.user_time()) + micros(usage.system_time()))
}

/// Today's date (UTC) as PGN writes it: "2026.12.06".
fn today() -> String {
    let days = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}.{month:02}.{day:02}")
}
