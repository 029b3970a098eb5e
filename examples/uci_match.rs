//! Two UCI chess engines (stockfish) play one game against each other,
//! driven from one loop: line-buffered channels, and a per-move time limit
//! the loop enforces with a timer (a move that does not come in time loses).
//!
//! ```text
//! apt-get install -y stockfish
//! cargo run --example uci_match -- [--engine PATH] [--movetime MS] [--max-plies N]
//! ```
//!
//! Debian installs stockfish as /usr/games/stockfish, which is not on root's
//! PATH: the runner adds /usr/games to the PATH it searches.

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::time::Duration;

use procloop::{App, Buffering, Event, Runner, Start, TimerId};

const SIDES: [&str; 2] = ["white", "black"];

struct Options {
    engine: String,
    movetime: u64,
    max_plies: usize,
}

fn main() -> Result<(), Failure> {
    env_logger::init();
    let opts = options()?;
    let mut runner = Runner::with_extra_paths(["/usr/games"])?;
    // A process group of its own keeps a Ctrl-C meant for the match from
    // the engines; dying with the match keeps them from outliving it.
    let engine = App::new(opts.engine.clone()).buffering(Buffering::Line).setpgrp(true).die_with_parent(true);
    runner.add("engine", engine);
    for side in SIDES {
        runner.start_with("engine", Start::new().alias(side))?;
        handshake(&mut runner, side)?;
    }
    println!("{} vs {}, {} ms a move", opts.engine, opts.engine, opts.movetime);
    let (moves, result) = play(&mut runner, &opts)?;
    progress("");
    println!("{}", numbered(&moves));
    println!("result: {result}");
    // Ask each engine to quit, give it a second, and only then end it.
    for side in SIDES {
        let _ = runner.get_channel(side).map(|c| c.write(b"quit\n"));
    }
    for side in SIDES {
        if runner.wait(side, Duration::from_secs(1))?.is_none() {
            eprintln!("{side} ignored quit; ending it");
        }
        runner.terminate(side)?;
    }
    Ok(())
}

fn options() -> Result<Options, String> {
    let mut opts = Options { engine: "stockfish".into(), movetime: 100, max_plies: 60 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--engine" => opts.engine = value()?,
            "--movetime" => opts.movetime = value()?.parse().map_err(|e| format!("--movetime: {e}"))?,
            "--max-plies" => opts.max_plies = value()?.parse().map_err(|e| format!("--max-plies: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if opts.movetime == 0 {
        // An engine takes `go movetime 0` as no limit at all.
        return Err("--movetime: at least 1 ms (UCI's movetime 0 means think without end)".into());
    }
    Ok(opts)
}

/// What a side's engine said while we waited for one answer.
enum Heard {
    Line(String),
    Timeout,
    Gone,
}

/// Waits for a line from `side` that starts with `prefix`; a timer fired
/// first is a timeout, an exit or end of stream means the engine is gone.
fn wait_for(runner: &mut Runner, side: &str, prefix: &str, timer: TimerId, last_score: &mut String) -> Heard {
    let mut heard = None;
    while heard.is_none() {
        let polled = runner.poll_once(None, |_, event| match event {
            Event::Data { alias, data } if alias == side => {
                let line = String::from_utf8_lossy(data).trim_end().to_string();
                if let Some(score) = line.split(" score ").nth(1) {
                    *last_score = score.split(' ').take(2).collect::<Vec<_>>().join(" ");
                }
                if line.starts_with(prefix) && heard.is_none() {
                    heard = Some(Heard::Line(line));
                }
            }
            Event::Timer { id } if id == timer && heard.is_none() => heard = Some(Heard::Timeout),
            Event::Closed { alias } | Event::Exited { alias, .. } if alias == side => {
                heard = Some(Heard::Gone)
            }
            _ => {}
        });
        if polled.is_err() {
            return Heard::Gone;
        }
    }
    runner.cancel_timer(timer);
    heard.unwrap()
}

fn handshake(runner: &mut Runner, side: &str) -> Result<(), String> {
    let mut score = String::new();
    for (say, answer) in [("uci\n", "uciok"), ("isready\n", "readyok")] {
        runner.get_channel(side).ok_or("engine gone")?.write(say.as_bytes()).map_err(|e| e.to_string())?;
        let timer = runner.set_timer(Duration::from_secs(10));
        match wait_for(runner, side, answer, timer, &mut score) {
            Heard::Line(_) => {}
            _ => return Err(format!("{side}: no {answer} from the engine")),
        }
    }
    Ok(())
}

fn play(runner: &mut Runner, opts: &Options) -> Result<(Vec<String>, String), String> {
    let mut moves: Vec<String> = Vec::new();
    for ply in 0..opts.max_plies {
        let side = SIDES[ply % 2];
        let position =
            format!("position startpos moves {}\ngo movetime {}\n", moves.join(" "), opts.movetime);
        runner
            .get_channel(side)
            .ok_or("engine gone")?
            .write(position.as_bytes())
            .map_err(|e| e.to_string())?;
        // The engine gets its movetime plus a margin for the answer to travel.
        let timer = runner.set_timer(Duration::from_millis(opts.movetime.saturating_add(500)));
        let mut score = String::new();
        let best = match wait_for(runner, side, "bestmove", timer, &mut score) {
            Heard::Line(line) => line.split_whitespace().nth(1).unwrap_or("(none)").to_string(),
            Heard::Timeout => return Ok((moves, format!("{side} lost on time"))),
            Heard::Gone => return Ok((moves, format!("{side}'s engine died"))),
        };
        if best == "(none)" {
            let result = if score == "mate 0" { format!("{side} is checkmated") } else { "stalemate".into() };
            return Ok((moves, result));
        }
        moves.push(best);
        progress(&format!("{} plies", moves.len()));
    }
    Ok((moves, format!("stopped at the {}-ply cap", opts.max_plies)))
}

/// The plies so far, rewritten in place on a terminal's stderr; nothing
/// elsewhere (a pipe, a log), which would get carriage returns.
fn progress(text: &str) {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
    }
}

/// "1. e2e4 e7e5 2. g1f3 ..." (long algebraic notation, as UCI speaks it).
fn numbered(moves: &[String]) -> String {
    let pairs = moves.chunks(2).enumerate();
    pairs.map(|(i, pair)| format!("{}. {}", i + 1, pair.join(" "))).collect::<Vec<_>>().join(" ")
}
