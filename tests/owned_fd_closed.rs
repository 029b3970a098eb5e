//! A host that closes a channel's own fd behind its back (a Python program
//! that `os.close`s what `get_fd()` gave it) gets `EndpointClosed`, and the
//! channel's own close later is no abort, also in a debug build. One test
//! in its own binary: a closed fd number must not be reused by another test.

use std::os::fd::AsRawFd;

use procloop::{App, Error, Runner};

#[test]
fn an_owned_fd_closed_behind_the_channels_back_is_endpoint_closed_not_an_abort() {
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let channel = runner.get_channel("cat").unwrap();
    let fd = channel.read_fd().unwrap().as_raw_fd();
    // SAFETY: closing a number this test then never uses itself.
    assert_eq!(unsafe { nix::libc::close(fd) }, 0);
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    runner.terminate("cat").unwrap();
    drop(runner);
}
