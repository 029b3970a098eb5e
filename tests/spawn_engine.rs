//! procloop's own spawn for children that run code of ours before their
//! program (issue 19): `clone` with the pidfd, signals put back as a new
//! program expects them, and std's fork path where the kernel lacks
//! `CLONE_PIDFD`.

mod util;

use procloop::{App, Error, Limit, Runner};
use util::*;

/// Apps that take the clone path: one with `die_with_parent`, one with a limit.
fn clone_path(command: &str) -> [(&'static str, App); 2] {
    [
        ("die_with_parent", App::new(command).die_with_parent(true)),
        ("limit", App::new(command).limit(Limit::OpenFiles(64))),
    ]
}

#[test]
fn the_clone_path_resets_ignored_and_blocked_signals() {
    if !in_own_process("the_clone_path_resets_ignored_and_blocked_signals") {
        return;
    }
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, signal};
    extern "C" fn caught(_: i32) {}
    for ignored in [Signal::SIGXFSZ, Signal::SIGUSR1, Signal::SIGHUP] {
        // SAFETY: this test runs alone in its own process.
        unsafe { signal(ignored, SigHandler::SigIgn) }.unwrap();
    }
    // SAFETY: as above; the handler does nothing.
    unsafe { signal(Signal::SIGWINCH, SigHandler::Handler(caught)) }.unwrap();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::from(Signal::SIGUSR2)), None).unwrap();
    let mut runner = Runner::new().unwrap();
    for (way, app) in clone_path("grep -E '^Sig(Ign|Blk|Cgt)' /proc/self/status") {
        runner.add(way, app);
        runner.start(way).unwrap();
        let text = String::from_utf8(read_to_end(runner.get_channel(way).unwrap())).unwrap();
        let mask = |name: &str| {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(mask("SigIgn:"), 0, "{way}: {text}");
        assert_eq!(mask("SigBlk:"), 0, "{way}: {text}");
        assert_eq!(mask("SigCgt:") & 1 << (Signal::SIGWINCH as i32 - 1), 0, "{way}: {text}");
        assert_eq!(runner.wait(way, DEADLINE).unwrap().and_then(|s| s.code()), Some(0), "{way}");
    }
}

/// Where `clone` has no `CLONE_PIDFD` (Linux before 5.2; a shim fakes it),
/// plain starts take `posix_spawn` and the others std's fork path: they
/// run, their exits come, and a file without a `#!` line is still refused
/// rather than run by `/bin/sh`.
#[test]
fn without_clone_pidfd_the_fork_path_is_taken() {
    let name = "without_clone_pidfd_the_fork_path_is_taken";
    if std::env::var_os("LD_PRELOAD").is_none() {
        let shim = build_shim("fail_clone_pidfd");
        in_own_process_with(name, &[("LD_PRELOAD", shim.as_os_str())]);
        return;
    }
    init();
    let dir = TempDir::new("fork-path");
    let file = dir.path().join("plain");
    write_executable(&file, "echo ran under a shell\n");
    let mut runner = Runner::new().unwrap();
    let plain = |command: &str| [("plain", App::new(command))];
    let hi = "sh -c 'echo hi; exit 3'";
    for (way, app) in plain(hi).into_iter().chain(clone_path(hi)) {
        runner.add(way, app);
        runner.start(way).unwrap();
        assert_eq!(read_to_end(runner.get_channel(way).unwrap()), b"hi\n", "{way}");
        assert_eq!(runner.wait(way, DEADLINE).unwrap().and_then(|s| s.code()), Some(3), "{way}");
    }
    let file = file.display().to_string();
    for (way, app) in plain(&file).into_iter().chain(clone_path(&file)) {
        let alias = format!("{way}-plain");
        runner.add(&alias, app);
        let err = runner.start(&alias).expect_err("a file without #! must not start");
        assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("has no #! line"), "{way}: {err}");
    }
}
