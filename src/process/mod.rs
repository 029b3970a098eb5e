//! [`Process`]: one child we started. Signals reach it through its pidfd
//! (or its pid, which stays ours until we reap it); it is reaped by pid
//! only, never by `waitpid(-1)`, so the host's other children are left alone.

pub(crate) mod cgroup;
mod check;
pub(crate) mod command;
mod contained;
mod end;
mod group;
mod hierarchy;
pub(crate) mod launch;
pub(crate) mod limit;
mod program;
pub(crate) mod runner_cgroup;
pub(crate) mod signal;
pub(crate) mod spawn;
mod spawner;
pub(crate) mod split;
pub(crate) mod start_error;
pub(crate) mod stdio;
pub(crate) mod tree;
pub(crate) mod untrusted;
pub(crate) mod usage;
mod wiring;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::libc;

use crate::error::{Error, Result};
use crate::reactor::timers::deadline_after;
use crate::sys::{self, Pidfd};
use cgroup::Leaf;
#[cfg(test)]
pub(crate) use end::tests as end_tests;
pub(crate) use end::{end_all, end_all_by, end_now};
use signal::Signal;
use usage::{TreeUsage, Usage};

/// How often exits are checked where there is no pidfd.
pub(crate) const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The raw wait status of an exit whose real status was taken by someone
/// else: neither an exit code nor a signal (`code()` and `signal()` are
/// `None`, `success()` is false).
const UNKNOWN_STATUS: i32 = 0xff;

/// The status reported for a child whose exit status was taken by someone
/// else: the host ignores SIGCHLD (the kernel then reaps at once), or
/// another part of it calls `waitpid(-1)`. See [`is_unknown_exit`].
pub fn unknown_exit() -> ExitStatus {
    ExitStatus::from_raw(UNKNOWN_STATUS)
}

/// Whether `status` is [`unknown_exit`]: the child ended, but its status
/// was taken by someone else.
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
///
/// assert!(procloop::is_unknown_exit(procloop::unknown_exit()));
/// assert!(!procloop::is_unknown_exit(std::process::ExitStatus::from_raw(0)));
/// assert_eq!(procloop::unknown_exit().code(), None);
/// assert_eq!(procloop::unknown_exit().signal(), None);
/// ```
pub fn is_unknown_exit(status: ExitStatus) -> bool {
    status.into_raw() == UNKNOWN_STATUS
}

/// A child process: signal it, stop it, wait for it, reap it.
///
/// Signals never reach a recycled pid: the pid stays ours until we reap
/// it. A process that leads its own group ([`group_leader`](Self::group_leader))
/// is only peeked at when it exits and reaped when the `Process` is dropped:
/// its zombie keeps the group's id from being reused, so the group can
/// still be signalled after the leader's exit. Dropping a `Process` whose
/// exit was not seen ends it as [`stop`](Self::stop) with no grace would
/// (SIGTERM, then SIGKILL, its group too if it leads one; what is left of
/// an earlier stop's grace is cut short) and reaps it,
/// waiting at most 2 s: no child is left running or unreaped, also when a
/// [`Reactor`](crate::Reactor) watching it is dropped. The copy a `fork()`
/// of this process makes is dropped without touching the child (nor its
/// leaf).
#[derive(Debug)]
pub struct Process {
    pid: u32,
    /// The std handle it came with, if any (kept for the handles it holds).
    _child: Option<Child>,
    pidfd: Option<Pidfd>,
    exit: Option<Exit>,
    group: bool,
    /// Its exit was peeked at, and it is not reaped yet.
    zombie: bool,
    /// When a stopped process gets SIGKILL.
    kill_at: Option<Instant>,
    /// When it got SIGKILL.
    killed_at: Option<Instant>,
    /// Its cgroup leaf, when it was started contained: the tree is killed
    /// once its exit is seen, and the leaf removed when it is dropped.
    leaf: Option<Leaf>,
    /// The process that started it: a forked copy's drop leaves it alone.
    owner: u32,
}

