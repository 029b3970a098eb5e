//! The tournament example plays by the rules: legal moves into a PGN, the
//! summary's last line, and the losses a bad engine earns (on time, by an
//! illegal move, by a crash, after which it is started again).

mod common;

use std::process::Command;

use common::{example, fake, stockfish, tags};

/// Runs the tournament with `args` and `--pgn`; its stdout and the PGN.
fn run(name: &str, args: &[&str], succeeds: bool) -> (String, String) {
    let pgn = common::temp(&format!("{name}.pgn"));
    let output = Command::new(example())
        .args(args)
        .arg("--pgn")
        .arg(&pgn)
        .output()
        .expect("run the tournament example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.success(), succeeds, "{stdout}\n{stderr}");
    let games = std::fs::read_to_string(&pgn).unwrap_or_default();
    let _ = std::fs::remove_file(&pgn);
    (stdout, games)
}

#[test]
fn two_short_games_of_legal_moves_go_into_the_pgn() {
    let Some(engine) = stockfish() else {
        eprintln!("stockfish is not installed (apt-get install -y stockfish): skipped");
        return;
    };
    let engine = engine.to_str().unwrap();
    let args =
        ["--engine", engine, "--games", "2", "--concurrency", "2", "--nodes", "200", "--max-plies", "20"];
    let (out, pgn) = run("legal", &args, true);
    assert_eq!(tags(&pgn, "PlyCount"), ["20", "20"], "{pgn}");
    assert_eq!(tags(&pgn, "Termination"), ["adjudication", "adjudication"], "{pgn}");
    assert_eq!(tags(&pgn, "Result"), ["1/2-1/2", "1/2-1/2"], "{pgn}");
    let mut rounds = tags(&pgn, "Round");
    rounds.sort();
    assert_eq!(rounds, ["1", "2"]);
    // The movetext: SAN, ten numbered moves, then the result.
    for game in pgn.split("[Event ").skip(1) {
        let text = game.split("\n\n").nth(1).expect("movetext");
        let words: Vec<&str> = text.split_whitespace().filter(|w| !w.ends_with('.')).collect();
        assert_eq!(words.len(), 21, "{text}");
        assert!(words[..20].iter().all(|w| w.chars().next().unwrap().is_ascii_alphabetic()), "{text}");
        assert!(text.contains("10. "), "{text}");
    }
    assert!(out.contains(": +0 =2 -0"), "{out}");
    let last = out.lines().last().unwrap();
    let rest = last.strip_prefix("harness: ").expect(last);
    let (cpu, rest) = rest.split_once(" µs CPU per move over ").expect(last);
    let (moves, rest) = rest.split_once(" moves in ").expect(last);
    assert!(cpu.parse::<f64>().is_ok() && rest.strip_suffix(" s").unwrap().parse::<f64>().is_ok(), "{last}");
    assert_eq!(moves, "40", "{last}");
}

/// Stockfish against a fake engine that misbehaves as `mode` says; the
/// tournament's stdout and PGN.
fn against_fake(mode: &str, extra: &[&str]) -> Option<(String, String)> {
    let Some(engine) = stockfish() else {
        eprintln!("stockfish is not installed (apt-get install -y stockfish): skipped");
        return None;
    };
    let fake = fake(mode);
    let mut args =
        vec!["--engine", engine.to_str().unwrap(), "--engine", &fake, "--games", "2", "--nodes", "200"];
    args.extend(extra);
    Some(run(mode, &args, true))
}

#[test]
fn a_silent_engine_loses_on_time() {
    let Some((out, pgn)) = against_fake("silent", &["--tc", "0.3+0"]) else { return };
    assert_eq!(tags(&pgn, "Termination"), ["time forfeit", "time forfeit"], "{pgn}");
    assert_eq!(tags(&pgn, "Result"), ["1-0", "0-1"], "the fake plays Black, then White: {pgn}");
    assert!(out.contains(": +2 =0 -0") && out.contains("time losses 0 / 2"), "{out}");
}

#[test]
fn an_illegal_move_loses() {
    let Some((out, pgn)) = against_fake("illegal", &[]) else { return };
    assert_eq!(tags(&pgn, "Termination"), ["rules infraction", "rules infraction"], "{pgn}");
    assert!(out.contains("illegal moves 0 / 2"), "{out}");
}

#[test]
fn a_crashed_engine_loses_and_is_started_again_for_the_next_game() {
    let Some((out, pgn)) = against_fake("crash", &[]) else { return };
    assert_eq!(tags(&pgn, "Termination"), ["abandoned", "abandoned"], "{pgn}");
    assert!(out.contains("crashes 0 / 2"), "it crashed in both games: {out}");
}

#[test]
fn bad_options_are_named() {
    for (args, names) in [
        (&["--tc", "x+1"][..], "--tc"),
        (&["--charge", "moon"], "--charge"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--engine", "a", "--engine", "b", "--engine", "c"], "--engine"),
        (&["--frobnicate"], "--frobnicate"),
    ] {
        let output = Command::new(example()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(names), "{args:?}");
    }
}
