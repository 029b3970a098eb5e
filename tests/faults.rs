//! Faults: kills mid-stream, odd children, floods, signals.

mod util;

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use procloop::{App, Buffering, Error, Runner, Start};
use util::*;

#[test]
fn kill_storm_delivers_a_prefix_then_closed_then_exited() {
    let mut runner = runner_with("cat", App::new("cat").buffering(Buffering::Line));
    let n = 16;
    let mut pids = Vec::new();
    for i in 0..n {
        pids.push(runner.start_with("cat", Start::new().alias(i.to_string())).unwrap());
    }
    let mut sent = vec![0u32; n];
    let mut echoed: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut closed = vec![false; n];
    let mut exited = vec![None; n];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let deadline = Instant::now() + DEADLINE;
    while exited.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "storm did not settle");
        for i in 0..n {
            if exited[i].is_none()
                && let Some(channel) = runner.get_channel(&i.to_string())
                && channel.queued() < 4096
                && channel.write(format!("{}\n", sent[i]).as_bytes()).is_ok()
            {
                sent[i] += 1;
            }
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if seed.is_multiple_of(50) {
            let victim = (seed / 50) as usize % n;
            let _ = kill(Pid::from_raw(pids[victim] as i32), Signal::SIGKILL);
        }
        runner
            .poll_once(Some(Duration::from_millis(5)), |_, event| match event {
                procloop::Event::Data { alias, data } => {
                    let i: usize = alias.parse().unwrap();
                    assert!(!closed[i], "data after Closed");
                    echoed[i].push(std::str::from_utf8(data).unwrap().trim_end().parse().unwrap());
                }
                procloop::Event::Closed { alias } => closed[alias.parse::<usize>().unwrap()] = true,
                procloop::Event::Exited { alias, status } => {
                    let i: usize = alias.parse().unwrap();
                    assert!(closed[i], "Exited before Closed for {alias}");
                    exited[i] = Some(status);
                }
                _ => {}
            })
            .unwrap();
        if Instant::now() + Duration::from_secs(15) > deadline {
            for pid in &pids {
                let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            }
        }
    }
    for i in 0..n {
        let expected: Vec<u32> = (0..echoed[i].len() as u32).collect();
        assert_eq!(echoed[i], expected, "child {i}: echoes are a gapless prefix of what was sent");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exited[i].unwrap().signal(), Some(9));
    }
}

#[test]
fn child_that_closes_stdout_but_runs_on() {
    let mut runner = runner_with("mute", App::new("sh -c 'echo bye; exec 1>&-; exec sleep 1000'"));
    runner.start("mute").unwrap();
    let got = run_until(&mut runner, |g| g.contains(&Got::Closed("mute".into())));
    assert_eq!(output_of(&got, "mute"), b"bye\n");
    assert!(runner.is_running("mute"), "closed its stdout, still running");
    assert!(runner.terminate("mute").is_ok());
}

#[test]
fn grandchild_holding_the_pipe_delays_closed_not_exited() {
    let mut runner =
        runner_with("parent", App::new("sh -c 'sleep 1000 & echo $!'").buffering(Buffering::Line));
    runner.start("parent").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    assert!(!got.contains(&Got::Closed("parent".into())), "the grandchild still holds stdout");
    let grandchild: i32 = String::from_utf8(output_of(&got, "parent")).unwrap().trim().parse().unwrap();
    kill(Pid::from_raw(grandchild), Signal::SIGKILL).unwrap();
    run_until(&mut runner, |g| g.contains(&Got::Closed("parent".into())));
}

/// A child's last line without a newline comes before its `Exited`, even
/// while a grandchild holds the pipe (so no end of stream ends the line).
#[test]
fn a_partial_last_line_comes_before_exited_while_a_grandchild_holds_the_pipe() {
    for buffering in [Buffering::Line, Buffering::WholeLines] {
        let app = App::new("sh -c 'sleep 1000 & echo $!; printf partial'").buffering(buffering);
        let mut runner = runner_with("parent", app);
        runner.start("parent").unwrap();
        let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
        assert!(!got.contains(&Got::Closed("parent".into())), "the grandchild still holds stdout");
        let output = String::from_utf8(output_of(&got, "parent")).unwrap();
        let (pid, rest) = output.split_once('\n').unwrap();
        kill(Pid::from_raw(pid.parse().unwrap()), Signal::SIGKILL).unwrap();
        assert_eq!(rest, "partial", "{buffering:?}: the partial line before Exited");
        let got = run_until(&mut runner, |g| g.contains(&Got::Closed("parent".into())));
        assert!(output_of(&got, "parent").is_empty(), "nothing handed twice");
    }
}

#[test]
fn child_that_never_reads_fills_the_queue_and_others_are_still_served() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("deaf", App::new("sleep 1000"));
    runner.add("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("deaf").unwrap();
    runner.start("cat").unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let err = loop {
        match runner.get_channel("deaf").unwrap().write(&chunk) {
            Ok(()) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::QueueFull { requested, .. } if requested == chunk.len()), "{err}");
    runner.get_channel("cat").unwrap().write(b"still here\n").unwrap();
    let got = run_until(&mut runner, |g| !output_of(g, "cat").is_empty());
    assert_eq!(output_of(&got, "cat"), b"still here\n");
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn flooding_child_that_nobody_reads_keeps_memory_bounded() {
    let mut runner = runner_with("yes", App::new("yes"));
    runner.start("yes").unwrap();
    runner.pause("yes");
    let before = rss_kib();
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        runner.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("paused, yet {e:?}")).unwrap();
    }
    let channel = runner.get_channel("yes").unwrap();
    assert_eq!(channel.buffered(), procloop::DEFAULT_INPUT_CAPACITY, "full, and no fuller");
    assert!(rss_kib() < before + 4 * 1024, "memory grew by {} KiB", rss_kib() - before);
    assert!(channel.read().unwrap().starts_with(b"y\ny\n"));
    runner.resume("yes");
    let got = run_until(&mut runner, |g| output_of(g, "yes").len() > 1 << 20);
    assert!(output_of(&got, "yes").chunks(2).all(|c| c == b"y\n"));
}

#[test]
fn a_signal_during_poll_once_returns_zero_and_the_loop_goes_on() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    extern "C" fn nothing(_: i32) {}
    let action = SigAction::new(SigHandler::Handler(nothing), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler does nothing, so it is async-signal-safe.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.unwrap();
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let me = nix::sys::pthread::pthread_self();
    let returned = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = returned.clone();
    // Signals keep coming until poll_once has returned, so one is sure to
    // land while it waits, whenever that is.
    let poker = std::thread::spawn(move || {
        let deadline = Instant::now() + DEADLINE;
        while !done.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
            nix::sys::pthread::pthread_kill(me, Signal::SIGUSR1).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let n = runner.poll_once(None, |_, e| panic!("{e:?}")).unwrap();
    returned.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(n, 0, "interrupted, nothing handed");
    poker.join().unwrap();
    runner.get_channel("cat").unwrap().write(b"after\n").unwrap();
    let got = run_until(&mut runner, |g| output_of(g, "cat").len() == 6);
    assert_eq!(output_of(&got, "cat"), b"after\n");
}
