//! A hostile user's regression suite: handlers that panic or poll again,
//! hosts that take exit statuses or run out of fds, children that leave
//! their group or flood big socket buffers. Each test names the item of the
//! "lose nothing, hang never" issue it holds.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Error, Event, Reactor, ReactorEvent, Restart, Runner, Start, Transport};
use util::*;

/// Polls once, with a handler that may panic; the panic is caught.
fn poll_catching(runner: &mut Runner, handler: impl FnMut(&mut Runner, Event<'_>)) -> bool {
    catch_unwind(AssertUnwindSafe(|| runner.poll_once(Some(Duration::from_millis(200)), handler).unwrap()))
        .is_err()
}

/// Item 1: A handler that panics on a line of a batch: every line still comes,
/// the one it panicked on included (it was handed over), and `read` works.
#[test]
fn a_caught_panic_in_a_handler_loses_no_line() {
    let app = App::new("seq 100").buffering(Buffering::Line);
    let mut runner = runner_with("seq", app);
    runner.start("seq").unwrap();
    let mut lines = Vec::new();
    let mut panics = 0;
    let deadline = Instant::now() + DEADLINE;
    while !lines.iter().any(|l| l == "exited") {
        assert!(Instant::now() < deadline, "{lines:?}");
        panics += usize::from(poll_catching(&mut runner, |_, event| match event {
            Event::Data { data, .. } => {
                let line = String::from_utf8(data.to_vec()).unwrap();
                lines.push(line.trim().to_string());
                if line.trim().parse::<u32>().unwrap() % 10 == 5 {
                    panic!("a hostile handler");
                }
            }
            Event::Exited { .. } => lines.push("exited".into()),
            _ => {}
        }));
    }
    assert_eq!(panics, 10);
    let expected: Vec<String> = (1..=100).map(|n| n.to_string()).chain(["exited".into()]).collect();
    assert_eq!(lines, expected);
}

/// Item 1: A panic in the `Exited` handler does not disable the restart policy.
#[test]
fn a_caught_panic_on_exited_keeps_the_restart_policy() {
    let app = App::new("sh -c 'exit 3'")
        .restart(Restart::OnFailure)
        .backoff(Duration::from_millis(5), Duration::from_millis(5));
    let mut runner = runner_with("crash", app);
    runner.start("crash").unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while !seen.contains(&"restarted") {
        assert!(Instant::now() < deadline, "{seen:?}");
        poll_catching(&mut runner, |_, event| match event {
            Event::Exited { .. } => {
                seen.push("exited");
                panic!("a hostile handler");
            }
            Event::Restarted { .. } => seen.push("restarted"),
            _ => {}
        });
    }
    assert_eq!(seen[..2], ["exited", "restarted"]);
    runner.terminate("crash").unwrap();
}

/// Item 1: After a panic in a data handler, that alias's later output still
/// comes as events, and `read()` still returns what is buffered.
#[test]
fn after_a_caught_panic_the_alias_is_not_muted() {
    let mut runner = runner_with("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    runner.get_channel("cat").unwrap().write(b"one\n").unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !poll_catching(&mut runner, |_, event| {
        assert!(!matches!(event, Event::Data { .. }), "a hostile handler")
    }) {
        assert!(Instant::now() < deadline);
    }
    runner.get_channel("cat").unwrap().write(b"two\n").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "cat") == b"two\n");
    assert_eq!(got.len(), 1);
    runner.pause("cat");
    runner.get_channel("cat").unwrap().write(b"three\n").unwrap();
    assert_eq!(read_some(runner.get_channel("cat").unwrap()).unwrap(), b"three\n");
}

/// Item 2: A `Runner::poll_once` nested in a handler hands over the lines of the
/// alias being handled, each once, in order.
#[test]
fn a_nested_poll_loses_no_line() {
    let mut runner = runner_with("seq", App::new("seq 3").buffering(Buffering::Line));
    runner.start("seq").unwrap();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut exited = false;
    let deadline = Instant::now() + DEADLINE;
    while !exited {
        assert!(Instant::now() < deadline, "{lines:?}");
        let mut nested = Vec::new();
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| match event {
                Event::Data { data, .. } => {
                    nested.push(data.to_vec());
                    runner
                        .poll_once(Some(Duration::ZERO), |_, event| match event {
                            Event::Data { data, .. } => nested.push(data.to_vec()),
                            Event::Exited { .. } => exited = true,
                            _ => {}
                        })
                        .unwrap();
                }
                Event::Exited { .. } => exited = true,
                _ => {}
            })
            .unwrap();
        lines.extend(nested);
    }
    assert_eq!(lines, [b"1\n".to_vec(), b"2\n".to_vec(), b"3\n".to_vec()]);
}

