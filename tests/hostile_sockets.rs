//! A hostile pass over sockets and their neighbours: the Reactor's
//! listeners (floods, half-closes, a listener removed with clients
//! queued), socket apps that die or never listen, restart policies at
//! their edges, and wakers used from other threads.

mod util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use procloop::{App, PeerAddr, Reactor, ReactorEvent, Restart, Start, Stderr};
use util::*;

fn accepted(seen: &[Seen]) -> Vec<procloop::Token> {
    seen.iter()
        .filter_map(|s| if let Seen::Accepted { client, .. } = s { Some(*client) } else { None })
        .collect()
}

/// A flood of clients that each write one line and half-close at once:
/// every one is accepted, its line and its end of stream come, and the
/// reply written after that end still reaches the client.
#[test]
fn a_flood_of_half_closing_clients_is_answered_after_their_end() {
    let dir = TempDir::new("flood");
    let path = dir.path().join("server");
    let mut reactor = Reactor::new().unwrap();
    reactor.add_server(UnixListener::bind(&path).unwrap()).unwrap();
    const CLIENTS: usize = 200;
    let clients: Vec<UnixStream> = (0..CLIENTS)
        .map(|i| {
            let mut client = UnixStream::connect(&path).unwrap();
            client.write_all(format!("client {i}\n").as_bytes()).unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            client
        })
        .collect();
    let seen = poll_until(&mut reactor, |seen| {
        seen.iter().filter(|s| matches!(s, Seen::Closed(_))).count() == CLIENTS
    });
    let tokens = accepted(&seen);
    assert_eq!(tokens.len(), CLIENTS);
    let mut lines: Vec<String> =
        tokens.iter().map(|t| String::from_utf8(data_of(&seen, *t)).unwrap()).collect();
    lines.sort();
    let mut expected: Vec<String> = (0..CLIENTS).map(|i| format!("client {i}\n")).collect();
    expected.sort();
    assert_eq!(lines, expected);
    for token in &tokens {
        let channel = reactor.channel(*token).expect("a half-closed client stays registered");
        let line = data_of(&seen, *token);
        channel.write(&line).unwrap();
        channel.close_write();
    }
    for mut client in clients {
        let mut reply = Vec::new();
        // The reactor flushes in its loop; poll while reading.
        let deadline = std::time::Instant::now() + DEADLINE;
        client.set_nonblocking(true).unwrap();
        loop {
            reactor.poll_once(Some(Duration::from_millis(10)), |_, _| {}).unwrap();
            let mut buf = [0u8; 64];
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(std::time::Instant::now() < deadline, "no reply; got {reply:?}");
        }
        assert!(reply.starts_with(b"client "), "{reply:?}");
    }
}

/// Clients that connect and close before the first poll are accepted
/// and closed, each once; none is lost, none is left registered.
#[test]
fn clients_that_close_at_once_each_give_one_closed() {
    let mut reactor = Reactor::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = reactor.add_server(listener).unwrap();
    for _ in 0..100 {
        drop(TcpStream::connect(addr).unwrap());
    }
    let seen =
        poll_until(&mut reactor, |seen| seen.iter().filter(|s| matches!(s, Seen::Closed(_))).count() == 100);
    let tokens = accepted(&seen);
    assert_eq!(tokens.len(), 100);
    for token in tokens {
        assert_eq!(seen.iter().filter(|s| **s == Seen::Closed(token)).count(), 1);
        assert!(data_of(&seen, token).is_empty());
        reactor.unregister(token).unwrap();
    }
    assert!(reactor.remove_server(server).is_some());
    assert!(reactor.is_empty(), "only the server's clients were registered");
}

/// `PeerAddr` of a TCP client is the client's own address.
#[test]
fn a_tcp_peer_address_is_the_clients_own() {
    let mut reactor = Reactor::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    reactor.add_server(listener).unwrap();
    let client = TcpStream::connect(addr).unwrap();
    let mut peer = None;
    let deadline = std::time::Instant::now() + DEADLINE;
    while peer.is_none() {
        assert!(std::time::Instant::now() < deadline, "no Accepted");
        reactor
            .poll_once(Some(Duration::from_millis(100)), |_, event| {
                if let ReactorEvent::Accepted { peer: p, .. } = event {
                    peer = Some(p);
                }
            })
            .unwrap();
    }
    match peer.unwrap() {
        PeerAddr::Tcp(at) => assert_eq!(at, client.local_addr().unwrap()),
        other => panic!("not a TCP peer: {other:?}"),
    }
}

