//! The Reactor: waiting, data, accept, close, unregister, backpressure.

mod util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procloop::testing::TestChannel;
use procloop::{Channel, Reactor};
use util::*;

#[test]
fn poll_none_with_nothing_registered_blocks_until_woken() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let waker = reactor.waker().unwrap();
    let (returned_tx, returned_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let n = reactor.poll_once(None, |_, _| {}).unwrap();
        returned_tx.send(n).unwrap();
    });
    // Still blocked after a while: nothing arrives on the channel.
    assert!(returned_rx.recv_timeout(Duration::from_millis(300)).is_err());
    waker.wake().unwrap();
    assert_eq!(returned_rx.recv_timeout(DEADLINE).unwrap(), 0);
    waiter.join().unwrap();
}

#[test]
fn timed_poll_returns_no_events_after_its_timeout() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, _test) = TestChannel::pair();
    reactor.register(channel).unwrap();
    let start = Instant::now();
    let n = reactor.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("{e:?}")).unwrap();
    assert_eq!(n, 0);
    assert!(start.elapsed() >= Duration::from_millis(45));
}

#[test]
fn zero_timeout_never_blocks_and_hands_nothing_without_data() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, _test) = TestChannel::pair();
    reactor.register(channel).unwrap();
    for _ in 0..3 {
        assert_eq!(reactor.poll_once(Some(Duration::ZERO), |_, e| panic!("{e:?}")).unwrap(), 0);
    }
}

#[test]
fn data_event_carries_the_bytes_and_consumes_them() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    test.put(b"hello");
    let seen = poll_until(&mut reactor, |s| data_of(s, token).len() == 5);
    assert_eq!(data_of(&seen, token), b"hello");
    assert_eq!(reactor.channel(token).unwrap().read().unwrap(), b"", "consumed");
}

#[test]
fn line_buffered_channel_hands_one_line_per_event() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel.line_buffered()).unwrap();
    test.put(b"one\ntwo\nthr");
    let seen = poll_until(&mut reactor, |s| s.len() == 2);
    assert_eq!(seen, [Seen::Data(token, b"one\n".to_vec()), Seen::Data(token, b"two\n".to_vec())]);
    test.put(b"ee\n");
    let seen = poll_until(&mut reactor, |s| !s.is_empty());
    assert_eq!(seen, [Seen::Data(token, b"three\n".to_vec())]);
}

#[test]
fn closed_comes_once_after_the_last_byte() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel.line_buffered()).unwrap();
    test.put(b"a\nb");
    test.close();
    let seen = poll_until(&mut reactor, |s| s.contains(&Seen::Closed(token)));
    assert_eq!(
        seen,
        [Seen::Data(token, b"a\n".to_vec()), Seen::Data(token, b"b".to_vec()), Seen::Closed(token)]
    );
    assert_eq!(reactor.poll_once(Some(Duration::from_millis(20)), |_, _| {}).unwrap(), 0);
}

#[test]
fn short_lived_writer_is_read_to_end() {
    // A writer that writes a little and hangs up at once must not leave the
    // loop waiting: the hang-up arrives with the data.
    let mut reactor = Reactor::new().unwrap();
    let (read, write) = std::io::pipe().unwrap();
    let token = reactor.register(Channel::from_pipe(Some(read.into()), None).unwrap()).unwrap();
    let mut write = write;
    write.write_all(b"1\n2\n3\n").unwrap();
    drop(write);
    let seen = poll_until(&mut reactor, |s| s.contains(&Seen::Closed(token)));
    assert_eq!(data_of(&seen, token), b"1\n2\n3\n");
}

#[test]
fn accepts_tcp_client_then_data_then_closed() {
    let mut reactor = Reactor::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = reactor.add_server(listener).unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let seen = poll_until(&mut reactor, |s| !s.is_empty());
    let Seen::Accepted { server: s, client: token } = seen[0] else { panic!("{seen:?}") };
    assert_eq!(s, server);
    client.write_all(b"over tcp").unwrap();
    let seen = poll_until(&mut reactor, |s| data_of(s, token).len() == 8);
    assert_eq!(data_of(&seen, token), b"over tcp");
    reactor.channel(token).unwrap().write(b"back").unwrap();
    let mut back = [0u8; 4];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");
    drop(client);
    poll_until(&mut reactor, |s| s.contains(&Seen::Closed(token)));
}

