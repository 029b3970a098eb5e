//! The `App` methods for running untrusted code and sharing the CPU fairly;
//! what they set is checked and applied by the spawn layer
//! (`process/untrusted.rs`).

use super::app::App;
pub use crate::process::untrusted::Scheduler;
pub(crate) use crate::process::untrusted::Untrusted;

impl App {
    /// Runs the child as user `uid` and group `gid`, with no supplementary
    /// groups (`setgroups(0)`, `setgid`, `setuid`, in the child before its
    /// program). Switching needs root (or `CAP_SETUID` and `CAP_SETGID`);
    /// without, the start fails naming this setting.
    ///
    /// ```
    /// use procloop::App;
    ///
    /// let bot = App::new("./bot").user(65534, 65534).no_new_privileges(true);
    /// # let _ = bot;
    /// ```
    pub fn user(mut self, uid: u32, gid: u32) -> App {
        self.untrusted.user = Some((uid, gid));
        self
    }

    /// `PR_SET_NO_NEW_PRIVS`: neither the child nor anything it runs gains
    /// privileges by exec (set-user-ID bits and file capabilities are
    /// ignored).
    pub fn no_new_privileges(mut self, on: bool) -> App {
        self.untrusted.no_new_privileges = on;
        self
    }

    /// A network namespace of its own, in which only loopback is there
    /// (and up): the child reaches no other host, and no socket of ours.
    /// It needs root or `CAP_SYS_ADMIN`.
    pub fn isolate_network(mut self, on: bool) -> App {
        self.untrusted.isolate_network = on;
        self
    }

    /// A PID namespace of its own, of which the child is init (pid 1): when
    /// it dies, the kernel ends everything it started, also what escaped
    /// its process group. An init gets SIGTERM only if its program handles
    /// it; otherwise `stop` and `terminate` kill it when the grace has
    /// passed. It needs root or `CAP_SYS_ADMIN`.
    pub fn isolate_pids(mut self, on: bool) -> App {
        self.untrusted.isolate_pids = on;
        self
    }

    /// The child's nice value, -20 (most favoured) to 19; below 0 needs
    /// root or `CAP_SYS_NICE`.
    pub fn nice(mut self, nice: i32) -> App {
        self.untrusted.nice = Some(nice);
        self
    }

    /// The child's scheduling policy.
    pub fn scheduler(mut self, scheduler: Scheduler) -> App {
        self.untrusted.scheduler = Some(scheduler);
        self
    }

    /// The CPUs the child may run on (`sched_setaffinity`), numbered from
    /// 0. An empty list is an [`Error::InvalidSetting`](crate::Error::InvalidSetting) at start; a CPU
    /// that is offline or not allowed to this process fails the start,
    /// naming this setting.
    pub fn cpu_affinity(mut self, cpus: &[usize]) -> App {
        self.untrusted.cpu_affinity = Some(cpus.to_vec());
        self
    }
}
