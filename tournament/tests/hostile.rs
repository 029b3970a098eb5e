//! The tournament against engines and users that misbehave: an engine
//! that never starts, closes its output, leaves children running or
//! ignores quit and SIGTERM; a PGN that cannot be made; a run ended by
//! SIGINT. Nothing may hang, stay running, or be lost.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{DEADLINE, example, fake, tags, temp};

/// What a run left: its exit status, stdout, stderr and PGN.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    pgn: String,
}

/// Waits for `child` until the deadline; past it, kills it and fails.
fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the tournament") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the tournament ran past {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the tournament with `args` (and a PGN named after `name`); its
/// output goes to files, so that engines holding the pipes cannot stall it.
fn run(name: &str, args: &[String]) -> Run {
    let [out, err, pgn] = ["out", "err", "pgn"].map(|ext| temp(&format!("{name}.{ext}")));
    let mut child = Command::new(example())
        .args(args)
        .arg("--pgn")
        .arg(&pgn)
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("start the tournament");
    let status = wait_bounded(&mut child);
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let _ = std::fs::remove_file(path);
        text
    };
    Run { status, stdout: read(&out), stderr: read(&err), pgn: read(&pgn) }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Whether the process `pid` has ended: gone, or a zombie (nothing here
/// reaps orphans).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

/// The pids the fake engines wrote to `file`, which is then removed.
fn pids(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let _ = std::fs::remove_file(file);
    text.split_whitespace().map(String::from).collect()
}

#[test]
fn an_engines_children_end_with_the_tournament() {
    let file = temp("forks.pids");
    let forks = format!("{} {}", fake("forks"), file.display());
    let args = strings(&["--engine", &fake("illegal"), "--engine", &forks, "--games", "2"]);
    let run = run("forks", &args);
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("illegal moves 1 / 1"), "{}", run.stdout);
    let pids = pids(&file);
    assert_eq!(pids.len(), 2, "the engine and its child: {pids:?}");
    for pid in pids {
        assert!(ended(&pid), "{pid} still runs");
    }
}

#[test]
fn an_engine_that_never_says_uciok_is_given_up_on() {
    let args = strings(&["--engine", &fake("illegal"), "--engine", &fake("mute"), "--games", "2"]);
    let run = run("mute", &args);
    assert_eq!(run.status.code(), Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 games not played"), "{}", run.stdout);
    let named = format!("{} did not start", fake("mute"));
    assert!(run.stdout.contains(&named), "the engine's command is named: {}", run.stdout);
}

#[test]
fn an_engine_that_closes_its_output_loses_as_a_crash() {
    let args = strings(&["--engine", &fake("closes"), "--games", "2", "--tc", "0.3+0"]);
    let run = run("closes", &args);
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(tags(&run.pgn, "Termination"), ["abandoned", "abandoned"], "{}", run.pgn);
    assert!(run.stdout.contains("time losses 0 / 0, crashes 1 / 1"), "{}", run.stdout);
}

#[test]
fn a_pgn_that_cannot_be_made_is_named_before_any_game() {
    let pgn = "/nonexistent-procloop-dir/games.pgn";
    let args = strings(&["--engine", &fake("illegal"), "--pgn", pgn]);
    let output = Command::new(example()).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(pgn), "{stderr}");
    assert!(output.stdout.is_empty() && !stderr.contains("game 1"), "{stderr}");
}

/// What an interrupted run left: its status, stdout, the games its
/// stderr reported and its PGN.
struct Interrupted {
    status: ExitStatus,
    stdout: String,
    reported: usize,
    pgn: String,
}