/// A server removed while clients wait in its backlog hands them back
/// with its listener: added again, it accepts every one of them.
#[test]
fn a_server_removed_with_clients_queued_accepts_them_when_added_again() {
    let dir = TempDir::new("requeue");
    let path = dir.path().join("server");
    let mut reactor = Reactor::new().unwrap();
    let server = reactor.add_server(UnixListener::bind(&path).unwrap()).unwrap();
    let _clients: Vec<UnixStream> = (0..5).map(|_| UnixStream::connect(&path).unwrap()).collect();
    let listener = reactor.remove_server(server).unwrap();
    assert!(reactor.remove_server(server).is_none(), "removed once");
    reactor
        .poll_once(Some(Duration::ZERO), |_, e| panic!("an event of a removed server: {:?}", own(e)))
        .unwrap();
    let again = reactor.add_server(listener).unwrap();
    assert_ne!(again, server);
    let seen = poll_until(&mut reactor, |seen| accepted(seen).len() == 5);
    assert!(seen.iter().all(|s| matches!(s, Seen::Accepted { server, .. } if *server == again)), "{seen:?}");
}

/// A socket app that listens, is `Ready`, then dies: its channel closes
/// after its last byte and its exit comes; the alias stays, exited.
#[test]
fn a_socket_app_that_dies_after_ready_closes_and_exits() {
    let dir = TempDir::new("dies");
    let script = "socat UNIX-LISTEN:sock SYSTEM:'echo bye'";
    let script = format!("sh -c \"{script}; exit 3\"");
    let app = App::new(script).socket("sock").cwd(dir.path()).socket_wait(DEADLINE).stderr(Stderr::Null);
    let mut runner = runner_with("dies", app);
    runner.start_with("dies", Start::new().nowait()).unwrap();
    let got =
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..) | Got::StartFailed(..))));
    assert!(got.contains(&Got::Ready("dies".into())), "{got:?}");
    assert!(got.contains(&Got::Exited("dies".into(), Some(3))), "{got:?}");
    assert!(got.contains(&Got::Closed("dies".into())), "{got:?}");
    assert_eq!(output_of(&got, "dies"), b"bye\n");
    assert_eq!(runner.exit_status("dies").and_then(|s| s.code()), Some(3));
}

/// A socket app that never listens, stopped while the loop connects:
/// `wait_ready` says it will never connect, the process is gone, and no
/// `Ready` or `StartFailed` comes later.
#[test]
fn terminating_a_socket_app_that_never_listens_ends_its_wait() {
    let dir = TempDir::new("never");
    let app = App::new("sleep 60").socket("sock").cwd(dir.path()).socket_wait(DEADLINE);
    let mut runner = runner_with("never", app);
    runner.start_with("never", Start::new().nowait()).unwrap();
    let pid = runner.pid("never").unwrap();
    assert!(!runner.wait_ready("never", Duration::from_millis(20)).unwrap());
    runner.terminate("never").unwrap();
    wait_for("the app to end", || pid_state(pid).is_none_or(|s| s == 'Z'));
    assert!(runner.wait_ready("never", Duration::from_millis(20)).is_err());
    for _ in 0..5 {
        runner
            .poll_once(Some(Duration::from_millis(20)), |_, e| {
                let got = own_runner(e);
                assert!(!matches!(got, Got::Ready(_) | Got::StartFailed(..)), "{got:?}");
            })
            .unwrap();
    }
}

