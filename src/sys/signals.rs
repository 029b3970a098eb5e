//! SIGPIPE without a global handler: block it in this thread around a pipe
//! write, and consume the one that write raised.

use std::io;
use std::mem::MaybeUninit;
use std::ptr;

use nix::libc;

/// Runs `write` with SIGPIPE blocked in this thread; if it failed with
/// `EPIPE`, the SIGPIPE it raised is consumed before the old mask returns.
///
/// A host that blocks SIGPIPE itself keeps its pending signal: we only touch
/// a mask we changed. Where SIGPIPE is ignored (as Rust programs start), the
/// write goes ahead as it is: one cheap query instead of two mask changes.
pub(crate) fn without_sigpipe<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if sigpipe_ignored() {
        return write();
    }
    let sigpipe = sigpipe_set();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: both sets are valid; `old` is written by the call before we read it.
    let res = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, old.as_mut_ptr()) };
    if res != 0 {
        return Err(io::Error::from_raw_os_error(res));
    }
    // SAFETY: pthread_sigmask succeeded, so it filled `old`.
    let old = unsafe { old.assume_init() };
    // SAFETY: `old` is an initialised set.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    let result = write();
    if !was_blocked {
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) {
            consume_pending_sigpipe(&sigpipe);
        }
        // SAFETY: restores the mask we saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    }
    result
}

fn sigpipe_ignored() -> bool {
    let mut current = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads the current one into `current`.
    let res = unsafe { libc::sigaction(libc::SIGPIPE, ptr::null(), current.as_mut_ptr()) };
    // SAFETY: sigaction succeeded (res == 0), so it filled `current`.
    res == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises `set`; sigaddset then adds a valid signal.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

fn consume_pending_sigpipe(sigpipe: &libc::sigset_t) {
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    loop {
        // SAFETY: valid set and timeout; a null info pointer is allowed.
        let res = unsafe { libc::sigtimedwait(sigpipe, ptr::null_mut(), &zero) };
        if res != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}
