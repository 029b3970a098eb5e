//! [`Usage`]: what a child used, from the kernel's accounting of it when
//! it ended; [`TreeUsage`]: what its whole tree used, from its cgroup.

use std::time::Duration;

/// CPU time and peak memory of an ended child (its `rusage`; it counts the
/// child's own children that it waited for too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// CPU time in user mode.
    pub user: Duration,
    /// CPU time in the kernel on its behalf.
    pub system: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss: u64,
}

impl Usage {
    /// User and system CPU time together.
    pub fn cpu_time(&self) -> Duration {
        self.user + self.system
    }
}

/// What a child's whole tree used: its cgroup's accounting
/// ([`Runner::tree_usage`](crate::Runner::tree_usage)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TreeUsage {
    /// CPU time in user mode of every process of the tree, those that
    /// ended included.
    pub user: Duration,
    /// CPU time in the kernel on the tree's behalf.
    pub system: Duration,
    /// The tree's peak memory in bytes; `None` where the cgroup has no
    /// memory controller.
    pub memory_peak: Option<u64>,
    /// Processes and threads in the tree now.
    pub tasks: u64,
}

impl TreeUsage {
    /// User and system CPU time together.
    pub fn cpu_time(&self) -> Duration {
        self.user + self.system
    }
}
