//! Socket apps keep their promises on every path (issue 18, items 2 to 4):
//! `Ready` means the app's own socket, never an impostor's; a restart
//! never blocks the loop; and a restarted socket app says `Restarted` only
//! once its new channel is in place, a run that never connects counting
//! against the restart policy. Each test names its item.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use procloop::{App, Buffering, Error, Event, Restart, Runner, Signal, Start, Stderr};
use util::*;

/// Another process listening on a socket path: it answers every
/// connection with "impostor\n" and then touches `seen`. With `after`, it
/// binds only once that file exists. Killed and reaped on drop.
struct Impostor(Child);

impl Impostor {
    fn start(path: &Path, seen: &Path, after: Option<&Path>) -> Impostor {
        let script = "import os, socket, sys, time\n\
                      path, seen, after = sys.argv[1:4]\n\
                      while after != '-' and not os.path.exists(after): time.sleep(0.005)\n\
                      s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(64)\n\
                      open(path + '.bound', 'w').close()\n\
                      while True:\n\
                      \x20   c, _ = s.accept()\n\
                      \x20   try: c.sendall(b'impostor\\n')\n\
                      \x20   except OSError: pass\n\
                      \x20   open(seen, 'w').close(); c.close()\n";
        let after = after.map_or(PathBuf::from("-"), Path::to_path_buf);
        let child =
            Command::new("python3").arg("-c").arg(script).arg(path).arg(seen).arg(after).spawn().unwrap();
        Impostor(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn wait_bound(&self, path: &Path) {
        let bound = PathBuf::from(format!("{}.bound", path.display()));
        wait_for("the impostor to listen", || bound.exists());
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap();
}

fn is_ready(got: &[Got]) -> bool {
    got.iter().any(|g| matches!(g, Got::Ready(_)))
}

fn start_failure(got: &[Got]) -> Option<&String> {
    got.iter().find_map(|g| if let Got::StartFailed(_, e) = g { Some(e) } else { None })
}

/// Item 2: another process bound the path first. The loop connects to it,
/// and does not take it for the app: no `Ready`, none of its bytes. Once
/// it is gone and the app binds, `Ready` comes, with the app's channel.
#[test]
fn ready_means_the_childs_own_socket() {
    let dir = TempDir::new("impostor-gone");
    let (sock, seen, gone) = (dir.path().join("sock"), dir.path().join("seen"), dir.path().join("gone"));
    let script = "sh -c 'while [ ! -e gone ]; do sleep 0.01; done; exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    let app =
        App::new(script).socket("sock").cwd(dir.path()).socket_wait(DEADLINE).buffering(Buffering::Line);
    let mut runner = runner_with("own", app);
    runner.start_with("own", Start::new().nowait()).unwrap();
    let impostor = Impostor::start(&sock, &seen, None);
    impostor.wait_bound(&sock);
    let got = run_until(&mut runner, |got| seen.exists() || is_ready(got));
    assert!(!is_ready(&got), "an impostor's socket taken for the app's: {got:?}");
    assert!(got.is_empty(), "{got:?}");
    drop(impostor);
    std::fs::remove_file(&sock).unwrap();
    touch(&gone);
    let got = run_until(&mut runner, is_ready);
    assert_eq!(got, [Got::Ready("own".into())]);
    runner.get_channel("own").unwrap().write(b"mine\n").unwrap();
    let got = run_until(&mut runner, |got| !output_of(got, "own").is_empty());
    assert_eq!(output_of(&got, "own"), b"mine\n", "the app's own cat answers");
    runner.terminate("own").unwrap();
}

/// Item 2: an impostor that stays makes the app's own bind fail: a `nowait`
/// start gives `StartFailed` with an error that names the impostor's pid.
#[test]
fn ready_means_the_childs_own_socket_else_start_failed_names_the_impostor() {
    let dir = TempDir::new("impostor-stays");
    let (sock, seen) = (dir.path().join("sock"), dir.path().join("seen"));
    let script = "sh -c 'while [ ! -e seen ]; do sleep 0.01; done; exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    let app = App::new(script).socket("sock").cwd(dir.path()).socket_wait(DEADLINE).stderr(Stderr::Null);
    let mut runner = runner_with("own", app);
    runner.start_with("own", Start::new().nowait()).unwrap();
    let impostor = Impostor::start(&sock, &seen, None);
    impostor.wait_bound(&sock);
    let got = run_until(&mut runner, |got| is_ready(got) || start_failure(got).is_some());
    assert!(!is_ready(&got), "an impostor's socket taken for the app's: {got:?}");
    let error = start_failure(&got).unwrap();
    assert!(error.contains(&format!("pid {}", impostor.pid())), "{error}");
    assert!(error.contains("exited"), "{error}");
    assert_eq!(output_of(&got, "own"), b"", "none of the impostor's bytes");
    assert_eq!(runner.aliases().count(), 0);
}

/// Item 2: the blocking start makes the same check, and its error names
/// the impostor.
#[test]
fn ready_means_the_childs_own_socket_also_for_a_blocking_start() {
    let dir = TempDir::new("impostor-blocking");
    let (sock, seen, up) = (dir.path().join("sock"), dir.path().join("seen"), dir.path().join("up"));
    let script =
        "sh -c 'touch up; while [ ! -e seen ]; do sleep 0.01; done; exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    let app = App::new(script).socket("sock").cwd(dir.path()).socket_wait(DEADLINE).stderr(Stderr::Null);
    let mut runner = runner_with("own", app);
    // It binds once the app runs (the start clears the path before that).
    let impostor = Impostor::start(&sock, &seen, Some(&up));
    let err = runner.start("own").unwrap_err();
    match &err {
        Error::SocketImpostor { pid, exited, .. } => {
            assert_eq!(*pid, impostor.pid());
            assert!(exited.is_some(), "the app exited: {err}");
        }
        other => panic!("not an impostor error: {other:?}"),
    }
    assert!(err.to_string().contains(&format!("pid {}", impostor.pid())), "{err}");
    assert_eq!(runner.aliases().count(), 0);
}

/// Item 2: a listener below the app (a child of its shell, or with
/// `setpgrp` one in its group whose parent is gone) is the app's own.
#[test]
fn ready_means_the_childs_own_socket_its_descendants_count() {
    let dir = TempDir::new("descendant");
    let below = |sock: &str| App::new(format!("sh -c 'socat SYSTEM:cat UNIX-LISTEN:{sock}; exit 0'"));
    let mut runner = runner_with("child", below("child").socket("child").cwd(dir.path()));
    runner.add("late", below("late").socket("late").cwd(dir.path()));
    let orphan = "sh -c '(socat SYSTEM:cat UNIX-LISTEN:orphan &); exec sleep 60'";
    runner.add("orphan", App::new(orphan).socket("orphan").cwd(dir.path()).setpgrp(true));
    runner.start("child").unwrap();
    runner.start("orphan").unwrap();
    runner.start_with("late", Start::new().nowait()).unwrap();
    let got = run_until(&mut runner, |got| is_ready(got) || start_failure(got).is_some());
    assert_eq!(got, [Got::Ready("late".into())]);
    for alias in ["child", "late", "orphan"] {
        runner.get_channel(alias).unwrap().write(alias.as_bytes()).unwrap();
        let got = run_until(&mut runner, |got| output_of(got, alias).len() == alias.len());
        assert_eq!(output_of(&got, alias), alias.as_bytes());
    }
    runner.terminate_all();
}

/// A socket app whose first run binds at once; each later run first
/// appends to `runs` and waits for the file `bind`. It is restarted after
/// any exit.
fn binds_first_then_waits(dir: &Path) -> App {
    let script = "sh -c 'echo run >> runs; if [ $(wc -l < runs) -gt 1 ]; then \
                  while [ ! -e bind ]; do sleep 0.01; done; fi; exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    App::new(script)
        .socket("sock")
        .cwd(dir)
        .socket_wait(DEADLINE)
        .restart(Restart::Always)
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
}

/// Polls until `Restarted` comes for `alias`; returns the events, and
/// whether its channel was in place when `Restarted` was handed over.
fn until_restarted(runner: &mut Runner, alias: &str) -> (Vec<Got>, bool) {
    let deadline = std::time::Instant::now() + DEADLINE;
    let (mut got, mut in_place) = (Vec::new(), false);
    while !got.iter().any(|g| matches!(g, Got::Restarted(..))) {
        assert!(std::time::Instant::now() < deadline, "no Restarted; events so far: {got:?}");
        runner
            .poll_once(Some(Duration::from_millis(100)), |runner, event| {
                if matches!(event, Event::Restarted { .. }) {
                    in_place = runner.get_channel(alias).is_some();
                }
                got.push(own_runner(event));
            })
            .unwrap();
    }
    (got, in_place)
}

/// Kills `alias`'s run and polls until its restart is launched; checks
/// that `Restarted` is held back meanwhile.
fn kill_and_relaunch(runner: &mut Runner, alias: &str) -> Vec<Got> {
    let old = runner.pid(alias).unwrap();
    runner.signal(alias, Signal::SIGKILL).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while runner.pid(alias) == Some(old) {
        assert!(std::time::Instant::now() < deadline, "no restart; events so far: {got:?}");
        runner.poll_once(Some(Duration::from_millis(100)), |_, e| got.push(own_runner(e))).unwrap();
        let over =
            got.iter().any(|g| matches!(g, Got::Restarted(..) | Got::GaveUp(..) | Got::StartFailed(..)));
        assert!(!over, "the restart blocked the loop or was said too early: {got:?}");
    }
    assert!(got.contains(&Got::Exited(alias.into(), None)), "{got:?}");
    got
}

/// Item 3: the restart of a socket app started without `nowait` connects
/// in the loop: the loop goes on (another child's echo comes) while the
/// restarted run has not bound yet, and `Restarted` comes once it has.
#[test]
fn a_restart_never_blocks_the_loop() {
    let dir = TempDir::new("restart-loop");
    let mut runner = runner_with("sock", binds_first_then_waits(dir.path()));
    runner.add("cat", App::new("cat"));
    runner.start("sock").unwrap();
    runner.start("cat").unwrap();
    kill_and_relaunch(&mut runner, "sock");
    assert!(runner.get_channel("sock").is_none(), "no channel before the socket is connected");
    runner.get_channel("cat").unwrap().write(b"ping").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "cat") == b"ping");
    assert!(!got.iter().any(|g| matches!(g, Got::Restarted(..))), "{got:?}");
    touch(&dir.path().join("bind"));
    let (got, in_place) = until_restarted(&mut runner, "sock");
    assert!(got.contains(&Got::Restarted("sock".into(), None)), "{got:?}");
    assert!(in_place, "a new channel is in place when Restarted comes");
    runner.terminate_all();
}

/// Item 4: a `nowait` socket app's restart says `Restarted` only once the
/// new run's socket is connected, and the new channel works.
#[test]
fn a_nowait_restart_keeps_its_promises_restarted_with_a_channel() {
    let dir = TempDir::new("nowait-restart");
    let mut runner = runner_with("sock", binds_first_then_waits(dir.path()));
    runner.start_with("sock", Start::new().nowait()).unwrap();
    run_until(&mut runner, is_ready);
    kill_and_relaunch(&mut runner, "sock");
    touch(&dir.path().join("bind"));
    let (_, in_place) = until_restarted(&mut runner, "sock");
    assert!(in_place, "a new channel is in place when Restarted comes");
    runner.get_channel("sock").unwrap().write(b"again").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "sock").len() == 5);
    assert_eq!(output_of(&got, "sock"), b"again");
    runner.terminate("sock").unwrap();
}

