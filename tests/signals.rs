//! setpgrp: a SIGINT to our process group ends a child without it, and
//! spares a child with it.
//!
//! The SIGINT is sent by a helper: this test binary run again in its own
//! process group, so the test harness never sees the signal.

mod util;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use procloop::{App, Runner};
use util::*;

const HELPER: &str = "PROCLOOP_SIGINT_HELPER";

/// Runs only as the helper: starts `sleep` (with setpgrp as told), prints
/// its pid, then sends SIGINT to its own process group, which ends it.
#[test]
fn sigint_helper() {
    let Ok(mode) = std::env::var(HELPER) else { return };
    // A shell that started us in the background may have left SIGINT ignored.
    // SAFETY: installs the default disposition; no handler code runs.
    unsafe {
        nix::sys::signal::signal(nix::sys::signal::Signal::SIGINT, nix::sys::signal::SigHandler::SigDfl)
    }
    .unwrap();
    let mut runner = Runner::new().unwrap();
    runner.add("sleep", App::new("sleep 1000").setpgrp(mode == "setpgrp"));
    let pid = runner.start("sleep").unwrap();
    println!("child {pid}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(0), nix::sys::signal::Signal::SIGINT).unwrap();
    unreachable!("SIGINT ends the helper");
}

/// Runs the helper; returns the pid of the child it started.
fn run_helper(mode: &str) -> u32 {
    let exe = std::env::current_exe().unwrap();
    let mut helper = Command::new(exe)
        .args(["--exact", "sigint_helper", "--nocapture", "--test-threads=1"])
        .env(HELPER, mode)
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    let pid = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split("child ").nth(1).map(|p| p.trim().parse::<u32>().unwrap()))
        .expect("the helper reports its child");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(helper.wait().unwrap().signal(), Some(nix::libc::SIGINT));
    pid
}

/// Whether SIGINT is pending for `pid` (about to end it).
fn sigint_pending(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:")).any(|l| {
        let mask = u64::from_str_radix(l.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap_or(0);
        mask & (1 << (nix::libc::SIGINT - 1)) != 0
    })
}

#[test]
fn without_setpgrp_sigint_to_our_group_ends_the_child() {
    init();
    let pid = run_helper("shared");
    wait_for("the child to end", || !pid_exists(pid) || pid_state(pid) == Some('Z'));
}

#[test]
fn with_setpgrp_the_child_survives_sigint_to_our_group() {
    init();
    let pid = run_helper("setpgrp");
    let alive = pid_exists(pid) && pid_state(pid) != Some('Z') && !sigint_pending(pid);
    // The helper died without its Runner's drop: end the orphan here.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    assert!(alive, "the setpgrp child was hit by SIGINT");
}
