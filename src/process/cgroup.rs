//! One child's cgroup leaf: made before the start, its whole tree killed,
//! frozen or signalled, waited for until empty (learned from
//! `cgroup.events`, never by sleeping, every wait bounded), then removed.
//! At the child's exit an empty leaf is removed at once (one `rmdir`, what
//! its tree used kept), or kept for the next child where nothing of its own
//! would carry over: the kill, and the wait, are for a tree that is left.
//! A leaf keeps its directory, `cgroup.events` and `cpu.stat` open: a
//! reused leaf costs a start no `open`, and each read is one `pread`. When
//! this process is out of fds, a kill closes them to get one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nix::libc;

use super::signal::Signal;
use super::tree;
use super::usage::TreeUsage;
use crate::sys;

/// How often the fallback kill (no `cgroup.kill`) looks for what is left:
/// a process forked before the freeze took hold is not in its first list.
const FALLBACK_ROUND: Duration = Duration::from_millis(10);

/// A cgroup directory holding one child's tree.
#[derive(Debug)]
pub(crate) struct Leaf {
    dir: PathBuf,
    /// The directory, open (`O_DIRECTORY`): each child is made in it.
    /// `None` once closed for a kill when this process was out of fds.
    fd: Option<Arc<OwnedFd>>,
    /// `cgroup.events`, opened at the first child's exit.
    events: Option<File>,
    /// `cpu.stat`, opened at the first read.
    cpu_stat: OnceLock<File>,
    /// We froze it (and have not thawed it).
    frozen: bool,
    /// Killed without `cgroup.kill`: its pids get SIGKILL until it is empty.
    killing_each: bool,
    /// Removed at its child's exit, with what its tree had used then.
    removed: Option<TreeUsage>,
    /// It may serve another child once empty: no tree limit is set in
    /// it, and no memory peak would carry over.
    reusable: bool,
    /// Its child has exited and nothing of its tree was left.
    empty: bool,
    /// User and system CPU time in `cpu.stat` when it was handed to its
    /// child: a reused leaf's counters go on from the child before.
    base: (Duration, Duration),
}

impl Leaf {
    /// Makes the directory `dir` (its parent must exist) and opens it.
    pub(crate) fn create(dir: PathBuf) -> io::Result<Leaf> {
        fs::create_dir(&dir)?;
        let fd = match open_dir(&dir) {
            Ok(fd) => Some(Arc::new(fd)),
            Err(e) => {
                let _ = fs::remove_dir(&dir); // empty: nothing was placed in it
                return Err(e);
            }
        };
        Ok(Leaf {
            dir,
            fd,
            events: None,
            cpu_stat: OnceLock::new(),
            frozen: false,
            killing_each: false,
            removed: None,
            reusable: false,
            empty: false,
            base: (Duration::ZERO, Duration::ZERO),
        })
    }

    /// Lets it serve another child once empty (see [`can_serve_again`](Self::can_serve_again)).
    pub(crate) fn set_reusable(&mut self, on: bool) {
        self.reusable = on;
    }

    /// Whether it may be handed to another child: reusable, its child's
    /// tree ended and nothing left in it, not frozen, not being killed.
    pub(crate) fn can_serve_again(&self) -> bool {
        self.reusable && self.empty && !self.frozen && !self.killing_each && self.removed.is_none()
    }

    /// Hands it to a new child: its usage counts from now.
    pub(crate) fn reuse(&mut self) -> io::Result<()> {
        self.base = tree::user_system(&self.read_cpu_stat()?);
        self.empty = false;
        Ok(())
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills its tree and removes it, waiting (bounded) until it is
    /// empty; one that cannot go is logged and left.
    pub(crate) fn discard(mut self) {
        if let Err(e) = self.kill() {
            log::warn!("killing the tree in {}: {e}", self.dir.display());
        }
        let deadline = crate::reactor::timers::deadline_after(super::runner_cgroup::EMPTY_WAIT);
        if let Err(e) = self.remove(deadline) {
            log::error!("cannot remove cgroup {}: {e}", self.dir.display());
        }
    }

    /// Whether it was removed at its child's exit.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.is_some()
    }