/// Item 3: `terminate` and `start` of the same alias inside its `Exited`
/// handler, for an app with a restart policy: no panic later, and the new
/// process's exits follow the policy.
#[test]
fn terminate_and_start_inside_exited_of_a_restarting_app() {
    let app = App::new("sh -c 'exit 1'")
        .restart(Restart::OnFailure)
        .backoff(Duration::from_millis(1), Duration::from_millis(1));
    let mut runner = runner_with("crash", app);
    runner.start("crash").unwrap();
    let mut by_hand = 0;
    let mut restarted = 0;
    let deadline = Instant::now() + DEADLINE;
    while restarted < 2 {
        assert!(Instant::now() < deadline);
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| match event {
                Event::Exited { alias, .. } if by_hand == 0 => {
                    by_hand += 1;
                    runner.terminate(alias).unwrap();
                    runner.start(alias).unwrap();
                }
                Event::Restarted { .. } => restarted += 1,
                _ => {}
            })
            .unwrap();
    }
    runner.terminate("crash").unwrap();
}

/// Item 4: A channel and a server of the user's own on the Runner's reactor:
/// their data and their accepted clients come through the Runner's handler.
#[test]
fn the_users_own_channels_and_servers_get_their_events() {
    let mut runner = Runner::new().unwrap();
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    let token = runner.reactor().register(channel).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runner.reactor().add_server(listener).unwrap();
    peer.put(b"mine");
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut client, b"hi").unwrap();
    let got = run_until(&mut runner, |got| {
        let data: usize =
            got.iter().map(|g| if let Got::Reactor(Seen::Data(_, d)) = g { d.len() } else { 0 }).sum();
        data == 6
    });
    assert!(got.iter().any(|g| matches!(g, Got::Reactor(Seen::Data(t, d)) if *t == token && d == b"mine")));
    let accepted = got.iter().find_map(|g| match g {
        Got::Reactor(Seen::Accepted { server: s, client }) if *s == server => Some(*client),
        _ => None,
    });
    let client_token = accepted.expect("the accepted client is announced");
    assert!(
        got.iter().any(|g| matches!(g, Got::Reactor(Seen::Data(t, d)) if *t == client_token && d == b"hi"))
    );
    assert!(runner.reactor().channel(client_token).is_some());
}

/// Item 4: The view of the reactor cannot reach the Runner's own channels, and
/// closing "all" closes only the user's.
#[test]
fn the_reactor_view_reaches_only_the_users_own_entries() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    runner.reactor().register(channel).unwrap();
    runner.reactor().close_all();
    assert_eq!(peer.get(), b"", "the user's channel is closed");
    let cat = runner.get_channel("cat").unwrap();
    cat.write(b"still here").unwrap();
    assert_eq!(read_exactly(cat, 10), b"still here");
}

/// Item 5: `Exited` after the last byte, also when the child's socket send
/// buffer is bigger than any fixed drain limit (root may force it).
#[test]
fn exited_comes_after_the_last_byte_of_a_huge_socket_buffer() {
    // SAFETY: geteuid cannot fail.
    if unsafe { nix::libc::geteuid() } != 0 {
        eprintln!("skipped: forcing a 64 MiB socket buffer needs root");
        return;
    }
    // SO_SNDBUFFORCE is 32 on Linux.
    let script = "import os, socket; s = socket.socket(fileno=1); \
                  s.setsockopt(socket.SOL_SOCKET, 32, 64 << 20); \
                  assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 48 << 20; \
                  s.sendall(b'x' * (20 << 20)); os._exit(0)";
    let app = App::new("python3 -c").transport(Transport::SocketPair);
    let mut runner = runner_with("flood", app);
    runner.start_with("flood", Start::new().args([script])).unwrap();
    // Let it write everything and exit before the loop reads a byte.
    assert!(runner.wait("flood", DEADLINE).unwrap().is_some_and(|s| s.success()));
    let mut bytes = 0;
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    for g in &got {
        match g {
            Got::Data(_, d) => bytes += d.len(),
            Got::Exited(..) => break,
            _ => {}
        }
    }
    assert_eq!(bytes, 20 << 20, "every byte before Exited");
}