/// A crash loop of 1,000 fast failing runs with no backoff: exactly the
/// allowed restarts happen, then `GaveUp`; another app echoes meanwhile.
#[test]
fn a_crash_loop_of_a_thousand_runs_gives_up_at_its_budget() {
    const RESTARTS: u32 = 1000;
    let app = App::new("false")
        .restart(Restart::OnFailure)
        .backoff(Duration::ZERO, Duration::ZERO)
        .max_restarts(RESTARTS, Duration::from_secs(3600));
    let mut runner = runner_with("crash", app);
    runner.add("cat", App::new("cat"));
    runner.start("cat").unwrap();
    runner.start("crash").unwrap();
    runner.get_channel("cat").unwrap().write(b"during").unwrap();
    let got = run_until_within(&mut runner, Duration::from_secs(120), |got| {
        got.iter().any(|g| matches!(g, Got::GaveUp(..)))
    });
    let restarts = got.iter().filter(|g| matches!(g, Got::Restarted(..))).count();
    assert_eq!(restarts, RESTARTS as usize);
    assert!(got.contains(&Got::GaveUp("crash".into(), Some(1))), "{:?}", &got[got.len().saturating_sub(3)..]);
    if output_of(&got, "cat") != b"during" {
        run_until(&mut runner, |got| output_of(got, "cat") == b"during");
    }
    runner.terminate_all();
}

/// A backoff of `Duration::MAX` is a restart that waits (no overflow, no
/// panic); terminating the alias then ends it without another run.
#[test]
fn a_backoff_of_duration_max_waits_and_can_be_terminated() {
    let app = App::new("false").restart(Restart::Always).backoff(Duration::MAX, Duration::MAX);
    let mut runner = runner_with("slow", app);
    runner.start("slow").unwrap();
    let got = run_until(&mut runner, |got| {
        got.contains(&Got::Exited("slow".into(), Some(1))) && got.contains(&Got::Closed("slow".into()))
    });
    assert!(!got.iter().any(|g| matches!(g, Got::Restarted(..))), "{got:?}");
    runner.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("{:?}", own_runner(e))).unwrap();
    runner.terminate("slow").unwrap();
    assert_eq!(runner.aliases().count(), 0, "the pending restart is dropped with the alias");
}

/// `max_restarts(0, ..)` gives up at the first failure.
#[test]
fn no_restarts_allowed_gives_up_at_once() {
    let app = App::new("sh -c 'exit 4'").restart(Restart::Always).max_restarts(0, Duration::from_secs(60));
    let mut runner = runner_with("none", app);
    runner.start("none").unwrap();
    let got =
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::GaveUp(..) | Got::Restarted(..))));
    assert!(got.contains(&Got::GaveUp("none".into(), Some(4))), "{got:?}");
}

/// A wake from inside the handler makes the next unbounded wait return.
#[test]
fn a_wake_during_a_handler_ends_the_next_wait() {
    let mut reactor = Reactor::new().unwrap();
    let waker = reactor.waker().unwrap();
    let timer = reactor.set_timer(Duration::ZERO);
    let mut fired = false;
    while !fired {
        reactor
            .poll_once(Some(DEADLINE), |_, event| {
                if let ReactorEvent::Timer { id } = event {
                    assert_eq!(id, timer);
                    fired = true;
                    waker.wake().unwrap();
                }
            })
            .unwrap();
    }
    let (sent, got) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        reactor.poll_once(None, |_, _| {}).unwrap();
        sent.send(()).unwrap();
    });
    got.recv_timeout(DEADLINE).expect("a wake during the handler was lost");
    thread.join().unwrap();
}

/// Many threads waking many times while the loop polls: no error, and a
/// wake after the flood still ends an unbounded wait.
#[test]
fn a_flood_of_wakes_from_threads_leaves_the_waker_working() {
    let mut reactor = Reactor::new().unwrap();
    let waker = reactor.waker().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let waker = waker.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    waker.wake().unwrap();
                }
            })
        })
        .collect();
    while !threads.iter().all(|t| t.is_finished()) {
        reactor.poll_once(Some(Duration::from_millis(10)), |_, _| {}).unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
    let (sent, got) = std::sync::mpsc::channel();
    let poller = std::thread::spawn(move || {
        reactor.poll_once(None, |_, _| {}).unwrap();
        sent.send(()).unwrap();
    });
    let waking = std::thread::spawn(move || {
        // The waiting thread may not wait yet: wake until it returns.
        while got.recv_timeout(Duration::from_millis(50)).is_err() {
            waker.wake().unwrap();
        }
    });
    waking.join().unwrap();
    poller.join().unwrap();
}

