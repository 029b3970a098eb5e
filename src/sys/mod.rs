//! Every raw system call procloop makes, and every `unsafe` block of the crate.
//!
//! The rest of the crate is `#![deny(unsafe_code)]`; it calls the safe
//! functions here, which take borrowed fds and return `io::Result`.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::libc;

/// Runs a libc call and turns its `-1` into `io::Error::last_os_error()`.
///
/// Every use sits in an `unsafe` block with its own `// SAFETY:` line.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        let res = libc::$fn($($arg, )*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub(crate) mod child;
pub(crate) mod clone;
pub(crate) mod fd;
mod newlines;
mod owner;
pub(crate) mod pidfd;
mod pipe_write;
pub(crate) mod signals;
pub(crate) mod spawn;
mod wait;

pub(crate) use fd::{ChannelFd, check_stream_socket, hung_up};
pub(crate) use newlines::newline_mask_64;
pub(crate) use owner::process_id;
pub(crate) use pidfd::Pidfd;
#[cfg(test)]
pub(crate) use pipe_write::nosignal_supported;
pub(crate) use pipe_write::{sigpipe_scope, write_pipe};
pub(crate) use signals::OneQuery as SigpipeQuery;
pub(crate) use wait::{Ended, cpu_time, peek_exit, try_reap};

/// Whether the calling thread is the process's main thread (its thread id
/// is the process id).
pub(crate) fn is_main_thread() -> bool {
    // SAFETY: gettid and getpid take nothing and cannot fail.
    unsafe { libc::gettid() == libc::getpid() }
}

/// `kill(2)`: sends `signal` to the process `pid`.
pub(crate) fn kill(pid: u32, signal: i32) -> io::Result<()> {
    // SAFETY: plain syscall with no pointers.
    unsafe { syscall!(kill(pid as libc::pid_t, signal)) }.map(drop)
}

/// `killpg(3)`: sends `signal` to every process in the group `pgid`.
pub(crate) fn kill_group(pgid: u32, signal: i32) -> io::Result<()> {
    // SAFETY: plain syscall with no pointers.
    unsafe { syscall!(killpg(pgid as libc::pid_t, signal)) }.map(drop)
}

/// `read(2)` of up to `max` bytes into `buf`'s spare capacity, which the
/// caller reserved; the bytes read are appended. Retries on `EINTR`.
pub(crate) fn read_into_spare(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let max = max.min(spare.len());
    loop {
        // SAFETY: `spare` is valid for writes of `max` bytes; read(2) never reads them.
        let res = unsafe { syscall!(read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), max)) };
        match res {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(n) => {
                let n = n as usize;
                // SAFETY: read(2) initialised the first `n <= max` spare bytes.
                unsafe { buf.set_len(buf.len() + n) };
                return Ok(n);
            }
        }
    }
}

/// `write(2)`; retries on `EINTR`. Pipes go through [`write_pipe`].
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes and `fd` is open.
        let res = unsafe { syscall!(write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len())) };
        match res {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

/// `send(2)` with `MSG_NOSIGNAL`, so a peer that is gone gives `EPIPE`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes and `fd` is open.
        let res =
            unsafe { syscall!(send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL)) };
        match res {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

/// How many bytes wait to be read on a pipe, socket or terminal (`FIONREAD`).
pub(crate) fn bytes_readable(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the valid pointer.
    unsafe { syscall!(ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n)) }?;
    Ok(n.max(0) as usize)
}

/// `shutdown(fd, SHUT_WR)`: the peer reads end of stream.
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain call on an open fd.
    unsafe { syscall!(shutdown(fd.as_raw_fd(), libc::SHUT_WR)) }.map(drop)
}

/// Puts a fresh pipe or socket end, whose other status flags are all off,
/// in non-blocking mode with one call.
pub(crate) fn set_fresh_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_SETFL on an open fd touches no memory.
    unsafe { syscall!(fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK)) }.map(drop)
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an open fd touch no memory.
    unsafe {
        let flags = syscall!(fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
        if flags & libc::O_NONBLOCK == 0 {
            syscall!(fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK))?;
        }
    }
    Ok(())
}

/// A close-on-exec pipe: `(read end, write end)`, both blocking.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [RawFd; 2] = [-1, -1];
    // SAFETY: `fds` has room for the two fds pipe2 writes; on success we own them.
    unsafe {
        syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A close-on-exec UNIX stream socket pair, both ends blocking.
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [RawFd; 2] = [-1, -1];
    // SAFETY: `fds` has room for the two fds socketpair writes; on success we own them.
    unsafe {
        syscall!(socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()))?;
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// `SO_PEERCRED`: the pid of the process at the other end of a connected
/// UNIX socket, as it was when that end called `listen(2)` or `connect(2)`
/// (0 if that process is in a pid namespace this one cannot see).
pub(crate) fn peer_pid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a valid ucred of `len` bytes, which getsockopt writes at most.
    unsafe {
        syscall!(getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len
        ))?;
    }
    Ok(cred.pid.max(0) as u32)
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: no limit).
/// Returns how many are ready; `EINTR` counts as zero.
pub(crate) fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    poll_for(fds, libc::POLLIN, timeout)
}

/// Waits until `fd` has a priority event (a cgroup's `cgroup.events`
/// changed) or `timeout` passes; as [`poll_readable`].
pub(crate) fn poll_priority(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<usize> {
    poll_for(&[fd], libc::POLLPRI, Some(timeout))
}

fn poll_for(fds: &[BorrowedFd<'_>], events: libc::c_short, timeout: Option<Duration>) -> io::Result<usize> {
    let mut pollfds: Vec<libc::pollfd> =
        fds.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 }).collect();
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    // The millisecond rounding must not turn a short non-zero wait into a busy loop.
    let ms = if ms == 0 && timeout.is_some_and(|t| !t.is_zero()) { 1 } else { ms };
    // SAFETY: `pollfds` is a valid array of `pollfds.len()` entries.
    match unsafe { syscall!(poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, ms)) } {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// A non-blocking, close-on-exec connection to the UNIX stream socket at
/// `path`. `NotFound`, `ConnectionRefused` (nobody listens) and
/// `WouldBlock` (its backlog is full) say to try again later.
pub(crate) fn connect_unix(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long or with a NUL"));
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain call; on success we own the new fd.
    let fd = unsafe { OwnedFd::from_raw_fd(syscall!(socket(libc::AF_UNIX, flags, 0))?) };
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    loop {
        // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
        let res = unsafe { syscall!(connect(fd.as_raw_fd(), (&raw const addr).cast(), len)) };
        match res {
            Ok(_) => return Ok(fd),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