#[test]
fn accepts_unix_client_with_its_address() {
    let dir = std::env::temp_dir().join(format!("procloop-accept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let mut reactor = Reactor::new().unwrap();
    let server = reactor.add_server(UnixListener::bind(&path).unwrap()).unwrap();
    let mut client = UnixStream::connect(&path).unwrap();
    let mut peer = None;
    let deadline = Instant::now() + DEADLINE;
    while peer.is_none() {
        assert!(Instant::now() < deadline);
        reactor
            .poll_once(Some(Duration::from_millis(100)), |_, e| {
                if let procloop::ReactorEvent::Accepted { server: s, client, peer: p } = e {
                    assert_eq!(s, server);
                    peer = Some((client, p));
                }
            })
            .unwrap();
    }
    let (token, addr) = peer.unwrap();
    assert!(matches!(addr, procloop::PeerAddr::Unix(_)));
    client.write_all(b"hi").unwrap();
    let seen = poll_until(&mut reactor, |s| data_of(s, token).len() == 2);
    assert_eq!(data_of(&seen, token), b"hi");
    drop(client);
    poll_until(&mut reactor, |s| s.contains(&Seen::Closed(token)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unregister_stops_events_and_hands_the_channel_back() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    let mut channel = reactor.unregister(token).unwrap();
    assert!(reactor.channel(token).is_none());
    assert!(reactor.unregister(token).is_none());
    test.put(b"after");
    assert_eq!(reactor.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("{e:?}")).unwrap(), 0);
    assert_eq!(read_some(&mut channel).unwrap(), b"after", "the bytes wait in the channel");
}

#[test]
fn close_all_closes_every_channel_and_server() {
    let mut reactor = Reactor::new().unwrap();
    let (a, mut test_a) = TestChannel::pair();
    let (b, mut test_b) = TestChannel::pair();
    let ta = reactor.register(a).unwrap();
    let tb = reactor.register(b).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    reactor.add_server(listener).unwrap();
    reactor.close_all();
    assert!(reactor.is_empty());
    assert!(reactor.channel(ta).is_none() && reactor.channel(tb).is_none());
    assert_eq!(test_a.get(), b"", "the peer sees end of stream");
    assert_eq!(test_b.get(), b"");
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}

#[test]
fn stale_token_after_slot_reuse_is_rejected() {
    let mut reactor = Reactor::new().unwrap();
    let (first, _t1) = TestChannel::pair();
    let old = reactor.register(first).unwrap();
    reactor.unregister(old).unwrap();
    let (second, _t2) = TestChannel::pair();
    let new = reactor.register(second).unwrap();
    assert_ne!(old, new);
    assert!(reactor.channel(old).is_none());
    assert!(reactor.unregister(old).is_none());
    assert!(reactor.channel(new).is_some());
}

#[test]
fn eight_mib_of_random_bytes_arrive_identical() {
    let mut reactor = Reactor::new().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let token = reactor.register(Channel::from_unix(ours).unwrap()).unwrap();
    let data = random_bytes(8 << 20, 42);
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        let mut theirs = theirs;
        theirs.write_all(&sent).unwrap();
    });
    let mut got = Vec::with_capacity(data.len());
    let deadline = Instant::now() + DEADLINE;
    while got.len() < data.len() {
        assert!(Instant::now() < deadline);
        reactor
            .poll_once(Some(Duration::from_millis(200)), |_, e| {
                if let procloop::ReactorEvent::Data { token: t, data } = e {
                    assert_eq!(t, token);
                    got.extend_from_slice(data);
                }
            })
            .unwrap();
    }
    writer.join().unwrap();
    assert!(got == data, "bytes differ");
}

#[test]
fn queued_writes_are_flushed_by_poll_once() {
    let mut reactor = Reactor::new().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let token = reactor.register(Channel::from_unix(ours).unwrap()).unwrap();
    let data = random_bytes(2 << 20, 7);
    reactor.channel(token).unwrap().write(&data).unwrap();
    assert!(reactor.channel(token).unwrap().queued() > 0);
    let reader = std::thread::spawn(move || {
        let mut theirs = theirs;
        let mut got = vec![0u8; 2 << 20];
        theirs.read_exact(&mut got).unwrap();
        got
    });
    let deadline = Instant::now() + DEADLINE;
    while reactor.channel(token).unwrap().queued() > 0 {
        assert!(Instant::now() < deadline);
        reactor.poll_once(Some(Duration::from_millis(100)), |_, _| {}).unwrap();
    }
    assert!(reader.join().unwrap() == data);
}

#[test]
fn paused_channel_applies_backpressure_and_loses_nothing() {
    let capacity = 16 * 1024;
    let mut reactor = Reactor::new().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let channel = Channel::from_unix(ours).unwrap().with_input_capacity(capacity);
    let token = reactor.register(channel).unwrap();
    reactor.pause(token);
    // Far more than the ring, the socket buffers and the write can hold.
    let data = random_bytes(4 << 20, 3);
    theirs.set_nonblocking(true).unwrap();
    let mut theirs = theirs;
    let mut sent = 0;
    let mut stalled_polls = 0;
    while stalled_polls < 3 {
        match theirs.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stalled_polls += 1,
            Err(e) => panic!("{e}"),
        }
        reactor.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("paused, yet {e:?}")).unwrap();
    }
    let channel = reactor.channel(token).unwrap();
    assert_eq!(channel.buffered(), capacity, "the ring is full and no bigger");
    assert!(sent < data.len(), "the writer is held back");
    // Drain: reading and the reactor together deliver every byte in order.
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < data.len() {
        assert!(Instant::now() < deadline);
        got.extend(reactor.channel(token).unwrap().read().unwrap());
        if sent < data.len()
            && let Ok(n) = theirs.write(&data[sent..])
        {
            sent += n;
        }
        reactor.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("{e:?}")).unwrap();
    }
    assert!(got == data);
}