/// Item 6: Line mode: a last line without `\n` comes in the first `read()`
/// after the child has exited.
#[test]
fn a_last_line_without_newline_comes_in_one_read() {
    let mut runner = runner_with("printf", App::new("printf test").buffering(Buffering::Line));
    runner.start("printf").unwrap();
    assert!(runner.wait("printf", DEADLINE).unwrap().is_some());
    assert_eq!(runner.get_channel("printf").unwrap().read().unwrap(), b"test");
}

/// Item 7: `poll_once` counts every event it handed over, `GaveUp` included.
#[test]
fn the_count_includes_gave_up() {
    let app = App::new("sh -c 'exit 2'").restart(Restart::OnFailure).max_restarts(0, Duration::from_secs(60));
    let mut runner = runner_with("once", app);
    runner.start("once").unwrap();
    let mut seen = Vec::new();
    let mut counted = 0;
    let deadline = Instant::now() + DEADLINE;
    while !seen.contains(&"gave up") {
        assert!(Instant::now() < deadline);
        counted += runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Exited { .. } => seen.push("exited"),
                Event::GaveUp { .. } => seen.push("gave up"),
                Event::Closed { .. } => seen.push("closed"),
                _ => {}
            })
            .unwrap();
    }
    assert_eq!(counted, seen.len());
    assert_eq!(seen[seen.len() - 2..], ["exited", "gave up"]);
}

/// Item 7: A restart that cannot start gives `GaveUp`, and the alias stays.
#[test]
fn a_restart_that_fails_to_start_gives_up_and_keeps_the_alias() {
    let dir = TempDir::new("restart-cwd");
    let cwd = dir.path().join("gone");
    std::fs::create_dir(&cwd).unwrap();
    let app =
        App::new("sh -c 'exit 1'").cwd(&cwd).restart(Restart::Always).backoff(Duration::ZERO, Duration::ZERO);
    let mut runner = runner_with("lost", app);
    runner.start("lost").unwrap();
    std::fs::remove_dir(&cwd).unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::GaveUp(..))));
    assert!(got.iter().any(|g| matches!(g, Got::Exited(_, Some(1)))), "{got:?}");
    assert_eq!(runner.aliases().collect::<Vec<_>>(), ["lost"]);
    assert_eq!(runner.terminate("lost").unwrap().code(), Some(1));
}

/// Item 8: A setpgrp app's group is ended by `terminate` also after its
/// `Exited` was handed over.
#[test]
fn terminate_after_exited_ends_the_rest_of_the_group() {
    let mut runner = runner_with("leader", App::new("sh -c 'sleep 1000 & echo $!'").setpgrp(true));
    runner.start("leader").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let member: u32 = String::from_utf8(output_of(&got, "leader")).unwrap().trim().parse().unwrap();
    assert!(pid_exists(member) && pid_state(member) != Some('Z'));
    runner.terminate("leader").unwrap();
    wait_for("the member to end", || !pid_exists(member) || pid_state(member) == Some('Z'));
}

/// Item 8: The same for dropping the Runner.
#[test]
fn drop_after_exited_ends_the_rest_of_the_group() {
    let mut runner = runner_with("leader", App::new("sh -c 'sleep 1000 & echo $!'").setpgrp(true));
    runner.start("leader").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let member: u32 = String::from_utf8(output_of(&got, "leader")).unwrap().trim().parse().unwrap();
    drop(runner);
    wait_for("the member to end", || !pid_exists(member) || pid_state(member) == Some('Z'));
}

