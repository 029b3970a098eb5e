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

/// A child holds its stdio and nothing else: not the loop's fd, not a
/// pidfd, not a sibling's pipes, not an fd the host left inheritable (`ls`
/// opens the folder it lists as fd 3, the lowest free one).
#[test]
fn a_child_gets_no_fd_but_its_stdio() {
    let _lock = FD_COUNT.lock().unwrap();
    util::init();
    // An fd of the host's that it left inheritable, as a parent may hand one.
    let host_fd = std::fs::File::open("/dev/null").unwrap();
    let no_flags = nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty());
    nix::fcntl::fcntl(&host_fd, no_flags).unwrap();
    let mut runner = procloop::Runner::new().unwrap();
    runner.add("sibling", procloop::App::new("cat"));
    for n in 0..3 {
        runner.start_with("sibling", procloop::Start::new().alias(format!("sibling {n}"))).unwrap();
    }
    let lister = procloop::App::new("ls -1 /proc/self/fd").stderr(procloop::Stderr::Capture);
    runner.add("lister", lister);
    runner.start("lister").unwrap();
    let got = util::run_until(&mut runner, |got| {
        got.iter().any(|g| matches!(g, util::Got::Exited(a, _) if a == "lister"))
    });
    let listed = String::from_utf8(util::output_of(&got, "lister")).unwrap();
    assert_eq!(listed.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "{listed}");
    runner.terminate_all();
}
