//! The examples do their job: each is run as users run it, with small
//! sizes. `cargo test` builds them next to the test binaries.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join("examples").join(name)
}

fn run(name: &str, args: &[&str]) -> String {
    let output = Command::new(example(name)).args(args).output().expect("run the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{name} failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn stockfish() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/games")])
        .map(|dir| dir.join("stockfish"))
        .find(|p| p.is_file())
}

#[test]
fn uci_match_plays_a_short_game() {
    let Some(engine) = stockfish() else {
        eprintln!("stockfish is not installed (apt-get install -y stockfish): skipped");
        return;
    };
    let out =
        run("uci_match", &["--engine", engine.to_str().unwrap(), "--movetime", "20", "--max-plies", "6"]);
    let moves = out.lines().find(|l| l.starts_with("1. ")).expect("the moves");
    let plies: Vec<&str> = moves.split_whitespace().filter(|w| !w.ends_with('.')).collect();
    assert_eq!(plies.len(), 6, "{moves}");
    assert!(plies.iter().all(|m| (4..=5).contains(&m.len())), "long algebraic moves: {moves}");
    assert!(out.contains("result: stopped at the 6-ply cap"), "{out}");
}

#[test]
fn bots_forfeit_when_late_silent_dead_over_their_memory_cap_or_cpu_budget() {
    // The bots built to miss a turn miss it whatever its length (they never
    // answer, or answer only once the next turn has come), and the others
    // get 3 s: room for 64 MiB, or a restarted hog's python3 start, on a
    // loaded machine. Every turn lasts that long (silent never answers).
    let out = run("bots", &["4", "3000"]);
    let row = |bot: &str| out.lines().find(|l| l.starts_with(&format!("| {bot} "))).unwrap().to_string();
    // right, wrong, forfeited; then CPU time and peak memory.
    let cells = |bot: &str| -> Vec<String> { row(bot).split('|').map(|c| c.trim().to_string()).collect() };
    let scores = |bot: &str| -> Vec<u32> { cells(bot)[2..5].iter().map(|c| c.parse().unwrap()).collect() };
    let number = |cell: &str, unit: &str| -> f64 { cell.strip_suffix(unit).unwrap().trim().parse().unwrap() };
    assert_eq!(scores("quick"), [4, 0, 0], "{out}");
    assert_eq!(scores("silent"), [0, 0, 4], "{out}");
    assert_eq!(scores("sloppy"), [3, 1, 0], "{out}");
    assert_eq!(scores("crashy")[2], 1, "forfeits the turn it crashes in: {out}");
    assert!(out.contains("crashy restarted"), "{out}");
    assert_eq!(scores("slow"), [2, 0, 2], "late on even turns: {out}");
    // The hog's second 64 MiB is past its 128 MiB cap: the allocation fails.
    assert_eq!(scores("hog"), [3, 0, 1], "{out}");
    assert!(out.contains("hog exited (exit status: 1; ") && out.contains("MemoryError"), "{out}");
    assert!(out.contains("hog restarted"), "{out}");
    let hog_peak = number(&cells("hog")[6], "MiB");
    assert!((64.0..128.0).contains(&hog_peak), "it held its first 64 MiB: {out}");
    // The spinner thinks for ever from turn 2 on, until the arena stops it.
    assert_eq!(scores("spinner"), [1, 0, 3], "{out}");
    assert!(out.contains("spinner thought for") && out.contains("budget of 500ms: stopped"), "{out}");
    assert!(number(&cells("spinner")[5], "s") > 0.5, "{out}");
    assert!(number(&cells("quick")[5], "s") < 0.5, "{out}");
    assert!(!out.contains('\r'), "no carriage returns: readable through a pipe");
    check_containment(&out, &cells);
}

/// With a cgroup per bot, the escaper's setsid, double-forked grandchild
/// ends with its bot, and the forker is held by its `Limit::Tasks` (or
/// refused where the cgroup has no pids controller); without, both sit out.
fn check_containment(out: &str, cells: &dyn Fn(&str) -> Vec<String>) {
    if !out.contains("containment: Cgroup") {
        assert!(out.contains("escaper sits out") && out.contains("forker is refused"), "{out}");
        assert_eq!(cells("quick")[7], "-", "no tree CPU without a cgroup: {out}");
        return;
    }
    assert!(cells("quick")[7].ends_with(" s"), "the tree CPU column: {out}");
    let after_the_run = |l: &&str| l.starts_with("the escaper's grandchild (pid ") && l.contains("): ");
    let line = out.lines().find(after_the_run).expect(out);
    let pid: u32 = line.split(['(', ')']).nth(1).unwrap().trim_start_matches("pid ").parse().unwrap();
    assert!(line.ends_with("ended with its bot"), "{out}");
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let gone = state.is_none_or(|stat| stat.rsplit(')').next().unwrap().trim_start().starts_with('Z'));
    assert!(gone, "the escapee, pid {pid}, ended (or is a zombie nobody reaps) after the run");
    match out.lines().find(|l| l.starts_with("forker")).expect(out) {
        refused if refused.starts_with("forker is refused") => assert!(refused.contains("\"pids\""), "{out}"),
        held => {
            let tasks: u64 = held.split_whitespace().nth(4).unwrap().parse().unwrap();
            assert!((1..=32).contains(&tasks), "held by Limit::Tasks(32): {out}");
        }
    }
}

#[test]
fn embed_runs_in_a_poll_loop_and_under_tokio() {
    assert!(run("embed", &["poll"]).contains("poll: 60 echoes"));
    assert!(run("embed", &["tokio"]).contains("tokio: 60 echoes"));
}

#[test]
fn fanout_checks_every_echo() {
    assert!(run("fanout", &["50"]).contains("50 cat children, one thread, every echo checked"));
}

#[test]
fn fanout_progress_through_a_pipe_is_plain_lines() {
    let output = Command::new(example("fanout")).arg("50").output().expect("run the example");
    assert!(output.status.success());
    let progress = String::from_utf8(output.stderr).unwrap();
    assert!(!progress.contains(['\r', '\x1b']), "no carriage returns or escapes: {progress:?}");
    let lines: Vec<&str> = progress.lines().collect();
    for phase in ["spawned", "echoed", "exited"] {
        let count = lines.iter().filter(|l| l.starts_with(phase)).count();
        assert!((1..=11).contains(&count), "a line a tenth at most, {phase}: {progress}");
        assert!(lines.contains(&format!("{phase} 50/50").as_str()), "{phase} to the end: {progress}");
    }
}

#[test]
fn seed_examples_echo() {
    assert_eq!(run("cat", &[]).trim(), "hello, world");
    assert_eq!(run("socat", &[]).trim(), "hello, world");
}