/// A pty app that closes its terminal but runs on: its channel closes
/// after its last byte, and its exit still comes later.
#[test]
fn a_pty_app_that_closes_its_terminal_closes_then_exits() {
    let dir = TempDir::new("pty-close");
    let script = "sh -c 'echo hi; exec 0<&- 1>&- 2>&-; while [ ! -e go ]; do sleep 0.01; done; exit 6'";
    let mut runner = runner_with("tty", App::new(script).pty(true).cwd(dir.path()));
    runner.start("tty").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Closed(_) | Got::Exited(..))));
    assert_eq!(got.last(), Some(&Got::Closed("tty".into())), "{got:?}");
    assert_eq!(output_of(&got, "tty"), b"hi\r\n");
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert_eq!(got, [Got::Exited("tty".into(), Some(6))]);
}

/// A pty app that writes far more than the terminal holds and exits at
/// once: every byte comes before its exit.
#[test]
fn a_pty_apps_output_written_just_before_its_exit_all_comes() {
    let script = "sh -c 'head -c 300000 /dev/zero | tr \"\\0\" x; exit 5'";
    let mut runner = runner_with("tty", App::new(script).pty(true));
    runner.start("tty").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let out = output_of(&got, "tty");
    assert_eq!(out.len(), 300_000, "bytes lost");
    assert!(out.iter().all(|b| *b == b'x'));
    assert_eq!(got.last(), Some(&Got::Exited("tty".into(), Some(5))));
}

/// A socket app whose listener is a descendant in its own process group:
/// when the leader alone is killed, the restart still gets a socket that
/// answers (the old listener is not mistaken for a live stranger).
#[test]
fn a_restart_after_only_the_leader_died_gets_a_working_socket() {
    let dir = TempDir::new("leader-died");
    let script = "sh -c '(socat SYSTEM:cat UNIX-LISTEN:sock &); exec sleep 60'";
    let app = App::new(script)
        .socket("sock")
        .cwd(dir.path())
        .setpgrp(true)
        .socket_wait(DEADLINE)
        .stderr(Stderr::Null)
        .restart(Restart::Always)
        .backoff(Duration::from_millis(10), Duration::from_millis(10));
    let mut runner = runner_with("group", app);
    runner.start("group").unwrap();
    let leader = runner.pid("group").unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(leader as i32), nix::sys::signal::SIGKILL).unwrap();
    let got =
        run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Restarted(..) | Got::GaveUp(..))));
    assert!(got.iter().any(|g| matches!(g, Got::Restarted(..))), "{got:?}");
    runner.get_channel("group").unwrap().write(b"new").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "group").len() >= 3);
    assert_eq!(output_of(&got, "group"), b"new");
    runner.terminate_all();
}

/// Far more input than a terminal buffers, written to a pty app at once
/// and closed: every byte reaches the program, and the end of input (the
/// terminal's EOF character) comes after the last of them.
#[test]
fn a_pty_app_gets_every_byte_of_a_write_larger_than_the_terminal() {
    let script = "sh -c 'stty -echo; echo ready; exec wc -c'";
    let mut runner = runner_with("tty", App::new(script).pty(true));
    runner.start("tty").unwrap();
    run_until(&mut runner, |got| output_of(got, "tty").ends_with(b"ready\r\n"));
    let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
    let channel = runner.get_channel("tty").unwrap();
    for _ in 0..2000 {
        channel.write(&line).unwrap();
    }
    channel.close_write();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    let out = String::from_utf8(output_of(&got, "tty")).unwrap();
    assert_eq!(out.trim(), "200000");
    assert!(got.contains(&Got::Exited("tty".into(), Some(0))), "{got:?}");
}

/// A socket app whose first run binds at once and whose later runs never
/// bind: a restarted run stays connecting.
fn binds_only_first(dir: &std::path::Path) -> App {
    let script = "sh -c 'echo run >> runs; if [ $(wc -l < runs) -gt 1 ]; then exec sleep 60; fi; \
                  exec socat SYSTEM:cat UNIX-LISTEN:sock'";
    App::new(script)
        .socket("sock")
        .cwd(dir)
        .socket_wait(DEADLINE)
        .restart(Restart::Always)
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
}

/// Kills the first run and polls until the restarted run is launched.
fn restart_into_connecting(runner: &mut procloop::Runner, alias: &str) -> Vec<Got> {
    let old = runner.pid(alias).unwrap();
    runner.signal(alias, procloop::Signal::SIGKILL).unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while runner.pid(alias) == Some(old) {
        assert!(std::time::Instant::now() < deadline, "no restart: {got:?}");
        runner.poll_once(Some(Duration::from_millis(50)), |_, e| got.push(own_runner(e))).unwrap();
    }
    got
}

