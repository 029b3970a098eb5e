//! What a wait still does for the channels lent since the last one, now
//! that it skips the work when nothing changed: a borrowed fd their handle
//! closed leaves the poll at that wait, and a handle-closed channel gets its
//! `Closed` from a wait without a timeout (it does not count as idle).

mod util;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use procloop::{Channel, Reactor};
use util::*;

/// More than a pipe holds: most of it is queued, and the write end watched.
const MORE_THAN_A_PIPE: usize = 256 * 1024;

#[test]
fn a_borrowed_read_end_closed_by_its_handle_leaves_the_poll_at_the_next_wait() {
    init();
    let (read_end, _write_end) = std::io::pipe().unwrap();
    let borrowed = || Channel::from_borrowed_pipe(Some(read_end.as_raw_fd()), None).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let token = reactor.register(borrowed()).unwrap();
    assert!(reactor.register(borrowed()).is_err(), "an fd in the poll cannot be registered twice");
    reactor.channel(token).unwrap().close();
    // The wait's follow-up, not the next register, takes the fd out.
    reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
    reactor.register(borrowed()).expect("the fd left the poll at the wait after its close");
}

#[test]
fn a_watched_write_end_closed_by_its_handle_leaves_the_poll_at_the_next_wait() {
    init();
    let (from_peer, _peer_writes) = std::io::pipe().unwrap();
    let (mut peer_reads, to_peer) = std::io::pipe().unwrap();
    let write_end = to_peer.as_raw_fd();
    let mut reactor = Reactor::new().unwrap();
    let first = Channel::from_borrowed_pipe(Some(from_peer.as_raw_fd()), Some(write_end)).unwrap();
    let first = reactor.register(first).unwrap();
    reactor.channel(first).unwrap().write(&vec![b'a'; MORE_THAN_A_PIPE]).unwrap();
    reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap(); // watches the write end
    reactor.channel(first).unwrap().close();
    reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap(); // must take it out again

    // A new channel on the same write end gets it watched under its own
    // token: its queue is flushed as the peer reads. Left in the poll under
    // the closed channel's token, the fd could not be, and the queue would
    // stay.
    let second = reactor.register(Channel::from_borrowed_pipe(None, Some(write_end)).unwrap()).unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        peer_reads.read_to_end(&mut bytes).map(|_| bytes)
    });
    reactor.channel(second).unwrap().write(&vec![b'b'; MORE_THAN_A_PIPE]).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while reactor.channel(second).unwrap().queued() > 0 {
        assert!(Instant::now() < deadline, "the second channel's queue was never flushed");
        reactor.poll_once(Some(Duration::from_millis(200)), |_, _| {}).unwrap();
    }
    drop(reactor);
    drop(to_peer); // the peer reads to end of stream now
    let got = reader.join().unwrap().unwrap();
    assert!(got.ends_with(&vec![b'b'; MORE_THAN_A_PIPE]), "all of the second write arrived last");
}

#[test]
fn a_channel_closed_by_its_handle_gets_its_closed_from_a_wait_without_timeout() {
    init();
    let (read_end, _write_end) = std::io::pipe().unwrap();
    let mut reactor = Reactor::new().unwrap();
    let token =
        reactor.register(Channel::from_borrowed_pipe(Some(read_end.as_raw_fd()), None).unwrap()).unwrap();
    reactor.channel(token).unwrap().close();
    // A thread bounds the test should a wait block.
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let handed = reactor.poll_once(None, |_, e| seen.push(own(e))).unwrap();
        let idle = reactor.is_idle();
        let again = reactor.poll_once(None, |_, e| panic!("an event from a spent channel: {e:?}")).unwrap();
        done.send((handed, seen, idle, again)).unwrap();
    });
    let (handed, seen, idle, again) = waited.recv_timeout(DEADLINE).expect("poll_once(None) returns");
    assert_eq!((handed, seen), (1, vec![Seen::Closed(token)]));
    assert_eq!((idle, again), (true, 0), "then the loop is idle and returns at once");
}
