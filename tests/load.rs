//! Many children through one loop.

mod util;

use std::collections::HashSet;

use procloop::{App, Buffering, Runner, Start, Transport};
use util::*;

/// Tests here count process-wide fds and children, and load the machine:
/// one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn echo_many(n: usize, transport: Transport) {
    let _lock = one_at_a_time();
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat").buffering(Buffering::Line).transport(transport));
    for i in 0..n {
        runner.start_with("cat", Start::new().alias(i.to_string())).unwrap();
        runner.get_channel(&i.to_string()).unwrap().write(format!("line {i}\n").as_bytes()).unwrap();
    }
    let mut waiting: HashSet<usize> = (0..n).collect();
    let deadline = std::time::Instant::now() + DEADLINE * 3;
    while !waiting.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{} echoes missing", waiting.len());
        runner
            .poll_once(Some(std::time::Duration::from_millis(500)), |_, event| {
                if let procloop::Event::Data { alias, data } = event {
                    let i: usize = alias.parse().unwrap();
                    assert_eq!(data, format!("line {i}\n").as_bytes());
                    assert!(waiting.remove(&i), "{alias} echoed twice");
                }
            })
            .unwrap();
    }
}

#[test]
fn thousand_concurrent_cats_each_echo_their_line() {
    echo_many(1000, Transport::Pipes);
}

#[test]
fn thousand_concurrent_cats_over_socket_pairs() {
    echo_many(1000, Transport::SocketPair);
}

/// The heavy load suite: `.ci/run` runs it in release mode with
/// `--include-ignored`.
mod heavy {
    use super::*;
    use procloop::testing::open_fds;

    #[test]
    #[ignore = "heavy: run by .ci/run in release mode"]
    fn four_thousand_concurrent_cats() {
        echo_many(4000, Transport::Pipes);
    }

    #[test]
    #[ignore = "heavy: run by .ci/run in release mode"]
    fn nine_thousand_concurrent_cats_on_socket_pairs() {
        // Two fds a child (socket pair and pidfd) fit 9000 under 20000.
        let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        if soft < 19_000 {
            eprintln!("fd limit {soft} is below 19000: skipped");
            return;
        }
        echo_many(9000, Transport::SocketPair);
    }

    #[test]
    #[ignore = "heavy: run by .ci/run in release mode"]
    fn ten_thousand_start_terminate_cycles_leave_nothing() {
        let _lock = one_at_a_time();
        init();
        let mut runner = Runner::new().unwrap();
        runner.add("cat", App::new("cat"));
        runner.start("cat").unwrap();
        runner.terminate("cat").unwrap();
        let fds = open_fds();
        for _ in 0..10_000 {
            runner.start("cat").unwrap();
            runner.terminate("cat").unwrap();
        }
        assert_eq!(open_fds(), fds);
        assert!(crate::util::child_pids().is_empty());
    }

    #[test]
    #[ignore = "heavy: run by .ci/run in release mode"]
    fn fifty_thousand_short_lived_children_leave_no_zombie() {
        let _lock = one_at_a_time();
        init();
        let mut runner = Runner::new().unwrap();
        runner.add("true", App::new("true"));
        let total = 50_000;
        let (mut started, mut done) = (0, 0);
        let mut exited = Vec::new();
        while done < total {
            while started < total && started - done < 64 {
                runner.start_with("true", Start::new().alias(started.to_string())).unwrap();
                started += 1;
            }
            runner
                .poll_once(Some(std::time::Duration::from_secs(10)), |_, e| {
                    if let procloop::Event::Exited { alias, status } = e {
                        assert!(status.success());
                        exited.push(alias.to_string());
                    }
                })
                .unwrap();
            for alias in exited.drain(..) {
                runner.terminate(&alias).unwrap();
                done += 1;
            }
        }
        assert!(crate::util::child_pids().is_empty(), "no zombie, no child left");
    }
}
