//! [`Limit`]: a resource limit set in a child before it runs its program
//! (`setrlimit(2)` between fork and exec), as bot arenas need: a memory cap,
//! a CPU-time cap, and the like; or, for its whole tree, in its cgroup.

use std::fmt;
use std::time::Duration;

use nix::libc;

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
///
/// `TreeMemory`, `Tasks` and `Cpus` hold for the child's whole tree and
/// need its cgroup ([`Cgroups`](crate::Cgroups)) with the controller
/// they name; without it, a start fails with
/// [`Error::LimitUnsupported`](crate::Error::LimitUnsupported).
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Bytes of memory for the whole tree (the cgroup's `memory.max`, and
    /// no swap): past it the kernel reclaims, then kills in the tree.
    /// 0 is an invalid setting.
    TreeMemory(u64),
    /// Processes and threads in the whole tree (`pids.max`): a fork past
    /// it fails. It applies to root too. 0 (no room for the child
    /// itself) is an invalid setting.
    Tasks(u64),
    /// At most this many CPUs' worth of time for the whole tree
    /// (`cpu.max`): 0.5 is half of one CPU.
    Cpus(f64),
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
            Limit::TreeMemory(_) => "tree_memory",
            Limit::Tasks(_) => "tasks",
            Limit::Cpus(_) => "cpus",
        }
    }

    /// The cgroup v2 controller a tree limit needs, as the kernel spells
    /// it; `None` for a limit set with `setrlimit`.
    pub(crate) fn controller(&self) -> Option<&'static str> {
        match self {
            Limit::TreeMemory(_) => Some("memory"),
            Limit::Tasks(_) => Some("pids"),
            Limit::Cpus(_) => Some("cpu"),
            _ => None,
        }
    }

    /// The `RLIMIT_*` resource of a limit set with `setrlimit`.
    pub(crate) fn resource(&self) -> libc::__rlimit_resource_t {
        match self {
            Limit::Memory(_) => libc::RLIMIT_AS,
            Limit::CpuTime(_) => libc::RLIMIT_CPU,
            Limit::OpenFiles(_) => libc::RLIMIT_NOFILE,
            Limit::Processes(_) => libc::RLIMIT_NPROC,
            Limit::FileSize(_) => libc::RLIMIT_FSIZE,
            _ => libc::RLIMIT_CORE,
        }
    }

    /// The value `setrlimit` gets: seconds for CPU time, rounded up (for
    /// `Cpus`, whole CPUs rounded up; it is never given to `setrlimit`).
    pub(crate) fn value(&self) -> u64 {
        match *self {
            Limit::CpuTime(time) => time.as_secs().saturating_add(u64::from(time.subsec_nanos() > 0)),
            Limit::Cpus(cpus) => cpus.ceil() as u64,
            Limit::Memory(n)
            | Limit::OpenFiles(n)
            | Limit::Processes(n)
            | Limit::FileSize(n)
            | Limit::CoreDump(n)
            | Limit::TreeMemory(n)
            | Limit::Tasks(n) => n,
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
            // `{:?}` shows 1e300 as such, not as its 301 digits.
            Limit::Cpus(cpus) => write!(f, "{} of {cpus:?}", self.name()),
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
        assert_eq!(Limit::CpuTime(Duration::MAX).value(), u64::MAX, "no overflow");
        assert_eq!(Limit::Memory(42).to_string(), "memory of 42");
    }
}