/// Stopping a restarted socket app while the loop connects to it ends
/// the run for good: it is not restarted again, and neither `Restarted`
/// nor `GaveUp` comes for it.
#[test]
fn stopping_a_restarted_run_while_it_connects_ends_it_for_good() {
    let dir = TempDir::new("stop-connecting");
    let mut runner = runner_with("sock", binds_only_first(dir.path()));
    runner.start("sock").unwrap();
    restart_into_connecting(&mut runner, "sock");
    let pid = runner.pid("sock").unwrap();
    runner.stop("sock").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    assert!(pid_state(pid).is_none_or(|s| s == 'Z'));
    let mut more = Vec::new();
    for _ in 0..5 {
        runner.poll_once(Some(Duration::from_millis(20)), |_, e| more.push(own_runner(e))).unwrap();
    }
    let all = [got, more].concat();
    assert!(
        !all.iter().any(|g| matches!(g, Got::Restarted(..) | Got::GaveUp(..) | Got::StartFailed(..))),
        "{all:?}"
    );
    assert_eq!(all.iter().filter(|g| matches!(g, Got::Exited(..))).count(), 1, "{all:?}");
    assert_eq!(runner.pid("sock"), Some(pid), "not restarted again");
    assert_eq!(std::fs::read_to_string(dir.path().join("runs")).unwrap().lines().count(), 2);
    runner.terminate("sock").unwrap();
}

/// Terminating a restarted socket app while the loop connects to it
/// frees the alias at once, and nothing of it comes later.
#[test]
fn terminating_a_restarted_run_while_it_connects_leaves_nothing() {
    let dir = TempDir::new("terminate-connecting");
    let mut runner = runner_with("sock", binds_only_first(dir.path()));
    runner.start("sock").unwrap();
    restart_into_connecting(&mut runner, "sock");
    let pid = runner.pid("sock").unwrap();
    runner.terminate("sock").unwrap();
    assert_eq!(runner.aliases().count(), 0);
    assert!(pid_state(pid).is_none_or(|s| s == 'Z'), "the run was reaped or is a zombie of PID 1");
    let mut more = Vec::new();
    for _ in 0..5 {
        runner.poll_once(Some(Duration::from_millis(20)), |_, e| more.push(own_runner(e))).unwrap();
    }
    assert!(more.iter().all(|g| matches!(g, Got::Closed(_))), "{more:?}");
    assert_eq!(std::fs::read_to_string(dir.path().join("runs")).unwrap().lines().count(), 2);
}

/// A server that binds and listens, then daemonizes (its listening
/// process forks and exits; the child serves on the same socket) is the
/// app's own socket, not an impostor's.
#[test]
fn a_socket_app_that_listens_then_daemonizes_is_its_own() {
    let dir = TempDir::new("daemonizes");
    let server = "import os, socket\n\
                  s = socket.socket(socket.AF_UNIX); s.bind('sock'); s.listen(8)\n\
                  if os.fork(): os._exit(0)\n\
                  c, _ = s.accept()\n\
                  while True:\n\
                  \x20   b = c.recv(100)\n\
                  \x20   if not b: break\n\
                  \x20   c.sendall(b)\n";
    std::fs::write(dir.path().join("server.py"), server).unwrap();
    let script = "sh -c 'python3 server.py; exec sleep 60'";
    let app = App::new(script).socket("sock").cwd(dir.path()).socket_wait(DEADLINE).setpgrp(true);
    let mut runner = runner_with("daemon", app);
    runner.start("daemon").unwrap();
    runner.get_channel("daemon").unwrap().write(b"mine").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "daemon").len() >= 4);
    assert_eq!(output_of(&got, "daemon"), b"mine");
    runner.terminate_all();
}

