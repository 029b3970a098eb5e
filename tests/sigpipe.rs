//! Writing to a gone reader never kills the process with SIGPIPE, even when
//! the host left SIGPIPE at its default action.

use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use procloop::{Channel, Error};

fn restore_default_sigpipe() {
    // SAFETY: installs the default disposition; no handler code runs.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.unwrap();
}

#[test]
fn pipe_write_to_gone_reader_survives_default_sigpipe() {
    restore_default_sigpipe();
    let (read, write) = std::io::pipe().unwrap();
    drop(read);
    let mut channel = Channel::from_pipe(None, Some(write.into())).unwrap();
    for _ in 0..3 {
        assert!(matches!(channel.write(b"into the void"), Err(Error::EndpointClosed)));
    }
    let pending = SigSet::thread_get_mask().unwrap();
    assert!(!pending.contains(Signal::SIGPIPE), "the mask is restored");
}

#[test]
fn socket_write_to_gone_peer_survives_default_sigpipe() {
    restore_default_sigpipe();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    let mut channel = Channel::from_unix(a).unwrap();
    assert!(matches!(channel.write(b"into the void"), Err(Error::EndpointClosed)));
}