/// Item 9: A start whose pidfd cannot be opened (no fds left: another thread of
/// the host took them) neither fails nor leaks its child: its exit is found
/// by polling, and it is reaped.
#[test]
fn a_start_without_a_pidfd_still_runs_and_is_reaped() {
    let name = "a_start_without_a_pidfd_still_runs_and_is_reaped";
    if std::env::var_os("LD_PRELOAD").is_none() {
        let shim = build_shim("fail_pidfd_open");
        in_own_process_with(name, &[("LD_PRELOAD", shim.as_os_str())]);
        return;
    }
    let mut runner = runner_with("echo", App::new("sh -c 'echo hi'"));
    let pid = runner.start("echo").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert_eq!(output_of(&got, "echo"), b"hi\n");
    assert!(got.contains(&Got::Exited("echo".into(), Some(0))));
    runner.terminate("echo").unwrap();
    assert!(!child_pids().contains(&pid), "reaped");
}

/// Item 10: `die_with_parent` children live on when the thread that started them
/// ends: the Runner is handed to another thread.
#[test]
fn die_with_parent_children_outlive_the_thread_that_started_them() {
    let app = App::new("sleep 1000").die_with_parent(true);
    let mut runner = std::thread::spawn(move || {
        let mut runner = runner_with("sleep", app);
        runner.start("sleep").unwrap();
        runner
    })
    .join()
    .unwrap();
    // The spawning thread is gone; a child it had started would have its
    // SIGKILL by now, and this wait would see it.
    assert_eq!(runner.wait("sleep", Duration::from_millis(300)).unwrap(), None);
    assert_eq!(runner.terminate("sleep").unwrap().signal(), Some(15));
}

/// Item 11: With SIGCHLD ignored, the kernel reaps children at once: the exits
/// still come, with an unknown status, and the bookkeeping holds.
#[test]
fn exits_come_when_sigchld_is_ignored() {
    if !in_own_process("exits_come_when_sigchld_is_ignored") {
        return;
    }
    // SAFETY: this test runs alone in its own process.
    unsafe { nix::libc::signal(nix::libc::SIGCHLD, nix::libc::SIG_IGN) };
    let mut runner = runner_with("true", App::new("sh -c 'echo hi'"));
    for i in 0..10 {
        runner.start_with("true", Start::new().alias(format!("t{i}"))).unwrap();
    }
    let got = run_until(&mut runner, |got| got.iter().filter(|g| matches!(g, Got::Exited(..))).count() == 10);
    assert!(got.iter().all(|g| !matches!(g, Got::Exited(_, Some(_)))), "unknown statuses: {got:?}");
    for i in 0..10 {
        let status = runner.terminate(&format!("t{i}")).unwrap();
        assert!(procloop::is_unknown_exit(status));
    }
}

/// Item 11: A host thread that reaps every child (`waitpid(-1)`): exits come
/// anyway (with an unknown status), and one child reaped elsewhere while
/// the Runner drops does not cut its siblings' grace period short.
#[test]
fn exits_come_when_another_thread_reaps_every_child() {
    if !in_own_process("exits_come_when_another_thread_reaps_every_child") {
        return;
    }
    let dir = TempDir::new("graceful");
    let marker = dir.path().join("cleaned-up");
    let mut runner = Runner::new().unwrap();
    runner.add("short", App::new("true"));
    runner.add("quick", App::new("sleep 1000"));
    let script = format!(
        "trap 'sleep 0.2; touch {}; exit 0' TERM; echo up; while :; do sleep 0.05; done",
        marker.display()
    );
    runner.add("graceful", App::new("sh -c").termination_grace(Duration::from_secs(10)));
    runner.start_with("graceful", Start::new().args([script])).unwrap();
    read_some(runner.get_channel("graceful").unwrap()).unwrap();
    runner.start("quick").unwrap();
    std::thread::spawn(|| {
        loop {
            // SAFETY: waitpid with a null status pointer is allowed.
            if unsafe { nix::libc::waitpid(-1, std::ptr::null_mut(), 0) } < 0 {
                std::thread::sleep(Duration::from_millis(1)); // no child yet: a hostile host polls on
            }
        }
    });
    for i in 0..10 {
        runner.start_with("short", Start::new().alias(format!("s{i}"))).unwrap();
    }
    // Each exit comes, reaped here (status 0) or there (status unknown).
    run_until(&mut runner, |got| got.iter().filter(|g| matches!(g, Got::Exited(..))).count() == 10);
    for i in 0..10 {
        let status = runner.terminate(&format!("s{i}")).unwrap();
        assert!(status.success() || procloop::is_unknown_exit(status), "{status}");
    }
    drop(runner); // "quick" goes at once, reaped elsewhere; "graceful" needs 0.2 s
    assert!(marker.exists(), "the sibling had its grace period");
}