/// A flood of clients that connect while the process has no fd left:
/// once fds are back, every one of them is accepted, with no new client.
#[test]
fn a_flood_of_clients_during_emfile_is_accepted_once_fds_are_back() {
    if !in_own_process("a_flood_of_clients_during_emfile_is_accepted_once_fds_are_back") {
        return;
    }
    let dir = TempDir::new("emfile-flood");
    let path = dir.path().join("server");
    let few = nix::sys::resource::Resource::RLIMIT_NOFILE;
    nix::sys::resource::setrlimit(few, 128, 128).unwrap();
    let mut reactor = Reactor::new().unwrap();
    reactor.add_server(UnixListener::bind(&path).unwrap()).unwrap();
    let clients: Vec<UnixStream> = (0..30).map(|_| UnixStream::connect(&path).unwrap()).collect();
    let mut hoard = Vec::new();
    while let Ok(fd) = std::fs::File::open("/dev/null") {
        hoard.push(fd);
    }
    let mut seen = Vec::new();
    reactor.poll_once(Some(Duration::from_millis(20)), |_, e| seen.push(own(e))).unwrap();
    assert!(accepted(&seen).is_empty(), "no fd for a client: {seen:?}");
    hoard.clear();
    let seen = poll_until(&mut reactor, |seen| accepted(seen).len() == clients.len());
    assert_eq!(accepted(&seen).len(), 30);
}

/// `PeerAddr` of a UNIX client that bound no path is an unnamed one.
#[test]
fn a_unix_peer_address_of_an_unbound_client_is_unnamed() {
    let dir = TempDir::new("unix-peer");
    let path = dir.path().join("server");
    let mut reactor = Reactor::new().unwrap();
    reactor.add_server(UnixListener::bind(&path).unwrap()).unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    let mut peer = None;
    let deadline = std::time::Instant::now() + DEADLINE;
    while peer.is_none() {
        assert!(std::time::Instant::now() < deadline, "no Accepted");
        reactor
            .poll_once(Some(Duration::from_millis(50)), |_, event| {
                if let ReactorEvent::Accepted { peer: p, .. } = event {
                    peer = Some(p);
                }
            })
            .unwrap();
    }
    match peer.unwrap() {
        PeerAddr::Unix(addr) => assert!(addr.is_unnamed(), "{addr:?}"),
        other => panic!("not a UNIX peer: {other:?}"),
    }
}

/// `Restart::Always` restarts clean exits too, and gives up with the
/// last clean status once its budget is used.
#[test]
fn always_restarts_clean_exits_until_its_budget() {
    let app = App::new("true")
        .restart(Restart::Always)
        .backoff(Duration::ZERO, Duration::ZERO)
        .max_restarts(3, Duration::from_secs(3600));
    let mut runner = runner_with("clean", app);
    runner.start("clean").unwrap();
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::GaveUp(..))));
    let theirs: Vec<&Got> = got.iter().filter(|g| !matches!(g, Got::Closed(_))).collect();
    let exited = Got::Exited("clean".into(), Some(0));
    let restarted = Got::Restarted("clean".into(), Some(0));
    let expected = [&exited, &restarted, &exited, &restarted, &exited, &restarted, &exited];
    assert_eq!(theirs[..7], expected, "{got:?}");
    assert_eq!(theirs[7], &Got::GaveUp("clean".into(), Some(0)));
}

/// A socket path of exactly the 107 bytes an address holds works; one
/// byte more is refused by name before anything starts.
#[test]
fn a_socket_path_at_the_address_limit_works_and_one_more_byte_is_named() {
    let dir = TempDir::new("limit");
    let base = dir.path().display().to_string().len() + 1;
    let fits = dir.path().join("s".repeat(107 - base));
    let over = dir.path().join("o".repeat(108 - base));
    assert_eq!((fits.as_os_str().len(), over.as_os_str().len()), (107, 108));
    let listen = |path: &std::path::Path| {
        App::new(format!("socat SYSTEM:cat UNIX-LISTEN:{}", path.display()))
            .socket(path)
            .socket_wait(DEADLINE)
    };
    let mut runner = runner_with("fits", listen(&fits));
    runner.add("over", listen(&over));
    runner.start("fits").unwrap();
    runner.get_channel("fits").unwrap().write(b"edge").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "fits").len() >= 4);
    assert_eq!(output_of(&got, "fits"), b"edge");
    let err = runner.start("over").unwrap_err();
    assert!(matches!(err, procloop::Error::InvalidSocketPath { .. }), "{err:?}");
    assert!(err.to_string().contains("107"), "{err}");
    assert_eq!(runner.aliases().collect::<Vec<_>>(), ["fits"]);
    runner.terminate_all();
}