#[derive(Clone, Copy, Debug)]
struct Exit {
    status: ExitStatus,
    /// `None` when the exit was taken by someone else.
    usage: Option<Usage>,
}

impl Process {
    /// Takes over a spawned child; opens its pidfd where the kernel has them
    /// (without one, exits are found by polling). It does not fail: the
    /// `Result` stays for compatibility.
    pub fn new(child: Child) -> Result<Process> {
        Ok(Process::from_pid(child.id(), Some(child)))
    }

    /// Takes over the child `pid`, spawned with its pidfd (`CLONE_PIDFD`),
    /// which this process spawned and nobody has reaped.
    pub(crate) fn with_pidfd(pid: u32, pidfd: std::os::fd::OwnedFd) -> Process {
        let mut process = Process::unwatched(pid, None);
        process.pidfd = Pidfd::adopt(pidfd);
        process
    }

    /// Takes over the child `pid`, which this process spawned and nobody
    /// has reaped.
    pub(crate) fn from_pid(pid: u32, child: Option<Child>) -> Process {
        let mut process = Process::unwatched(pid, child);
        match Pidfd::open(pid) {
            Ok(pidfd) => process.pidfd = pidfd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => process.lost(),
            Err(e) => log::warn!("no pidfd for pid {pid} ({e}); its exit is found by polling"),
        }
        process
    }

    /// The child `pid`, without a pidfd yet.
    fn unwatched(pid: u32, child: Option<Child>) -> Process {
        Process {
            pid,
            _child: child,
            pidfd: None,
            exit: None,
            group: false,
            zombie: false,
            kill_at: None,
            killed_at: None,
            leaf: None,
            owner: sys::process_id(),
        }
    }

    /// Marks the process as the leader of its own process group (it was
    /// spawned with `process_group(0)`): stopping and ending it signal the
    /// whole group, and its zombie is kept until the `Process` is dropped.
    #[must_use]
    pub fn group_leader(mut self, on: bool) -> Process {
        self.group = on;
        self
    }

