//! A minimal hand-written mio loop: std `Command`, non-blocking pipes and a
//! pidfd per child in one `mio::Poll`. The floor a mio-based library can
//! reach.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::util::*;

pub fn run(scenario: &Scenario) -> Metrics {
    match scenario {
        Scenario::Spawn { n, in_flight, program } => spawn(*n, *in_flight, program),
        Scenario::Fanout { n } => fanout(*n),
        Scenario::Throughput { bytes } => throughput(*bytes),
        Scenario::PingPong { rounds } => ping_pong(*rounds),
        Scenario::Lines { n } => lines(*n),
        Scenario::Frame { n, faults: false } => frame(*n),
        Scenario::Frame { faults: true, .. } => unreachable!("the faults scenario does not run the mio loop"),
    }
}

fn pidfd(child: &Child) -> OwnedFd {
    // SAFETY: pidfd_open returns a new fd (checked) that we then own.
    unsafe {
        let fd = nix::libc::syscall(nix::libc::SYS_pidfd_open, child.id() as i32, 0);
        assert!(fd >= 0, "pidfd_open");
        OwnedFd::from_raw_fd(fd as RawFd)
    }
}

fn nonblocking(fd: RawFd) {
    // SAFETY: F_SETFL on an fd we own.
    assert_eq!(unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFL, nix::libc::O_NONBLOCK) }, 0);
}

fn register(poll: &Poll, fd: RawFd, token: usize, interest: Interest) {
    poll.registry().register(&mut SourceFd(&fd), Token(token), interest).unwrap();
}

/// One child of the spawn scenario.
struct Spawned {
    child: Child,
    _pidfd: OwnedFd,
    exited: bool,
    eof: bool,
}

