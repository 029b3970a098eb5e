//! Channels and reactors give their fds back. One test per binary-wide
//! lock, since the fd count is process-wide.

mod util;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use procloop::testing::open_fds;
use procloop::{Channel, Reactor};

static FD_COUNT: Mutex<()> = Mutex::new(());

#[test]
fn close_releases_pipe_fds() {
    let _lock = FD_COUNT.lock().unwrap();
    let (read, write) = std::io::pipe().unwrap();
    let (read, write): (OwnedFd, OwnedFd) = (read.into(), write.into());
    let mut channel = Channel::from_pipe(Some(read), Some(write)).unwrap();
    let before = open_fds();
    channel.close();
    assert_eq!(open_fds(), before - 2);
}

#[test]
fn close_releases_socket_fd() {
    let _lock = FD_COUNT.lock().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let mut channel = Channel::from_unix(a).unwrap();
    let before = open_fds();
    channel.close();
    assert_eq!(open_fds(), before - 1);
    drop(b);
}

#[test]
fn close_all_and_drop_release_every_fd() {
    let _lock = FD_COUNT.lock().unwrap();
    let before = open_fds();
    let mut reactor = Reactor::new().unwrap();
    let mut peers = Vec::new();
    for _ in 0..50 {
        let (a, b) = UnixStream::pair().unwrap();
        reactor.register(Channel::from_unix(a).unwrap()).unwrap();
        peers.push(b);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    reactor.add_server(listener).unwrap();
    reactor.close_all();
    assert!(reactor.is_empty());
    drop(peers);
    drop(reactor);
    assert_eq!(open_fds(), before);
}
