//! SIGPIPE without a global handler, where the kernel cannot spare a pipe's
//! writer it (`pipe_write.rs`): block it in this thread around the write,
//! and consume the one that write raised. Its disposition is asked once a
//! write, or once a batch of writes that no foreign code runs between
//! ([`OneQuery`]).

use std::cell::Cell;
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
    if sigpipe_ignored_here() {
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

/// What this thread knows of SIGPIPE's disposition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Nothing: each write asks.
    Nothing,
    /// In a [`OneQuery`] scope, not asked yet.
    NotAsked,
    /// In a [`OneQuery`] scope, asked: ignored or not.
    Asked(bool),
}

thread_local! {
    static KNOWN: Cell<Known> = const { Cell::new(Known::Nothing) };
}

/// While it lives, this thread's pipe writes ask SIGPIPE's disposition
/// once, at the first of them, not once each: for a batch of writes that
/// no foreign code runs between (a turn's payloads, a fill's flushes), so
/// nothing can change the disposition in the middle. No write, no query.
pub(crate) struct OneQuery {
    before: Known,
}

impl OneQuery {
    /// Begins the scope (a nested one keeps what the outer one asked).
    pub(crate) fn begin() -> OneQuery {
        let before = KNOWN.get();
        if before == Known::Nothing {
            KNOWN.set(Known::NotAsked);
        }
        OneQuery { before }
    }
}

impl Drop for OneQuery {
    fn drop(&mut self) {
        KNOWN.set(self.before);
    }
}

/// Whether SIGPIPE is ignored, asked now or as asked in this scope.
fn sigpipe_ignored_here() -> bool {
    match KNOWN.get() {
        Known::Nothing => sigpipe_ignored(),
        Known::NotAsked => {
            let ignored = sigpipe_ignored();
            KNOWN.set(Known::Asked(ignored));
            ignored
        }
        Known::Asked(ignored) => ignored,
    }
}

fn sigpipe_ignored() -> bool {
    #[cfg(test)]
    tests::QUERIES.set(tests::QUERIES.get() + 1);
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

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;
    use std::os::fd::AsFd;

    use super::*;

    thread_local! {
        /// How many times this thread asked SIGPIPE's disposition.
        pub(crate) static QUERIES: Cell<usize> = const { Cell::new(0) };
    }

    fn write_to_gone_reader() -> io::Result<usize> {
        let (read, write) = std::io::pipe().unwrap();
        drop(read);
        without_sigpipe(|| crate::sys::write(write.as_fd(), b"x"))
    }

    fn queries_for(writes: usize) -> usize {
        let before = QUERIES.get();
        for _ in 0..writes {
            assert_eq!(write_to_gone_reader().unwrap_err().raw_os_error(), Some(libc::EPIPE));
        }
        QUERIES.get() - before
    }

    #[test]
    fn a_scope_asks_once_for_all_its_writes_and_none_without_one() {
        assert_eq!(queries_for(5), 5, "outside a scope, once a write");
        {
            let _outer = OneQuery::begin();
            assert_eq!(queries_for(0), 0, "no write, no query");
            assert_eq!(queries_for(5), 1);
            {
                let _inner = OneQuery::begin();
                assert_eq!(queries_for(3), 0, "a nested scope keeps the answer");
            }
            assert_eq!(queries_for(2), 0);
        }
        assert_eq!(queries_for(2), 2, "the scope ended");
    }
}
