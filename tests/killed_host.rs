//! When the host itself is SIGKILLed (issue 19): no `Drop` runs, so only
//! the kernel can end its children's trees. With `isolate_pids` and
//! `die_with_parent` the child is the init of a PID namespace and dies
//! with the host, and the kernel ends everything in that namespace, even
//! a grandchild that left the child's session.

mod util;

use std::io::Read;
use std::process::{Command, Stdio};

use procloop::{App, Signal};
use util::*;

/// Where the host process learns its pid file; unset in the test itself.
const PID_FILE: &str = "PROCLOOP_KILLED_HOST_PID_FILE";

/// The host, run alone in its own process by the test below: a Runner
/// whose child double-forks a `setsid` grandchild, which writes its pid
/// (as the host's /proc sees it) to the pid file. Then it blocks until
/// its stdin closes: it is meant to be killed first.
#[test]
fn host_of_a_runner_that_gets_killed() {
    let Some(file) = std::env::var_os(PID_FILE) else { return };
    let file = file.to_str().unwrap();
    let grandchild = format!(
        "read pid rest < /proc/self/stat; echo $pid > {file}.new; mv {file}.new {file}; exec sleep 1000"
    );
    let command = format!("sh -c \"(setsid sh -c '{grandchild}' &); exec sleep 1000\"");
    let app = App::new(command).isolate_pids(true).die_with_parent(true);
    let mut runner = runner_with("child", app);
    runner.start("child").unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    runner.signal("child", Signal::SIGKILL).unwrap();
}

#[test]
fn nothing_of_the_tree_outlives_a_sigkilled_host() {
    init();
    if !is_root() {
        eprintln!("skipped: a PID namespace needs root");
        return;
    }
    let dir = TempDir::new("killed-host");
    let file = dir.path().join("grandchild.pid");
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "host_of_a_runner_that_gets_killed", "--nocapture", "--test-threads=1"])
        .env(PID_FILE, &file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the grandchild's pid file", || file.exists());
    let grandchild: u32 = std::fs::read_to_string(&file).unwrap().trim().parse().unwrap();
    assert!(pid_exists(grandchild) && pid_state(grandchild) != Some('Z'), "the grandchild runs");
    let in_own_session = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap();
    // proc(5): field 6 is the session, the pid itself for a session leader.
    let session = in_own_session.rsplit_once(')').unwrap().1.split_whitespace().nth(3).unwrap();
    assert_eq!(session, grandchild.to_string(), "the grandchild leads its own session");

    host.kill().unwrap();
    host.wait().unwrap();
    wait_for("the grandchild to end with the host", || {
        !pid_exists(grandchild) || pid_state(grandchild) == Some('Z')
    });
}
