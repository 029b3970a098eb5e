//! [`Limit`]: a resource limit set in a child before it runs its program
//! (`setrlimit(2)` between fork and exec), as bot arenas need: a memory cap,
//! a CPU-time cap, and the like.

use std::fmt;
use std::time::Duration;

/// A resource limit for an app's children ([`App::limit`](crate::App::limit)).
///
/// Each sets both the soft and the hard limit, so the child cannot raise it
/// again; but `CpuTime`, whose hard limit is a second later: at the limit
/// the child gets SIGXCPU (which ends it unless it handles it), a second of
/// CPU later SIGKILL.
///
/// ```
/// use std::time::Duration;
/// use procloop::{App, Limit};
///
/// let bot = App::new("python3 bot.py")
///     .limit(Limit::Memory(256 << 20))
///     .limit(Limit::CpuTime(Duration::from_secs(10)))
///     .limit(Limit::OpenFiles(64));
/// # let _ = bot;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Bytes of address space (`RLIMIT_AS`): allocations past it fail.
    Memory(u64),
    /// CPU time (`RLIMIT_CPU`, whole seconds, rounded up): then SIGXCPU,
    /// and a second later SIGKILL.
    CpuTime(Duration),
    /// Open files (`RLIMIT_NOFILE`): the highest fd number plus one.
    OpenFiles(u64),
    /// Processes of the child's user (`RLIMIT_NPROC`); the kernel does not
    /// apply it to root.
    Processes(u64),
    /// Bytes a file may be written up to (`RLIMIT_FSIZE`); past it, SIGXFSZ
    /// (or `EFBIG` where that is ignored).
    FileSize(u64),
    /// Bytes of a core dump (`RLIMIT_CORE`); 0 for none.
    CoreDump(u64),
}

impl Limit {
    /// Its name, as in the config's `limits` map (`"memory"`, `"cpu_time"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Limit::Memory(_) => "memory",
            Limit::CpuTime(_) => "cpu_time",
            Limit::OpenFiles(_) => "open_files",
            Limit::Processes(_) => "processes",
            Limit::FileSize(_) => "file_size",
            Limit::CoreDump(_) => "core_dump",
        }
    }

    /// The value `setrlimit` gets: seconds for CPU time, rounded up.
    pub(crate) fn value(&self) -> u64 {
        match *self {
            Limit::CpuTime(time) => time.as_secs() + u64::from(time.subsec_nanos() > 0),
            Limit::Memory(n)
            | Limit::OpenFiles(n)
            | Limit::Processes(n)
            | Limit::FileSize(n)
            | Limit::CoreDump(n) => n,
        }
    }

    /// Whether this and `other` limit the same resource.
    pub(crate) fn same_resource(&self, other: &Limit) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::CpuTime(time) => write!(f, "{} of {time:?}", self.name()),
            _ => write!(f, "{} of {}", self.name(), self.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_rounds_up_to_whole_seconds() {
        assert_eq!(Limit::CpuTime(Duration::from_millis(1500)).value(), 2);
        assert_eq!(Limit::CpuTime(Duration::from_secs(3)).value(), 3);
        assert_eq!(Limit::CpuTime(Duration::ZERO).value(), 0);
        assert_eq!(Limit::Memory(42).to_string(), "memory of 42");
    }
}
