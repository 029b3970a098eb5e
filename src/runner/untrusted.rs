//! Settings for running untrusted code and sharing the CPU fairly: who the
//! child runs as, namespaces of its own, its scheduling. Each is set in the
//! child before its program runs; a failure is a start error naming it.

use nix::libc;

use super::app::App;
use crate::error::{Error, Result};
use crate::sys::child::{Namespaces, Settings};

/// A child's CPU scheduling policy ([`App::scheduler`]).
///
/// ```
/// use procloop::{App, Scheduler};
///
/// let bot = App::new("python3 bot.py").scheduler(Scheduler::Batch).nice(10);
/// # let _ = bot;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Scheduler {
    /// `SCHED_OTHER`, the default time-sharing policy.
    #[default]
    Normal,
    /// `SCHED_BATCH`: CPU-bound work, preempted less and woken later than
    /// interactive tasks.
    Batch,
    /// `SCHED_IDLE`: runs only when nothing else wants the CPU.
    Idle,
}

impl Scheduler {
    fn policy(self) -> libc::c_int {
        match self {
            Scheduler::Normal => libc::SCHED_OTHER,
            Scheduler::Batch => libc::SCHED_BATCH,
            Scheduler::Idle => libc::SCHED_IDLE,
        }
    }
}

/// An app's settings for untrusted code and fair share.
#[derive(Clone, Debug, Default)]
pub(crate) struct Untrusted {
    pub(crate) user: Option<(u32, u32)>,
    pub(crate) no_new_privileges: bool,
    pub(crate) isolate_network: bool,
    pub(crate) isolate_pids: bool,
    pub(crate) nice: Option<i32>,
    pub(crate) scheduler: Option<Scheduler>,
    pub(crate) cpu_affinity: Option<Vec<usize>>,
}

impl Untrusted {
    /// What the child sets, or the setting that cannot work.
    pub(crate) fn settings(&self) -> Result<Settings> {
        let mut settings = Settings {
            user: self.user,
            no_new_privileges: self.no_new_privileges,
            namespaces: Namespaces { network: self.isolate_network, pids: self.isolate_pids },
            nice: self.nice,
            scheduler: self.scheduler.map(Scheduler::policy),
            affinity: None,
        };
        if let Some(nice) = self.nice
            && !(-20..=19).contains(&nice)
        {
            let setting = format!("nice {nice}");
            return Err(Error::InvalidSetting { setting, reason: "a nice value is from -20 to 19" });
        }
        if let Some(cpus) = &self.cpu_affinity {
            let setting = || format!("cpu_affinity {cpus:?}");
            if cpus.is_empty() {
                return Err(Error::InvalidSetting {
                    setting: setting(),
                    reason: "it names no CPU to run on",
                });
            }
            if settings.set_affinity(cpus).is_err() {
                let reason = "a CPU number past what a CPU set holds (1024)";
                return Err(Error::InvalidSetting { setting: setting(), reason });
            }
        }
        Ok(settings)
    }
}

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
    /// 0. An empty list is an [`Error::InvalidSetting`] at start; a CPU
    /// that is offline or not allowed to this process fails the start,
    /// naming this setting.
    pub fn cpu_affinity(mut self, cpus: &[usize]) -> App {
        self.untrusted.cpu_affinity = Some(cpus.to_vec());
        self
    }
}