/// Item 19: Children start with every signal at its default action, whatever
/// the host ignores (Python ignores SIGPIPE and SIGXFSZ), and none blocked.
#[test]
fn children_do_not_inherit_ignored_or_blocked_signals() {
    if !in_own_process("children_do_not_inherit_ignored_or_blocked_signals") {
        return;
    }
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, signal};
    for ignored in [Signal::SIGXFSZ, Signal::SIGUSR1, Signal::SIGHUP] {
        // SAFETY: this test runs alone in its own process.
        unsafe { signal(ignored, SigHandler::SigIgn) }.unwrap();
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::from(Signal::SIGUSR2)), None).unwrap();
    let mut runner = runner_with("status", App::new("grep -E '^Sig(Ign|Blk)' /proc/self/status"));
    runner.start("status").unwrap();
    let text = String::from_utf8(read_to_end(runner.get_channel("status").unwrap())).unwrap();
    let mask = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let bit = |signal: Signal| 1u64 << (signal as i32 - 1);
    let ignored = mask("SigIgn:");
    for signal in [Signal::SIGXFSZ, Signal::SIGUSR1, Signal::SIGHUP, Signal::SIGPIPE] {
        assert_eq!(ignored & bit(signal), 0, "{signal} still ignored: {text}");
    }
    assert_eq!(mask("SigBlk:"), 0, "{text}");
}

/// Item 19: A pty app's terminal is opened close-on-exec from the start: a
/// fork in another thread of the host can never inherit it. (A shim checks
/// each terminal fd as it is opened.)
#[test]
fn a_pty_is_opened_close_on_exec() {
    let name = "a_pty_is_opened_close_on_exec";
    let dir = TempDir::new("pty-cloexec");
    let report = dir.path().join("report");
    if std::env::var_os("LD_PRELOAD").is_none() {
        let shim = build_shim("pty_cloexec");
        let env = [("LD_PRELOAD", shim.as_os_str()), ("PROCLOOP_SHIM_REPORT", report.as_os_str())];
        in_own_process_with(name, &env);
        return;
    }
    let report = std::env::var_os("PROCLOOP_SHIM_REPORT").unwrap();
    let mut runner = runner_with("tty", App::new("tty").pty(true));
    runner.start("tty").unwrap();
    assert!(read_some(runner.get_channel("tty").unwrap()).unwrap().starts_with(b"/dev/pts/"));
    let found = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(found.is_empty(), "{found}");
}

/// Item 12: `Duration::MAX` as the grace ("never SIGKILL") does not overflow.
#[test]
fn an_endless_grace_does_not_panic() {
    let app = App::new("sleep 1000").termination_grace(Duration::MAX);
    let mut runner = runner_with("sleep", app);
    runner.start_with("sleep", Start::new().alias("a")).unwrap();
    runner.start_with("sleep", Start::new().alias("b")).unwrap();
    assert_eq!(runner.terminate("a").unwrap().signal(), Some(15));
    runner.stop("b").unwrap();
    drop(runner);
}

/// Item 13: A setpgrp child that moves itself to another process group still
/// gets `terminate`'s signals.
#[test]
fn a_child_that_left_its_group_is_still_terminated() {
    let script = "import os, sys, time; os.setpgid(0, os.getpgid(os.getppid())); print('moved', flush=True); time.sleep(1000)";
    let mut runner =
        runner_with("mover", App::new("python3 -c").setpgrp(true).termination_grace(Duration::from_secs(60)));
    runner.start_with("mover", Start::new().args([script])).unwrap();
    assert!(read_some(runner.get_channel("mover").unwrap()).unwrap().starts_with(b"moved"));
    assert_eq!(runner.terminate("mover").unwrap().signal(), Some(15));
}

