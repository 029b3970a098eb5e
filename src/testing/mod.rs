//! Helpers for tests of code built on procloop, not for production use
//! (they panic on any I/O failure): [`TestChannel`], the test's end of a
//! real channel, and [`open_fds`], to check that nothing leaks.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use crate::channel::Channel;

/// The test's end of a socket pair whose other end is a real [`Channel`],
/// registrable with a [`Reactor`](crate::Reactor) like any other.
///
/// ```
/// use procloop::testing::TestChannel;
///
/// let (mut channel, mut test) = TestChannel::pair();
/// test.put(b"from the test");
/// assert_eq!(channel.read()?, b"from the test");
/// channel.write(b"from the code")?;
/// assert_eq!(test.get(), b"from the code");
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Debug)]
pub struct TestChannel {
    stream: UnixStream,
}

impl TestChannel {
    /// The channel under test, and the test's end.
    ///
    /// # Panics
    ///
    /// If the socket pair cannot be made.
    pub fn pair() -> (Channel, TestChannel) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let channel = Channel::from_unix(ours).expect("non-blocking socket");
        (channel, TestChannel { stream: theirs })
    }

    /// Makes `data` readable on the channel.
    ///
    /// # Panics
    ///
    /// If the write fails (the channel end is closed).
    pub fn put(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("TestChannel::put");
    }

    /// What was written to the channel so far and not yet got; never blocks.
    ///
    /// # Panics
    ///
    /// On an I/O error other than "nothing there".
    pub fn get(&mut self) -> Vec<u8> {
        self.stream.set_nonblocking(true).expect("non-blocking");
        let mut out = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match std::io::Read::read(&mut self.stream, &mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("TestChannel::get: {e}"),
            }
        }
        self.stream.set_nonblocking(false).expect("blocking");
        out
    }

    /// Closes the test's end: the channel reads end of stream.
    pub fn close(self) {}
}

impl AsFd for TestChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// How many fds this process has open (from `/proc/self/fd`), to check
/// that nothing leaks.
///
/// # Panics
///
/// If `/proc/self/fd` cannot be read.
pub fn open_fds() -> usize {
    let dir = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    dir.count().saturating_sub(1)
}
