//! A hostile pass over the examples (odd arguments, missing programs, a
//! peer that dies or never answers, Ctrl-C) and the `serde` config (values
//! that deserialize but cannot work). The examples are the binaries that
//! `cargo test` builds next to the test binaries (`cargo build --examples`
//! builds them for `cargo test --test hostile_extras` alone).

mod util;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use util::*;

fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join("examples").join(name)
}

/// A command for example `name`, in a process group of its own (so that
/// a hung one is ended with all its children) and with stdin closed.
fn command(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example(name));
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    command
}

/// Runs `command` to its end, which must come within `limit`: a hang is a
/// failure (its process group is killed).
fn run_within(mut command: Command, limit: Duration) -> Output {
    run_output(command.spawn().expect("the example (cargo build --examples)"), limit)
}

/// As [`run_within`], for a child already spawned.
fn run_output(child: std::process::Child, limit: Duration) -> Output {
    let group = Pid::from_raw(child.id() as i32);
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let output = output.recv_timeout(limit).unwrap_or_else(|_| {
        let _ = killpg(group, Signal::SIGKILL);
        panic!("the example hangs: still running after {limit:?}");
    });
    output.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run failed as a program should: exit status 1 and an error that
/// says `what` as written (not a message's `Debug`, in quotes with its
/// own quotes escaped), not a panic.
fn assert_fails_saying(output: &Output, what: &str) {
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    assert!(!err.contains("panicked"), "a panic, not an error: {err}");
    assert!(err.contains(what), "the error does not say {what:?}: {err}");
    assert!(!err.starts_with("Error: \"") && !err.contains("\\\""), "a message's Debug: {err}");
}

/// A folder on PATH before the rest, holding `files` (name, script).
fn path_with(dir: &TempDir, files: &[(&str, &str)]) -> std::ffi::OsString {
    for (name, script) in files {
        write_executable(&dir.path().join(name), script);
    }
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.path().to_path_buf()).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// Processes whose command line is `words`.
fn processes_running(words: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = words.iter().flat_map(|w| w.bytes().chain([0])).collect();
    let pids = std::fs::read_dir("/proc").unwrap().flatten();
    let pids = pids.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .filter(|pid| pid_state(*pid).is_some_and(|s| s != 'Z'))
        .collect()
}

#[test]
fn fanout_names_a_child_that_echoes_wrong_instead_of_panicking() {
    let mut fanout = command("fanout", &["3"]);
    fanout.env("CAT", "head -c 3");
    assert_fails_saying(&run_within(fanout, DEADLINE), "echoed \"hel\"");
}

#[test]
fn fanout_gives_up_on_children_that_never_echo_and_leaves_none() {
    // A number of its own, to find these children among other tests'.
    let sleeper = ["sleep", "1000.817"];
    let mut fanout = command("fanout", &["2"]);
    fanout.env("CAT", sleeper.join(" "));
    // Its stall limit is 10 s.
    assert_fails_saying(&run_within(fanout, DEADLINE + Duration::from_secs(10)), "a child does not answer");
    wait_for("the sleepers to end", || processes_running(&sleeper).is_empty());
}

#[test]
fn fanout_names_a_child_that_exits_with_a_failure() {
    let mut fanout = command("fanout", &["3"]);
    fanout.env("CAT", r#"sh -c 'read line; echo "$line"; exit 3'"#);
    assert_fails_saying(&run_within(fanout, DEADLINE), ": exit status: 3");
}

#[test]
fn fanout_names_its_argument_when_it_is_no_count() {
    assert_fails_saying(&run_within(command("fanout", &["-1"]), DEADLINE), "the number of children, \"-1\"");
}

/// A socat that takes one client and closes it without a word.
const DEAD_SOCAT: &str = "#!/usr/bin/env python3\nimport socket, sys\n\
    s = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[-1].split(':', 1)[1])\ns.listen(1)\n\
    s.accept()[0].close()\n";

/// The example's folder: `procloop-<name>-<pid>` in the temporary folder.
fn example_folder(name: &str, pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("procloop-{name}-{pid}"))
}

#[test]
fn socat_says_its_peer_died_instead_of_spinning_and_removes_its_folder() {
    let fake = TempDir::new("dead-socat");
    let mut socat = command("socat", &[]);
    socat.env("PATH", path_with(&fake, &[("socat", DEAD_SOCAT)]));
    let child = socat.spawn().unwrap();
    let folder = example_folder("socat", child.id());
    let output = run_output(child, DEADLINE);
    assert_fails_saying(&output, "socat closed the socket");
    assert!(!folder.exists(), "{} is left", folder.display());
}

#[test]
fn socat_missing_is_an_error_that_leaves_no_folder() {
    let empty = TempDir::new("no-socat");
    let mut socat = command("socat", &[]);
    socat.env("PATH", empty.path());
    let child = socat.spawn().unwrap();
    let folder = example_folder("socat", child.id());
    assert_fails_saying(&run_output(child, DEADLINE), "not found in PATH");
    assert!(!folder.exists(), "{} is left", folder.display());
}

#[test]
fn cat_fails_when_no_echo_comes_instead_of_printing_nothing() {
    let fake = TempDir::new("mute-cat");
    let mut cat = command("cat", &[]);
    cat.env("PATH", path_with(&fake, &[("cat", "#!/bin/sh\nexec sleep 60\n")]));
    assert_fails_saying(&run_within(cat, DEADLINE), "cat echoed \"\" in 5 s");
}

/// Just enough UCI: every `go` is answered `e2e4` at once.
const QUICK_ENGINE: &str = "#!/bin/sh\nwhile read cmd rest; do case \"$cmd\" in\n\
    uci) echo uciok;; isready) echo readyok;; go) echo 'bestmove e2e4';; quit) exit 0;; esac; done\n";

#[test]
fn uci_match_takes_the_largest_movetime_and_writes_no_carriage_return_to_a_pipe() {
    let dir = TempDir::new("uci");
    let engine = dir.path().join("engine");
    write_executable(&engine, QUICK_ENGINE);
    let args =
        ["--engine", engine.to_str().unwrap(), "--movetime", "18446744073709551615", "--max-plies", "2"];
    let output = run_within(command("uci_match", &args), DEADLINE);
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", text(&output.stderr));
    assert!(out.contains("1. e2e4 e2e4") && out.contains("result: stopped at the 2-ply cap"), "{out}");
    assert!(!out.contains('\r'), "carriage returns through a pipe: {out:?}");
}

#[test]
fn bots_names_its_argument_when_it_is_no_number_or_no_deadline() {
    let output = run_within(command("bots", &["2", "soon"]), DEADLINE);
    assert_fails_saying(&output, "deadline-ms: \"soon\" is not a number");
    let output = run_within(command("bots", &["2", "0"]), DEADLINE);
    assert_fails_saying(&output, "deadline-ms: at least 1");
}

#[test]
fn bots_without_python3_is_an_error_that_leaves_no_folder() {
    // Every program the bots and intruders run, but python3.
    let fake = TempDir::new("no-python");
    for program in ["sh", "setsid", "nice", "sleep"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .unwrap();
        std::os::unix::fs::symlink(found, fake.path().join(program)).unwrap();
    }
    let mut bots = command("bots", &["1", "100"]);
    bots.env("PATH", fake.path());
    let child = bots.spawn().unwrap();
    let folder = example_folder("bots", child.id());
    assert_fails_saying(&run_output(child, DEADLINE), "\"python3\"");
    assert!(!folder.exists(), "{} is left", folder.display());
}

/// Whether `pid` is gone or a zombie (PID 1 here reaps no orphans).
fn ended(pid: u32) -> bool {
    pid_state(pid).is_none_or(|state| state == 'Z')
}

#[test]
fn bots_ended_by_ctrl_c_end_every_bot_and_leave_nothing_behind() {
    let mut bots = command("bots", &["50", "300"]);
    let mut child = bots.spawn().unwrap();
    let group = Pid::from_raw(child.id() as i32);
    let folder = example_folder("bots", child.id());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The Runner's cgroup, as the example shows it: `Cgroup { path: "..." }`.
    let mut cgroup = None;
    // Reading ends at the example's end at the latest.
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(shown) = line.strip_prefix("containment: Cgroup { path: \"") {
            cgroup = shown.strip_suffix("\" }").map(PathBuf::from);
        }
        if line.starts_with("turn 1:") {
            break;
        }
    }
    // With a cgroup, the escaper has left its session by now.
    let mut escapee = None;
    if cgroup.is_some() {
        let pid_file = folder.join("escapee.pid");
        wait_for("the escapee's pid", || {
            escapee = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok());
            escapee.is_some()
        });
    }
    // A terminal's Ctrl-C: SIGINT to the foreground process group.
    killpg(group, Signal::SIGINT).unwrap();
    let output = run_output(child, DEADLINE);
    let folder_left = folder.exists();
    let _ = std::fs::remove_dir_all(&folder);
    let mut spins = false;
    if let Some(escapee) = escapee {
        let deadline = Instant::now() + DEADLINE;
        while !ended(escapee) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        spins = !ended(escapee);
        if spins {
            let _ = nix::sys::signal::kill(Pid::from_raw(escapee as i32), Signal::SIGKILL);
            wait_for("the escapee's end", || ended(escapee));
        }
    }
    // After the escapee's end: a leaf that holds a process stays.
    let cgroup_left = cgroup.filter(|dir| dir.exists());
    if let Some(dir) = &cgroup_left {
        remove_cgroup(dir);
    }
    assert!(!spins, "the escaped grandchild still spun after Ctrl-C");
    assert_fails_saying(&output, "interrupted: every bot is ended");
    assert!(!folder_left, "{} is left", folder.display());
    assert!(cgroup_left.is_none(), "its cgroup is left: {cgroup_left:?}");
}