/// What a library must do per child, as the floor: non-blocking pipes,
/// stdout watched and read to its end, the pidfd watched (a closed pidfd
/// leaves the poll by itself); a child is done at both its exit and its
/// end of stream, which may come in either order.
fn spawn(n: usize, in_flight: usize, program: &str) -> Metrics {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Spawned>> = (0..in_flight).map(|_| None).collect();
    let start_one = |slot: usize, poll: &Poll| {
        let child = Command::new(program).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.as_ref().unwrap().as_raw_fd();
        nonblocking(child.stdin.as_ref().unwrap().as_raw_fd());
        nonblocking(stdout);
        register(poll, stdout, 2 * slot, Interest::READABLE);
        let pidfd = pidfd(&child);
        register(poll, pidfd.as_raw_fd(), 2 * slot + 1, Interest::READABLE);
        Spawned { child, _pidfd: pidfd, exited: false, eof: false }
    };
    let timer = Timer::start();
    let mut started = 0;
    for (slot, entry) in slots.iter_mut().enumerate().take(n) {
        *entry = Some(start_one(slot, &poll));
        started += 1;
    }
    let mut done = 0;
    let mut buf = [0u8; 64];
    while done < n {
        poll.poll(&mut events, None).unwrap();
        for event in events.iter() {
            let (slot, is_pidfd) = (event.token().0 / 2, event.token().0 % 2 == 1);
            let Some(spawned) = slots[slot].as_mut() else { continue };
            if is_pidfd {
                spawned.exited = true;
            } else {
                match spawned.child.stdout.as_mut().unwrap().read(&mut buf) {
                    Ok(0) => spawned.eof = true,
                    Ok(_) => panic!("true wrote something"),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            if !(spawned.exited && spawned.eof) {
                continue;
            }
            assert!(spawned.child.wait().unwrap().success());
            slots[slot] = None;
            done += 1;
            if started < n {
                slots[slot] = Some(start_one(slot, &poll));
                started += 1;
            }
        }
    }
    Metrics::rate(n, timer.elapsed())
}

struct Cat {
    child: Child,
    _pidfd: OwnedFd,
    line: Vec<u8>,
    echoed: bool,
}

/// Spawns all N, handling events between spawns with a zero-timeout poll:
/// an echoed child gets its stdin closed, an exited one is reaped.
fn fanout(n: usize) -> Metrics {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let timer = Timer::start();
    let mut cats: Vec<Option<Cat>> = Vec::with_capacity(n);
    let (mut echoed, mut exited) = (0, 0);
    let mut buf = [0u8; 4096];
    let mut handle = |poll: &mut Poll, events: &mut Events, cats: &mut Vec<Option<Cat>>, timeout| {
        poll.poll(events, timeout).unwrap();
        for event in events.iter() {
            let (i, is_pidfd) = (event.token().0 / 2, event.token().0 % 2 == 1);
            let Some(cat) = cats[i].as_mut() else { continue };
            if is_pidfd {
                assert!(cat.child.wait().unwrap().success());
                cats[i] = None;
                exited += 1;
                continue;
            }
            loop {
                match cat.child.stdout.as_mut().unwrap().read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => cat.line.extend_from_slice(&buf[..k]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if !cat.echoed && cat.line.ends_with(b"\n") {
                assert_eq!(cat.line, fanout_line(i));
                cat.echoed = true;
                echoed += 1;
                drop(cat.child.stdin.take());
            }
        }
    };
    for i in 0..n {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.as_ref().unwrap().as_raw_fd();
        nonblocking(stdout);
        register(&poll, stdout, i * 2, Interest::READABLE);
        let pidfd = pidfd(&child);
        register(&poll, pidfd.as_raw_fd(), i * 2 + 1, Interest::READABLE);
        child.stdin.as_mut().unwrap().write_all(&fanout_line(i)).unwrap();
        cats.push(Some(Cat { child, _pidfd: pidfd, line: Vec::new(), echoed: false }));
        handle(&mut poll, &mut events, &mut cats, Some(std::time::Duration::ZERO));
    }
    while cats.iter().any(Option::is_some) {
        handle(&mut poll, &mut events, &mut cats, None);
    }
    assert_eq!((echoed, exited), (n, n));
    Metrics::wall_ms(timer.elapsed())
}

/// One cat with both pipes non-blocking and registered: stdin 0, stdout 1.
fn cat(poll: &Poll) -> Child {
    let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let stdin = child.stdin.as_ref().unwrap().as_raw_fd();
    let stdout = child.stdout.as_ref().unwrap().as_raw_fd();
    nonblocking(stdin);
    nonblocking(stdout);
    register(poll, stdin, 0, Interest::WRITABLE);
    register(poll, stdout, 1, Interest::READABLE);
    child
}

fn throughput(total: usize) -> Metrics {
    let chunk = chunk();
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);
    let mut child = cat(&poll);
    let mut buf = vec![0u8; CHUNK];
    let (mut sent, mut received) = (0, 0);
    let timer = Timer::start();
    while received < total {
        let stdin = child.stdin.as_mut().unwrap();
        while sent < total {
            let end = CHUNK.min(total - sent + sent % CHUNK);
            match stdin.write(&chunk[sent % CHUNK..end]) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let stdout = child.stdout.as_mut().unwrap();
        loop {
            match stdout.read(&mut buf) {
                Ok(k) => {
                    check_stream(&chunk, received, &buf[..k]);
                    received += k;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        if received < total {
            poll.poll(&mut events, None).unwrap();
        }
    }
    let elapsed = timer.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    Metrics::gbps(total, elapsed)
}

fn ping_pong(rounds: usize) -> Metrics {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);
    let mut child = cat(&poll);
    let mut samples = Vec::with_capacity(rounds);
    let mut buf = [0u8; 4096];
    for _ in 0..rounds {
        let start = Instant::now();
        child.stdin.as_mut().unwrap().write_all(LINE).unwrap();
        let mut got = 0;
        while got < LINE.len() {
            match child.stdout.as_mut().unwrap().read(&mut buf[got..]) {
                Ok(k) => got += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => poll.poll(&mut events, None).unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(&buf[..got], LINE);
        samples.push(start.elapsed());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Metrics::latencies(samples)
}

fn lines(n: usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);
    let timer = Timer::start();
    let mut child = Command::new("seq").arg("1").arg(n.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.as_ref().unwrap().as_raw_fd();
    nonblocking(stdout);
    register(&poll, stdout, 1, Interest::READABLE);
    let mut buf = vec![0u8; CHUNK];
    let (mut lines, mut bytes) = (0, 0);
    loop {
        match child.stdout.as_mut().unwrap().read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                lines += memchr::memchr_iter(b'\n', &buf[..k]).count();
                bytes += k;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => poll.poll(&mut events, None).unwrap(),
            Err(e) => panic!("{e}"),
        }
    }
    let elapsed = timer.elapsed();
    assert!(child.wait().unwrap().success());
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    Metrics::mlines(lines, elapsed)
}

/// The frame scenario without faults, as the floor for a loop's memory and
/// turn: each bot's stdout in the poll, one read buffer for all, and per
/// bot only a partial line (allocated while there is one).
fn frame(n: usize) -> Metrics {
    use crate::frame::{self, Ledger, Role};
    let program = frame::bot_program();
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut ledger = Ledger::new(n, false);
    let mut bots: Vec<(Child, Vec<u8>)> = (0..n)
        .map(|i| {
            let child = Command::new(&program)
                .args(Role::Healthy.args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.as_ref().unwrap().as_raw_fd();
            nonblocking(stdout);
            register(&poll, stdout, i, Interest::READABLE);
            (child, Vec::new())
        })
        .collect();
    let mut buf = vec![0u8; 64 * 1024];
    let mut serve =
        |poll: &mut Poll, ledger: &mut Ledger, bots: &mut Vec<(Child, Vec<u8>)>, until: Instant| {
            let timeout = until.saturating_duration_since(Instant::now());
            poll.poll(&mut events, Some(timeout)).unwrap();
            for event in events.iter() {
                let bot = event.token().0;
                let (child, partial) = &mut bots[bot];
                loop {
                    match child.stdout.as_mut().unwrap().read(&mut buf) {
                        Ok(0) => break,
                        Ok(k) => {
                            let mut start = 0;
                            for end in memchr::memchr_iter(b'\n', &buf[..k]) {
                                if partial.is_empty() {
                                    ledger.reply(bot, &buf[start..=end]);
                                } else {
                                    partial.extend_from_slice(&buf[start..=end]);
                                    ledger.reply(bot, partial);
                                    *partial = Vec::new();
                                }
                                start = end + 1;
                            }
                            partial.extend_from_slice(&buf[start..k]);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        };
    for turn in 0..Ledger::turns() {
        ledger.begin_turn(turn);
        let deadline = ledger.start() + frame::DEADLINE;
        for (i, (child, _)) in bots.iter_mut().enumerate() {
            if let Some(line) = ledger.line(i) {
                child.stdin.as_mut().unwrap().write_all(&line).unwrap();
            }
        }
        ledger.written();
        while Instant::now() < deadline {
            serve(&mut poll, &mut ledger, &mut bots, deadline);
        }
        ledger.end_turn();
    }
    let drain = Instant::now() + frame::DRAIN;
    while !ledger.settled() && Instant::now() < drain {
        serve(&mut poll, &mut ledger, &mut bots, drain);
    }
    for (mut child, _) in bots {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
    ledger.finish()
}
