//! This process's id, cached and forgotten in a forked child: a Runner
//! checks on every call that it is still in the process that made it, and
//! `getpid` is a system call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::libc;

/// The cached id; 0 until asked for, and again in a freshly forked child.
static PID: AtomicU32 = AtomicU32::new(0);
/// Whether the fork hook is in place: without it nothing is cached.
static HOOKED: OnceLock<bool> = OnceLock::new();

/// Runs in the child of every `fork()` (Python's `os.fork` too): one
/// atomic store, async-signal-safe.
extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

/// The id of the calling process.
pub(crate) fn process_id() -> u32 {
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    let hooked = *HOOKED.get_or_init(|| {
        // SAFETY: registers a child handler that only stores to an atomic;
        // no pointer is passed, and the handler lives as long as the program.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
        if rc != 0 {
            log::warn!("pthread_atfork failed ({rc}): the process id is asked for on every call");
        }
        rc == 0
    });
    let pid = std::process::id();
    if hooked {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}