/// Removes a Runner's cgroup folder that a killed example left, with its
/// leaves.
fn remove_cgroup(dir: &Path) {
    for leaf in std::fs::read_dir(dir).into_iter().flatten().flatten().filter(|l| l.path().is_dir()) {
        let _ = std::fs::remove_dir(leaf.path());
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(feature = "serde")]
mod config {
    use std::time::Duration;

    use procloop::{App, Cgroups, Limit, Runner, Start};

    /// The start error of `app` on a fresh Runner with `cgroups`; no alias
    /// may be left taken.
    fn start_error(app: App, start: Start, cgroups: Cgroups) -> String {
        let mut runner = Runner::with_cgroups(cgroups).unwrap();
        runner.add("app", app);
        match runner.start_with("app", start) {
            Ok(pid) => panic!("started (pid {pid})"),
            Err(e) => {
                assert!(runner.aliases().next().is_none(), "{e}: an alias is taken");
                format!("{e:?}")
            }
        }
    }

    /// Values that deserialize but cannot work are refused at start with
    /// the error the builder's value gets.
    #[test]
    fn bad_config_values_are_refused_at_start_as_the_builders_are() {
        let cases: Vec<(&str, App)> = vec![
            (r#""nice": 20"#, App::new("true").nice(20)),
            (r#""nice": -21"#, App::new("true").nice(-21)),
            (r#""cpu_affinity": []"#, App::new("true").cpu_affinity(&[])),
            (r#""cpu_affinity": [100000]"#, App::new("true").cpu_affinity(&[100000])),
            (r#""limits": {"memory": 0}"#, App::new("true").limit(Limit::Memory(0))),
            (r#""limits": {"open_files": 3}"#, App::new("true").limit(Limit::OpenFiles(3))),
            (r#""limits": {"cpu_time": 0}"#, App::new("true").limit(Limit::CpuTime(Duration::ZERO))),
            (r#""limits": {"tasks": 0}"#, App::new("true").limit(Limit::Tasks(0))),
            (r#""limits": {"tree_memory": 0}"#, App::new("true").limit(Limit::TreeMemory(0))),
            (r#""limits": {"cpus": 0}"#, App::new("true").limit(Limit::Cpus(0.0))),
            (r#""limits": {"cpus": -1}"#, App::new("true").limit(Limit::Cpus(-1.0))),
            (r#""limits": {"cpus": 1e300}"#, App::new("true").limit(Limit::Cpus(1e300))),
            (r#""env": {"A=B": "1"}"#, App::new("true").env("A=B", "1")),
            (r#""env": {"": "1"}"#, App::new("true").env("", "1")),
            (r#""env": {"A": "x\u0000y"}"#, App::new("true").env("A", "x\0y")),
            (r#""cwd": """#, App::new("true").cwd("")),
            (r#""cwd": "/tmp\u0000x""#, App::new("true").cwd("/tmp\0x")),
            (r#""user": [4294967295, 4294967295]"#, App::new("true").user(u32::MAX, u32::MAX)),
        ];
        for cgroups in [Cgroups::Off, Cgroups::Preferred] {
            for (key, built) in &cases {
                let json = format!(r#"{{"command": "true", {key}}}"#);
                let configured: App = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
                let from_config = start_error(configured, Start::new(), cgroups);
                let from_builder = start_error(built.clone(), Start::new(), cgroups);
                assert_eq!(from_config, from_builder, "{json} ({cgroups:?})");
            }
        }
    }

    #[test]
    fn values_of_the_wrong_shape_are_errors_naming_their_key() {
        for (value, key) in [
            (r#""backoff": [1, 2, 3]"#, "backoff:"),
            (r#""backoff": [-1, 2]"#, "backoff:"),
            (r#""backoff": [1, 1e300]"#, "backoff:"),
            (r#""user": [1]"#, "user:"),
            (r#""user": [1, 2, 3]"#, "user:"),
            (r#""user": [-1, 0]"#, "user:"),
            (r#""user": "nobody""#, "user:"),
            (r#""cpu_affinity": [-1]"#, "cpu_affinity:"),
            (r#""cpu_affinity": 0"#, "cpu_affinity:"),
            (r#""nice": 1e10"#, "nice:"),
            (r#""nice": 3.5"#, "nice:"),
            (r#""env": {"A": null}"#, "env:"),
            (r#""socket_wait": 1e300"#, "socket_wait:"),
            (r#""restart_window": -1"#, "restart_window:"),
            (r#""overage": 1e300"#, "overage:"),
            (r#""max_restarts": 4294967296"#, "max_restarts:"),
            (r#""limits": {"memory": -1}"#, "limits.memory:"),
            (r#""limits": {"memory": 1.5}"#, "limits.memory:"),
            (r#""limits": {"tasks": 1e3}"#, "limits.tasks:"),
            (r#""limits": {"cpus": "half"}"#, "limits.cpus:"),
            (r#""limits": {"cpu_time": 1e300}"#, "limits.cpu_time:"),
            (r#""limits": [1]"#, "limits"),
            (r#""limits": 5"#, "limits"),
            (r#""scheduler": "Batch""#, "scheduler:"),
            (r#""command": ["cat"]"#, "command:"),
        ] {
            let json = format!(r#"{{"command": "true", {value}}}"#).replacen(
                r#""command": "true", "command""#,
                r#""command""#,
                1,
            );
            let err = serde_json::from_str::<App>(&json).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(key), "{json}: {err:?} does not name {key:?}");
        }
    }

    #[test]
    fn a_huge_cpus_value_is_named_as_written() {
        let app: App = serde_json::from_str(r#"{"command": "true", "limits": {"cpus": 1e300}}"#).unwrap();
        let err = start_error(app, Start::new(), Cgroups::Off);
        assert!(err.contains("limit cpus of 1e300\""), "{err}");
    }

    #[test]
    fn bad_commands_and_start_options_from_the_config_are_refused_at_start() {
        for (app, start, built, opts) in [
            (r#"{"command": ""}"#, "{}", App::new(""), Start::new()),
            (r#"{"command": "'open"}"#, "{}", App::new("'open"), Start::new()),
            (r#"{"command": "   "}"#, "{}", App::new("   "), Start::new()),
            (r#"{"command": "'' -x"}"#, "{}", App::new("'' -x"), Start::new()),
            (r#"{"command": "trailing\\"}"#, "{}", App::new("trailing\\"), Start::new()),
            (r#"{"command": "a\u0000b"}"#, "{}", App::new("a\0b"), Start::new()),
            (
                r#"{"command": "sleep 5", "type": "socket", "socket": ""}"#,
                "{}",
                App::new("sleep 5").socket(""),
                Start::new(),
            ),
            (
                r#"{"command": "echo"}"#,
                r#"{"with_args": ["a\u0000"]}"#,
                App::new("echo"),
                Start::new().args(["a\0"]),
            ),
            (r#"{"command": "echo"}"#, r#"{"cwd": ""}"#, App::new("echo"), Start::new().cwd("")),
            (r#"{"command": "echo"}"#, r#"{"socket": ""}"#, App::new("echo"), Start::new().socket("")),
        ] {
            let configured: App = serde_json::from_str(app).unwrap();
            let options: Start = serde_json::from_str(start).unwrap();
            let from_config = start_error(configured, options, Cgroups::Off);
            assert_eq!(from_config, start_error(built, opts, Cgroups::Off), "{app} {start}");
        }
    }
}

#[test]
fn uci_match_ended_by_ctrl_c_leaves_no_engine_running() {
    // An engine that thinks without reading: stdin's end does not stop it.
    let thinker = ["sleep", "1000.333"];
    let dir = TempDir::new("uci-ctrl-c");
    let engine = dir.path().join("engine");
    let script = format!(
        "#!/bin/sh\nwhile read cmd rest; do case \"$cmd\" in\n\
         uci) echo uciok;; isready) echo readyok;; go) exec {};; esac; done\n",
        thinker.join(" ")
    );
    write_executable(&engine, &script);
    // Through `env`: a test run started in the background by a shell has
    // SIGINT ignored, which a child inherits; a terminal's match has it not.
    let mut uci_match = Command::new("env");
    uci_match.arg("--default-signal=INT").arg(example("uci_match"));
    uci_match.args(["--engine", engine.to_str().unwrap(), "--movetime", "60000"]);
    uci_match.stdin(Stdio::null()).stdout(Stdio::piped()).process_group(0);
    // An engine left running would hold a pipe of stderr open.
    let mut child = uci_match.stderr(Stdio::null()).spawn().unwrap();
    let group = Pid::from_raw(child.id() as i32);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains(" vs "), "{line}");
    // White is thinking once its engine runs the thinker.
    wait_for("white to think", || !processes_running(&thinker).is_empty());
    killpg(group, Signal::SIGINT).unwrap();
    assert!(!run_output(child, DEADLINE).status.success());
    let deadline = Instant::now() + DEADLINE;
    while !processes_running(&thinker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = processes_running(&thinker);
    for pid in &left {
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    assert!(left.is_empty(), "engines outlived the match: {left:?}");
}

#[test]
fn embed_names_a_child_that_ends_instead_of_waiting_for_its_echoes() {
    // A `cat` that echoes one line and ends: under tokio the example
    // waited for the next echo for ever.
    let fake = TempDir::new("embed-cat");
    let path = path_with(&fake, &[("cat", "#!/bin/sh\nread line; echo \"$line\"\n")]);
    for mode in ["tokio", "poll"] {
        let mut embed = command("embed", &[mode]);
        embed.env("PATH", &path);
        let output = run_within(embed, DEADLINE);
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{mode}: {err}");
        assert!(err.contains("left") || err.contains("right"), "{mode}: the error names no child: {err}");
    }
}

#[test]
fn bots_without_cgroups_ended_by_ctrl_c_leave_no_bot_running() {
    // As an unprivileged user no cgroup can be had: each bot leads a
    // process group of its own, which the terminal's SIGINT misses, and
    // the spinner (spinning from turn 2) reads no end of stdin.
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("setpriv (util-linux) is not installed: skipped");
        return;
    };
    let mut bots = Command::new(setpriv);
    bots.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(example("bots")).args(["50", "300"]);
    bots.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = bots.spawn().unwrap();
    let group = Pid::from_raw(child.id() as i32);
    let folder = example_folder("bots", child.id());
    let spinner = folder.join("spinner.sh");
    let spinner_words = ["sh", spinner.to_str().unwrap()];
    let mut contained = false;
    // Kept open to the end: the example writes on.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        contained |= line.starts_with("containment: Cgroup");
        if line.starts_with("turn 2:") {
            break;
        }
    }
    killpg(group, Signal::SIGINT).unwrap();
    let output = run_output(child, DEADLINE);
    // The arena reaps its bots before it exits: none may be left now (one
    // left would spin until its 10 s CPU limit).
    let left = processes_running(&spinner_words);
    for pid in &left {
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    let _ = std::fs::remove_dir_all(&folder);
    assert!(!contained, "an unprivileged user got a cgroup: this test checks the other way");
    assert!(left.is_empty(), "the spinner outlived the arena: {left:?}");
    assert_fails_saying(&output, "interrupted: every bot is ended");
}

/// The path of `program` on PATH.
fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file()).ok_or(())
}

#[test]
fn uci_match_refuses_a_movetime_of_zero() {
    // Stockfish takes `go movetime 0` as no limit: white "lost on time".
    let output = run_within(command("uci_match", &["--movetime", "0"]), DEADLINE);
    assert_fails_saying(&output, "--movetime: at least 1 ms");
}