    /// Ends what is left of the tree once its child has exited: an empty
    /// leaf is removed at once, its usage kept (one read and one `rmdir`,
    /// where a kill would take two writes, a read and the `rmdir` later);
    /// `EBUSY` means a process of the tree lives on, and it is killed.
    pub(crate) fn end_tree(&mut self) -> io::Result<()> {
        match self.try_end_tree() {
            Err(e) if out_of_fds(&e) && self.close_fds() => self.try_end_tree(),
            done => done,
        }
    }

    fn try_end_tree(&mut self) -> io::Result<()> {
        if self.is_removed() {
            return Ok(());
        }
        if self.reusable {
            // Kept for the next child: emptiness is read, not tried by rmdir.
            let events = match &self.events {
                Some(file) => file,
                None => self.events.insert(File::open(self.dir.join("cgroup.events"))?),
            };
            if !tree::read_whole(events)?.lines().any(|line| line == "populated 0") {
                return self.kill();
            }
            self.empty = true;
            return Ok(());
        }
        // Read before the rmdir, which takes the counters with it; nothing
        // runs in between in a leaf that the rmdir finds empty.
        let used = tree::usage_at_end(&self.dir)?;
        match fs::remove_dir(&self.dir) {
            Ok(()) => {
                self.removed = Some(used);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.kill(),
            Err(e) => Err(e),
        }
    }

    /// What its tree used: read now, or kept from its removal.
    pub(crate) fn usage(&self) -> io::Result<TreeUsage> {
        match self.removed {
            Some(used) => Ok(used),
            None => {
                let mut used = tree::usage_with(&self.dir, &self.read_cpu_stat()?)?;
                used.user = used.user.saturating_sub(self.base.0);
                used.system = used.system.saturating_sub(self.base.1);
                Ok(used)
            }
        }
    }

    /// The CPU time of its tree: read now, or kept from its removal.
    pub(crate) fn cpu_time(&self) -> io::Result<Duration> {
        match self.removed {
            Some(used) => Ok(used.cpu_time()),
            None => Ok(tree::usage_usec(&self.read_cpu_stat()?).saturating_sub(self.base.0 + self.base.1)),
        }
    }

    /// Its `cpu.stat` now: one `pread` once it is open.
    fn read_cpu_stat(&self) -> io::Result<String> {
        let file = match self.cpu_stat.get() {
            Some(file) => file,
            None => {
                let file = File::open(self.dir.join("cpu.stat"))?;
                self.cpu_stat.get_or_init(|| file)
            }
        };
        tree::read_whole(file)
    }

    /// The directory, open, for a child to be made in, with its path for
    /// a start error to name it; shared, not reopened (unless a kill
    /// closed it).
    pub(crate) fn placement(&self) -> io::Result<(Arc<OwnedFd>, PathBuf)> {
        let fd = match &self.fd {
            Some(fd) => Arc::clone(fd),
            None => Arc::new(open_dir(&self.dir)?),
        };
        Ok((fd, self.dir.clone()))
    }

    /// Closes the fds it keeps open (its directory, `cgroup.events`,
    /// `cpu.stat`): out of fds, a kill needs one to open `cgroup.kill`. It
    /// serves no other child after. True if it had one to close.
    fn close_fds(&mut self) -> bool {
        log::debug!("out of fds: closing those of {} to end its tree", self.dir.display());
        self.reusable = false;
        let dir = self.fd.take().is_some();
        let events = self.events.take().is_some();
        let cpu_stat = self.cpu_stat.take().is_some();
        dir || events || cpu_stat
    }

    /// Kills every process in it, without waiting: `cgroup.kill`, or where
    /// the kernel has none (before 5.14), freeze and SIGKILL each.
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        match self.try_kill() {
            Err(e) if out_of_fds(&e) && self.close_fds() => self.try_kill(),
            done => done,
        }
    }

    fn try_kill(&mut self) -> io::Result<()> {
        if self.is_removed() || self.empty {
            return Ok(()); // nothing is left in it, nor can anything come
        }
        if !no_cgroup_kill() {
            match tree::write_file(&self.dir.join("cgroup.kill"), "1") {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                done => return done,
            }
        }
        self.killing_each = true;
        self.set_frozen(true)?;
        self.signal_all(Signal::SIGKILL, None)
    }

