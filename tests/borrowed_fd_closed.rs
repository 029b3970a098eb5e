//! A borrowed fd closed behind its channel's back gives `EndpointClosed`,
//! never a panic or an "IO Safety violation" abort (this runs as a debug
//! build). One test in this file: the closed numbers must not be reused by
//! another test's fds while it runs.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procloop::{Channel, Error};

#[test]
fn fds_closed_behind_a_channels_back_give_endpoint_closed() {
    // A pipe: both ends closed by their owner while the channel holds them.
    let (read, write) = std::io::pipe().unwrap();
    let (read, write): (OwnedFd, OwnedFd) = (read.into(), write.into());
    let mut channel =
        Channel::from_borrowed_pipe(Some(read.as_raw_fd()), Some(write.as_raw_fd())).unwrap().line_buffered();
    (&std::fs::File::from(write.try_clone().unwrap())).write_all(b"line\nhalf").unwrap();
    assert_eq!(channel.read().unwrap(), b"line\n");
    drop(read);
    drop(write);
    assert_eq!(channel.read().unwrap(), b"half", "buffered bytes first");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)));
    channel.close();
    drop(channel); // closes nothing: no double close

    // A socket, closed before anything was read.
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let mut channel = Channel::from_borrowed_socket(ours.as_raw_fd()).unwrap();
    drop(ours);
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)));
    channel.close_write();
    drop(channel);
}
