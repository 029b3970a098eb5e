//! [`Usage`]: what a child used, from the kernel's accounting of it when
//! it ended.

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
