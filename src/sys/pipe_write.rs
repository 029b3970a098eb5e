//! A pipe write that never raises SIGPIPE, with no global handler: one
//! `pwritev2` with `RWF_NOSIGNAL` where the kernel has it (Linux 6.18,
//! probed once per process), else a plain `write` with SIGPIPE blocked
//! around it or found ignored (`signals.rs`), a syscall or two more a write.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::libc;

use super::signals;

/// `pwritev2`'s flag that spares the writer SIGPIPE (not in libc yet).
const RWF_NOSIGNAL: libc::c_int = 0x100;

/// Writes to a pipe; a reader that is gone gives `EPIPE`, never a SIGPIPE.
/// (Inlined: it is every pipe write's path, a reply's in a ping-pong.)
#[inline]
pub(crate) fn write_pipe(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    if nosignal_supported() {
        match write_nosignal(fd, buf) {
            // A file whose driver writes without an iterator (some character
            // devices) refuses every flag: the write did not happen.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            other => return other,
        }
    }
    signals::without_sigpipe(|| super::write(fd, buf))
}

/// `pwritev2(fd, [buf], -1, RWF_NOSIGNAL)`: a `write` at the current
/// position that returns `EPIPE` instead of raising SIGPIPE; retries on `EINTR`.
/// By `syscall(2)`: libc's `pwritev2` splits the offset and checks for
/// thread cancellation, twice the instructions of a request's own path.
#[inline]
fn write_nosignal(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let iov = libc::iovec { iov_base: buf.as_ptr().cast_mut().cast(), iov_len: buf.len() };
    // The offset -1 (the current position) in the kernel's two halves:
    // a 64-bit kernel takes the low one whole.
    let (pos_low, pos_high): (libc::c_long, libc::c_long) = (-1, 0);
    loop {
        // SAFETY: `iov` describes `buf`, valid for reads of its length (the
        // kernel only reads through it), `fd` is open, and the arguments
        // are pwritev2's (fd, iov, iovcnt, pos_l, pos_h, flags), each a word.
        let res = unsafe {
            syscall!(syscall(
                libc::SYS_pwritev2,
                libc::c_long::from(fd.as_raw_fd()),
                &iov as *const libc::iovec,
                1 as libc::c_long,
                pos_low,
                pos_high,
                libc::c_long::from(RWF_NOSIGNAL)
            ))
        };
        match res {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// Whether `RWF_NOSIGNAL` works here: probed once, by a one-byte write to a
/// pipe of our own (a kernel without the flag refuses it before writing).
/// `PROCLOOP_NO_RWF_NOSIGNAL=1` forces the fallback. A probe that could not
/// make its pipe (no fd left) answers no for this write and asks again later.
#[inline]
pub(crate) fn nosignal_supported() -> bool {
    match STATE.load(Ordering::Relaxed) {
        SUPPORTED => true,
        UNSUPPORTED => false,
        _ => probe_once(),
    }
}

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// A scope in which pipe writes ask SIGPIPE's disposition once
/// ([`OneQuery`](signals::OneQuery)), unless they are known to ask none
/// (`RWF_NOSIGNAL` found): a fill's flushes, without a thread-local's two
/// writes in every fill where the kernel spares SIGPIPE.
#[inline]
pub(crate) fn sigpipe_scope() -> Option<signals::OneQuery> {
    (STATE.load(Ordering::Relaxed) != SUPPORTED).then(signals::OneQuery::begin)
}

#[cold]
fn probe_once() -> bool {
    match probe() {
        Some(supported) => {
            STATE.store(if supported { SUPPORTED } else { UNSUPPORTED }, Ordering::Relaxed);
            supported
        }
        None => false,
    }
}

fn probe() -> Option<bool> {
    if std::env::var_os("PROCLOOP_NO_RWF_NOSIGNAL").is_some_and(|v| v != "0") {
        log::debug!("RWF_NOSIGNAL disabled by PROCLOOP_NO_RWF_NOSIGNAL");
        return Some(false);
    }
    let (_read, write) = std::io::pipe().ok()?;
    let supported = write_nosignal(std::os::fd::AsFd::as_fd(&write), b"x").is_ok();
    if !supported {
        log::debug!("no RWF_NOSIGNAL; pipe writes guard SIGPIPE by its mask");
    }
    Some(supported)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use crate::sys::signals::tests::QUERIES;

    fn write_to_gone_reader() -> io::Result<usize> {
        let (read, write) = std::io::pipe().unwrap();
        drop(read);
        write_pipe(write.as_fd(), b"x")
    }

    #[test]
    fn a_pipe_write_asks_no_disposition_where_the_kernel_spares_sigpipe() {
        let before = QUERIES.get();
        for _ in 0..5 {
            assert_eq!(write_to_gone_reader().unwrap_err().raw_os_error(), Some(libc::EPIPE));
        }
        let expected = if nosignal_supported() { 0 } else { 5 };
        assert_eq!(QUERIES.get() - before, expected, "RWF_NOSIGNAL: {}", nosignal_supported());
    }

    /// The test above adapts to the probe; this one holds the probe to the
    /// kernel (a wrong flag would make every write take the fallback).
    #[test]
    fn the_probe_finds_the_flag_where_the_kernel_has_it() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut numbers = release.trim().split(|c: char| !c.is_ascii_digit()).map(|n| n.parse().unwrap_or(0));
        let version: (u32, u32) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        let forced_off = std::env::var_os("PROCLOOP_NO_RWF_NOSIGNAL").is_some_and(|v| v != "0");
        if forced_off {
            assert!(!nosignal_supported(), "forced off");
        } else if version >= (6, 18) {
            assert!(nosignal_supported(), "Linux {} has RWF_NOSIGNAL", release.trim());
        }
    }

    #[test]
    fn a_pipe_write_writes_what_it_says_then_gives_epipe() {
        let (mut read, write) = std::io::pipe().unwrap();
        assert_eq!(write_pipe(write.as_fd(), b"hello").unwrap(), 5);
        let mut got = [0; 5];
        std::io::Read::read_exact(&mut read, &mut got).unwrap();
        assert_eq!(&got, b"hello");
        drop(read);
        assert_eq!(write_pipe(write.as_fd(), b"x").unwrap_err().raw_os_error(), Some(libc::EPIPE));
    }
}