/// A socket app whose first run binds at once; each later run exits with
/// 7 before binding, but the third binds when the file `third` exists.
fn fails_after_first(dir: &Path, max_restarts: u32) -> App {
    let script = "sh -c 'echo run >> runs; n=$(wc -l < runs); \
                  if [ $n -gt 1 ] && ! { [ $n -eq 3 ] && [ -e third ]; }; then exit 7; fi; \
                  exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    App::new(script)
        .socket("sock")
        .cwd(dir)
        .socket_wait(DEADLINE)
        .restart(Restart::OnFailure)
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
        .max_restarts(max_restarts, Duration::from_secs(600))
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs")).map_or(0, |s| s.lines().count())
}

/// Item 4: a restarted run that exits before binding is a failed run: it
/// is restarted again, and `Restarted` comes once a run connects. The
/// alias never vanishes, and no `StartFailed` comes.
#[test]
fn a_nowait_restart_keeps_its_promises_a_run_that_exits_first_is_restarted() {
    let dir = TempDir::new("restart-again");
    touch(&dir.path().join("third"));
    let mut runner = runner_with("sock", fails_after_first(dir.path(), 5));
    runner.start_with("sock", Start::new().nowait()).unwrap();
    run_until(&mut runner, is_ready);
    runner.signal("sock", Signal::SIGKILL).unwrap();
    let (got, in_place) = until_restarted(&mut runner, "sock");
    assert_eq!(runs(dir.path()), 3, "the second run failed, the third connected");
    assert!(in_place, "a new channel is in place when Restarted comes");
    let theirs: Vec<&Got> = got.iter().filter(|g| !matches!(g, Got::Closed(_))).collect();
    let expected = [Got::Exited("sock".into(), None), Got::Restarted("sock".into(), Some(7))];
    assert_eq!(theirs, expected.iter().collect::<Vec<_>>(), "the failed run has no events of its own");
    runner.terminate("sock").unwrap();
}