    /// Freezes (`true`) or thaws the whole tree; returns at once (the
    /// kernel says `frozen 1` in `cgroup.events` once it is done).
    pub(crate) fn set_frozen(&mut self, on: bool) -> io::Result<()> {
        if self.is_removed() {
            return Ok(()); // nothing is left in it to freeze
        }
        tree::write_file(&self.dir.join("cgroup.freeze"), if on { "1" } else { "0" })?;
        self.frozen = on;
        Ok(())
    }

    /// Thaws it if we froze it: a frozen tree cannot act on a SIGTERM.
    pub(crate) fn thaw_if_frozen(&mut self) {
        if self.frozen
            && let Err(e) = self.set_frozen(false)
        {
            log::warn!("thawing {}: {e}", self.dir.display());
        }
    }

    /// Sends `signal` to every process in it but `except`.
    pub(crate) fn signal_all(&self, signal: Signal, except: Option<u32>) -> io::Result<()> {
        if self.is_removed() || self.empty {
            return Ok(());
        }
        for pid in self.pids()?.into_iter().filter(|pid| Some(*pid) != except) {
            match sys::kill(pid, signal.as_raw()) {
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// The processes in it now (`cgroup.procs`).
    fn pids(&self) -> io::Result<Vec<u32>> {
        let procs = fs::read_to_string(self.dir.join("cgroup.procs"))?;
        Ok(procs.lines().filter_map(|line| line.trim().parse().ok()).collect())
    }

    /// Waits until no process is left in it or `deadline` passes; true if
    /// it is empty. It watches `cgroup.events` (the kernel flags a change
    /// as a priority event).
    pub(crate) fn wait_empty(&self, deadline: Instant) -> io::Result<bool> {
        let mut events = File::open(self.dir.join("cgroup.events"))?;
        loop {
            if !populated(&mut events)? {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let wait = if self.killing_each {
                self.signal_all(Signal::SIGKILL, None)?;
                left.min(FALLBACK_ROUND)
            } else {
                left
            };
            sys::poll_priority(events.as_fd(), wait)?;
        }
    }

    /// Removes the directory once it is empty: `EBUSY` (a task still on its
    /// way out) is retried on each change of `cgroup.events`, until
    /// `deadline`. A leaf that is gone already counts as removed.
    pub(crate) fn remove(&self, deadline: Instant) -> io::Result<()> {
        if self.is_removed() {
            return Ok(());
        }
        loop {
            match fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    log::debug!("{} is busy; removing it again once it changes", self.dir.display());
                    remove_below(&self.dir);
                    self.wait_empty(deadline)?;
                    let events = File::open(self.dir.join("cgroup.events"))?;
                    let left = deadline.saturating_duration_since(Instant::now());
                    sys::poll_priority(events.as_fd(), left.min(FALLBACK_ROUND))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                done => return done,
            }
        }
    }
}

/// Removes the cgroups a child made below its leaf (as root it may), which
/// keep the leaf busy; what cannot go yet is tried again by the caller.
pub(crate) fn remove_below(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        remove_below(&entry.path());
        if let Err(e) = fs::remove_dir(entry.path()) {
            log::debug!("removing {}: {e}", entry.path().display());
        }
    }
}

/// Opens a cgroup directory (`O_DIRECTORY`).
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(dir)?.into())
}

/// Whether `e` is this process's (or the system's) fd table being full.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Whether `cgroup.events` says a process is in the cgroup (read from its
/// start: a read is also what re-arms its priority event).
fn populated(events: &mut File) -> io::Result<bool> {
    let mut text = String::new();
    events.rewind()?;
    events.read_to_string(&mut text)?;
    Ok(!text.lines().any(|line| line == "populated 0"))
}

/// `PROCLOOP_NO_CGROUP_KILL=1` makes kills take the way of kernels without
/// `cgroup.kill` (freeze, SIGKILL each), for tests of that way.
fn no_cgroup_kill() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("PROCLOOP_NO_CGROUP_KILL").is_some_and(|v| v == "1"))
}