    /// Whether it leads its own process group.
    pub fn is_group_leader(&self) -> bool {
        self.group
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether exits are seen through a pidfd (else by polling).
    pub fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    pub(crate) fn pidfd(&self) -> Option<&Pidfd> {
        self.pidfd.as_ref()
    }

    /// Sends `signal` to the process; a no-op once it has ended.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if self.exit.is_some() {
            return Ok(());
        }
        let sent = match &self.pidfd {
            Some(pidfd) => pidfd.send_signal(signal.as_raw()),
            None => sys::kill(self.pid(), signal.as_raw()),
        };
        ignore_gone(sent)
    }

    /// Sends `signal` to the process group it leads (a child started with
    /// `setpgrp`); the group may outlive its leader. A no-op once the group's
    /// id may belong to someone else (the leader was reaped).
    pub fn signal_group(&self, signal: Signal) -> Result<()> {
        if self.exit.is_some() && !self.zombie {
            return Ok(());
        }
        ignore_gone(sys::kill_group(self.pid(), signal.as_raw()))
    }

    /// `signal` to the process, and to its group if it leads one: a member
    /// that moved to a group of its own still gets it.
    pub(crate) fn send(&self, signal: Signal) -> Result<()> {
        let group = if self.group { self.signal_group(signal) } else { Ok(()) };
        let own = self.signal(signal);
        group.and(own)
    }

    /// Notes the exit if the process has ended; never blocks.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            let pid = self.pid();
            let ended = if self.group { sys::peek_exit(pid) } else { sys::try_reap(pid) };
            match ended {
                Ok(Some(ended)) => {
                    self.zombie = self.group;
                    self.exit = Some(Exit::from(ended));
                    self.end_tree();
                }
                Ok(None) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => self.lost(),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.status())
    }

    /// The exit status, once the process has ended.
    pub fn status(&self) -> Option<ExitStatus> {
        self.exit.map(|e| e.status)
    }

    /// What the process used (CPU time, peak memory), once it has ended;
    /// `None` before, or when its exit was taken by someone else.
    pub fn usage(&self) -> Option<Usage> {
        self.exit.and_then(|e| e.usage)
    }

    /// The CPU time (user and system, all its threads) the process has
    /// used so far: one `clock_gettime` on its CPU clock. Once its exit was
    /// seen, what its [`usage`](Self::usage) says.
    pub fn cpu_time(&self) -> Result<Duration> {
        match self.exit {
            None => Ok(sys::cpu_time(self.pid())?),
            Some(Exit { usage: Some(usage), .. }) => Ok(usage.cpu_time()),
            Some(Exit { usage: None, .. }) => Err(Error::Io(io::Error::other(format!(
                "the CPU time of pid {} is unknown: its exit was taken by someone else",
                self.pid()
            )))),
        }
    }

    /// Waits up to `timeout` for the process to exit. The SIGKILL of a
    /// [`stop`](Self::stop) whose grace ends within the wait is sent then,
    /// as a loop's timer would have: code that stops and then waits,
    /// running no loop, sees a process that ignores SIGTERM end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = deadline_after(timeout);
        if let Some(kill_at) = self.kill_at().filter(|at| *at < deadline) {
            end::wait_exits(&mut [self], kill_at)?;
            self.kill_if_due(kill_at);
        }
        end::wait_exits(&mut [self], deadline)?;
        Ok(self.status())
    }

    /// Waits for the process to exit, however long that takes.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(status);
            }
        }
    }

    /// What its whole tree has used (every process in its cgroup leaf,
    /// those that ended included), when it was started
    /// [`contained`](crate::Spawn::contained); else
    /// [`Error::CgroupsUnavailable`]. After its exit, what the tree had
    /// used by then.
    pub fn tree_usage(&self) -> Result<TreeUsage> {
        match &self.leaf {
            Some(leaf) => Ok(leaf.usage()?),
            None => Err(Error::CgroupsUnavailable(format!(
                "pid {} was not started contained (Spawn::contained)",
                self.pid
            ))),
        }
    }

    /// Hands it the leaf it was started in.
    pub(crate) fn hold_leaf(&mut self, leaf: Leaf) {
        self.leaf = Some(leaf);
    }

    /// Its child's exit ends the rest of its tree.
    fn end_tree(&mut self) {
        if let Some(leaf) = self.leaf.as_mut()
            && let Err(e) = leaf.end_tree()
        {
            log::warn!("ending what is left of pid {}'s tree in {}: {e}", self.pid, leaf.dir().display());
        }
    }

    /// Records an exit whose status someone else took.
    fn lost(&mut self) {
        log::warn!(
            "pid {}: its exit status was taken by someone else (SIGCHLD ignored, or a waitpid(-1) \
             elsewhere in this process); reported as unknown",
            self.pid()
        );
        self.exit = Some(Exit { status: unknown_exit(), usage: None });
        self.zombie = false;
    }

    /// Reaps a zombie that was only peeked at.
    fn reap(&mut self) {
        if !std::mem::take(&mut self.zombie) {
            return;
        }
        if let Err(e) = sys::try_reap(self.pid()) {
            log::warn!("reaping pid {}: {e}", self.pid());
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if sys::process_id() != self.owner {
            return; // a forked copy: the child and its leaf are the parent's
        }
        // No child outlives its Process running or unreaped (its pid would
        // stay a zombie for good: nobody else may wait for it), nor does a
        // contained tree: the child is killed and reaped first, then the
        // rest of the leaf.
        end::end_now(&mut [self]);
        self.reap();
        if let Some(leaf) = self.leaf.take() {
            leaf.discard();
        }
    }
}

impl From<sys::Ended> for Exit {
    fn from(ended: sys::Ended) -> Exit {
        let usage = Usage { user: ended.user, system: ended.system, max_rss: ended.max_rss };
        Exit { status: ExitStatus::from_raw(ended.status), usage: Some(usage) }
    }
}

fn ignore_gone(sent: io::Result<()>) -> Result<()> {
    match sent {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => Ok(other?),
    }
}