/// Item 4: with its restarts used up, a restarted run that exits before
/// binding gives `GaveUp` with its status; the alias stays, exited.
#[test]
fn a_nowait_restart_keeps_its_promises_gave_up_after_the_budget() {
    let dir = TempDir::new("restart-gave-up");
    let mut runner = runner_with("sock", fails_after_first(dir.path(), 1));
    runner.start_with("sock", Start::new().nowait()).unwrap();
    run_until(&mut runner, is_ready);
    runner.signal("sock", Signal::SIGKILL).unwrap();
    let got =
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::GaveUp(..) | Got::StartFailed(..))));
    assert!(got.contains(&Got::GaveUp("sock".into(), Some(7))), "{got:?}");
    assert!(start_failure(&got).is_none(), "{got:?}");
    assert_eq!(runner.exit_status("sock").and_then(|s| s.code()), Some(7));
    assert!(runner.pid("sock").is_some(), "the alias stays taken");
    assert!(runner.get_channel("sock").is_none());
    runner.terminate("sock").unwrap();
}

/// Item 4: a restarted run whose socket never appears within its socket
/// wait is killed, and counts as a failed run.
#[test]
fn a_nowait_restart_keeps_its_promises_a_socket_wait_that_passes_counts() {
    let dir = TempDir::new("restart-timeout");
    let app = binds_first_then_waits(dir.path())
        .socket_wait(Duration::from_secs(2))
        .max_restarts(1, Duration::from_secs(600));
    let mut runner = runner_with("sock", app);
    runner.start_with("sock", Start::new().nowait()).unwrap();
    run_until(&mut runner, is_ready);
    runner.signal("sock", Signal::SIGKILL).unwrap();
    let got =
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::GaveUp(..) | Got::StartFailed(..))));
    assert!(got.contains(&Got::GaveUp("sock".into(), None)), "killed after its socket wait: {got:?}");
    assert!(start_failure(&got).is_none(), "{got:?}");
    assert_eq!(runs(dir.path()), 2);
    assert!(runner.pid("sock").is_some(), "the alias stays taken");
    runner.terminate("sock").unwrap();
}