#[test]
fn resumed_channel_hands_over_what_was_buffered() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    reactor.pause(token);
    test.put(b"held");
    let deadline = Instant::now() + DEADLINE;
    while reactor.channel(token).unwrap().buffered() < 4 {
        assert!(Instant::now() < deadline);
        reactor.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("{e:?}")).unwrap();
    }
    reactor.resume(token);
    let seen = poll_until(&mut reactor, |s| !s.is_empty());
    assert_eq!(seen, [Seen::Data(token, b"held".to_vec())]);
}

#[test]
fn timers_fire_in_order_and_cancelled_ones_never() {
    let mut reactor = Reactor::new().unwrap();
    let second = reactor.set_timer(Duration::from_millis(300));
    let first = reactor.set_timer(Duration::from_millis(1));
    let cancelled = reactor.set_timer(Duration::from_millis(5));
    assert!(reactor.cancel_timer(cancelled));
    let seen = poll_until(&mut reactor, |s| s.len() == 2);
    assert_eq!(seen, [Seen::Timer(first), Seen::Timer(second)]);
    assert!(!reactor.cancel_timer(first));
}

#[test]
fn reactor_fd_polls_readable_when_events_wait() {
    use std::os::fd::AsFd;
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    reactor.register(channel).unwrap();
    test.put(b"x");
    let mut fds = [nix::poll::PollFd::new(reactor.as_fd(), nix::poll::PollFlags::POLLIN)];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
    assert_eq!(n, 1, "a host loop waiting on the reactor's fd wakes");
    let seen = poll_until(&mut reactor, |s| !s.is_empty());
    assert_eq!(seen.len(), 1);
}

#[test]
fn ten_thousand_timers_all_fire_once_and_cancelled_ones_never() {
    let mut reactor = Reactor::new().unwrap();
    let mut live = std::collections::HashSet::new();
    for i in 0..10_000u64 {
        let id = reactor.set_timer(Duration::from_micros(i % 20_000));
        if i % 3 == 0 {
            assert!(reactor.cancel_timer(id));
        } else {
            live.insert(id);
        }
    }
    let expected = live.len();
    let mut fired = 0;
    let deadline = Instant::now() + DEADLINE;
    while !live.is_empty() {
        assert!(Instant::now() < deadline);
        reactor
            .poll_once(Some(Duration::from_millis(100)), |_, e| match e {
                procloop::ReactorEvent::Timer { id } => {
                    assert!(live.remove(&id), "{id:?} fired twice or was cancelled");
                    fired += 1;
                }
                other => panic!("{other:?}"),
            })
            .unwrap();
    }
    assert_eq!(fired, expected);
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD).unwrap();
    let (user, sys) = (usage.user_time(), usage.system_time());
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(micros(user) + micros(sys))
}

#[test]
fn paused_channel_at_end_of_stream_does_not_spin_the_loop() {
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut test) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    reactor.pause(token);
    test.put(b"unread");
    test.close();
    let deadline = Instant::now() + DEADLINE;
    while !reactor.channel(token).unwrap().at_eof() {
        assert!(Instant::now() < deadline);
        reactor.poll_once(Some(Duration::from_millis(10)), |_, e| panic!("paused, yet {e:?}")).unwrap();
    }
    // Bytes wait unread at end of stream: the loop must sleep, not spin.
    let cpu = thread_cpu();
    let n = reactor.poll_once(Some(Duration::from_millis(300)), |_, e| panic!("paused, yet {e:?}")).unwrap();
    assert_eq!(n, 0);
    assert!(thread_cpu() - cpu < Duration::from_millis(150), "the wait busy-looped");
    // Once read, end of stream is reported.
    assert_eq!(reactor.channel(token).unwrap().read().unwrap(), b"unread");
    let seen = poll_until(&mut reactor, |s| !s.is_empty());
    assert_eq!(seen, [Seen::Closed(token)]);
}