/// Runs `games` games between two deaf engines (each loses on time at
/// its first move, and ignores quit and SIGTERM), sends SIGINT once the
/// first game is reported, and checks that no engine is left running.
fn interrupted(name: &str, games: &str) -> Interrupted {
    let file = temp(&format!("{name}.pids"));
    let pgn = temp(&format!("{name}.pgn"));
    let deaf = format!("{} {}", fake("deaf"), file.display());
    let args = ["--engine", &deaf, "--games", games, "--tc", "0.3+0", "--charge", "wall"];
    let mut child = Command::new(example())
        .args(args)
        .arg("--pgn")
        .arg(&pgn)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the tournament");
    let (lines, seen) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).try_for_each(|l| lines.send(l))
    });
    let mut reported = 0;
    while reported == 0 {
        let line = seen.recv_timeout(DEADLINE).expect("a game finished");
        reported += line.starts_with("game ") as usize;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = wait_bounded(&mut child);
    for pid in pids(&file) {
        assert!(ended(&pid), "engine {pid} still runs");
    }
    while let Ok(line) = seen.recv_timeout(DEADLINE) {
        reported += line.starts_with("game ") as usize;
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let games = std::fs::read_to_string(&pgn).unwrap_or_default();
    let _ = std::fs::remove_file(&pgn);
    Interrupted { status, stdout, reported, pgn: games }
}

#[test]
fn sigint_keeps_the_finished_games_and_ends_the_engines() {
    let run = interrupted("deaf", "20");
    assert_eq!(run.status.code(), Some(130), "{}", run.stdout);
    assert_eq!(
        tags(&run.pgn, "Result").len(),
        run.reported,
        "every finished game is in the PGN: {}",
        run.pgn
    );
    assert!(run.reported < 20 && run.stdout.contains("interrupted by SIGINT"), "{}", run.stdout);
}

#[test]
fn sigint_while_the_engines_are_asked_to_quit_ends_them_at_once() {
    // The one game is over when SIGINT comes: the engines, deaf to quit,
    // are being waited for.
    let run = interrupted("deaf-end", "1");
    assert_eq!(run.status.code(), Some(130), "{}", run.stdout);
    assert!(run.stdout.contains("interrupted by SIGINT: 0 games not played"), "{}", run.stdout);
    assert_eq!(tags(&run.pgn, "Result").len(), 1, "{}", run.pgn);
}

#[test]
fn a_closed_stdout_is_no_panic() {
    let err = temp("closed.err");
    let mut child = Command::new(example())
        .args(["--engine", &fake("illegal"), "--games", "2"])
        .stdout(Stdio::piped())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("start the tournament");
    drop(child.stdout.take()); // `| head -0`
    let status = wait_bounded(&mut child);
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tournament: writing the summary: Broken pipe"), "{stderr}");
}

#[test]
fn a_bestmove_not_asked_for_loses() {
    // White answers its first `go` twice; Black never answers, and would
    // lose on time if the extra line went unnoticed.
    let args = ["--engine", &fake("twice"), "--engine", &fake("silent"), "--games", "1"];
    let run = run("twice", &strings(&[&args[..], &["--tc", "0.3+0", "--charge", "wall"]].concat()));
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(tags(&run.pgn, "Termination"), ["rules infraction"], "{}", run.pgn);
    assert_eq!(tags(&run.pgn, "Result"), ["0-1"], "{}", run.pgn);
    assert!(run.stdout.contains("illegal moves 1 / 0"), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("1 games, 1 at once, 0.3+0, wall charged\n"),
        "as written: {}",
        run.stdout
    );
}

#[test]
fn an_engine_that_hangs_is_started_again_for_the_next_game() {
    let file = temp("hangs.pids");
    let hangs = format!("{} {}", fake("hangs"), file.display());
    let run = run("hangs", &strings(&["--engine", &fake("illegal"), "--engine", &hangs, "--games", "2"]));
    let _ = std::fs::remove_file(&file);
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    // Game 1: it never got ready. Game 2: started again, it played.
    assert_eq!(tags(&run.pgn, "Termination"), ["abandoned", "rules infraction"], "{}", run.pgn);
    assert!(run.stdout.contains("crashes 0 / 1, illegal moves 0 / 1"), "{}", run.stdout);
}

#[test]
fn a_second_run_adds_its_games_to_the_pgn() {
    let pgn = temp("twice-run.pgn");
    let args = ["--engine", &fake("illegal"), "--games", "2", "--pgn", pgn.to_str().unwrap()];
    for _ in 0..2 {
        let output = Command::new(example()).args(args).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let games = std::fs::read_to_string(&pgn).unwrap_or_default();
    let _ = std::fs::remove_file(&pgn);
    assert_eq!(tags(&games, "Round"), ["1", "2", "1", "2"], "the first run's games are kept: {games}");
}