/// Item 14: A server that ran out of fds in `accept` accepts the clients already
/// waiting once fds are back, without a new client.
#[test]
fn a_server_accepts_waiting_clients_after_running_out_of_fds() {
    if !in_own_process("a_server_accepts_waiting_clients_after_running_out_of_fds") {
        return;
    }
    let few = nix::sys::resource::Resource::RLIMIT_NOFILE;
    nix::sys::resource::setrlimit(few, 64, 64).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    reactor.add_server(listener).unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
    // Take every fd left.
    let mut hoard = Vec::new();
    while let Ok(fd) = std::fs::File::open("/dev/null") {
        hoard.push(fd);
    }
    let mut accepted = 0;
    reactor
        .poll_once(Some(Duration::from_millis(50)), |_, e| {
            accepted += usize::from(matches!(e, ReactorEvent::Accepted { .. }))
        })
        .unwrap();
    assert_eq!(accepted, 0, "no fd for the client yet");
    hoard.clear();
    let deadline = Instant::now() + DEADLINE;
    while accepted == 0 {
        assert!(Instant::now() < deadline, "the waiting client was never accepted");
        reactor
            .poll_once(Some(Duration::from_millis(200)), |_, e| {
                accepted += usize::from(matches!(e, ReactorEvent::Accepted { .. }))
            })
            .unwrap();
    }
}

/// Item 15: Settings the OS would take wrongly or reject vaguely are typed
/// errors that name the setting, and nothing starts.
#[test]
fn bad_settings_are_named() {
    let cases: Vec<(App, Start, &str)> = vec![
        (
            App::new("true").env("A=B", "C"),
            Start::new(),
            "environment variable \"A=B\": its name contains '='",
        ),
        (App::new("true").env("", "V"), Start::new(), "environment variable \"\": its name is empty"),
        (App::new("true").env("K", "a\0b"), Start::new(), "the value of environment variable \"K\""),
        (App::new("true"), Start::new().args(["a\0b"]), "argument \"a\\0b\""),
        (App::new("true").cwd("/tmp/a\0b"), Start::new(), "working directory"),
    ];
    for (app, start, named) in cases {
        let mut runner = runner_with("app", app);
        let err = runner.start_with("app", start).unwrap_err();
        assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
        assert!(err.to_string().contains(named), "{err} does not name {named}");
        assert_eq!(runner.aliases().count(), 0);
    }
    let mut runner = runner_with("sock", App::new("true").socket(""));
    let err = runner.start("sock").unwrap_err();
    assert!(matches!(&err, Error::InvalidSocketPath { reason, .. } if reason.contains("empty")), "{err:?}");
}

/// Item 16: A live socket of another server at an app's socket path is left
/// alone: the start is refused, and the server goes on.
#[test]
fn a_live_socket_at_the_path_is_not_deleted() {
    let dir = TempDir::new("live-socket");
    let path = dir.path().join("socket");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut runner = runner_with("socat", App::new("socat SYSTEM:cat UNIX-LISTEN:socket").socket(&path));
    let err = runner.start("socat").unwrap_err();
    assert!(matches!(&err, Error::SocketPathTaken { found, .. } if found.contains("live")), "{err:?}");
    let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    // The probe's own connection is first in the backlog, then this client.
    assert!(listener.accept().is_ok());
}

/// Item 17: A timer due in the same wait can be cancelled from an earlier
/// timer's handler: then it is not handed over.
#[test]
fn a_due_timer_cancelled_by_an_earlier_one_does_not_fire() {
    let mut runner = Runner::new().unwrap();
    // Both due at the next wait, handed over in the order they were set.
    let first = runner.set_timer(Duration::ZERO);
    let second = runner.set_timer(Duration::ZERO);
    let mut fired = Vec::new();
    let mut cancelled = None;
    runner
        .poll_once(Some(Duration::ZERO), |runner, event| {
            if let Event::Timer { id } = event {
                fired.push(id);
                if id == first {
                    cancelled = Some(runner.cancel_timer(second));
                }
            }
        })
        .unwrap();
    runner.poll_once(Some(Duration::from_millis(20)), |_, e| panic!("{e:?}")).unwrap();
    assert_eq!(fired, [first]);
    assert_eq!(cancelled, Some(true));
}
