//! Settings for running untrusted code and sharing the CPU fairly: who the
//! child runs as, namespaces of its own, its scheduling; checked and turned
//! into what the child sets before its program runs (a failure there is a
//! start error naming it). The `App` methods that set them are in
//! `runner/untrusted.rs`.

use nix::libc;

use crate::error::{Error, Result};
use crate::sys::child::{Namespaces, Settings};

/// A child's CPU scheduling policy ([`App::scheduler`](crate::App::scheduler)).
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
