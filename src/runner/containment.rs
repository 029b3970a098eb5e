//! Containment of a Runner's children, chosen when it is made: a cgroup
//! leaf per child (or, failing that, a process group per child); and what
//! only a cgroup gives: freeze, thaw, the tree's usage and its limits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::Runner;
use super::running::{OwnTimer, Running, TimerPurpose};
use crate::error::{Error, Result};
use crate::process::cgroup::Leaf;
use crate::process::limit::Limit;
use crate::process::runner_cgroup::RunnerCgroup;
use crate::process::signal::Signal;
use crate::process::tree;
use crate::process::usage::TreeUsage;

/// Whether a Runner puts each child in a cgroup of its own
/// ([`Runner::with_cgroups`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Cgroups {
    /// No cgroups, no process group forced ([`Runner::new`]).
    #[default]
    Off,
    /// A cgroup v2 leaf per child where this process may make them; else
    /// a process group per child (the reason is logged once).
    Preferred,
    /// A cgroup v2 leaf per child, or [`Error::CgroupsUnavailable`].
    Required,
}

/// How a Runner holds its children's trees ([`Runner::containment`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Containment {
    /// Each child in a leaf of this directory: the Runner's own cgroup
    /// (absolute, under the cgroup2 mount), removed when it is dropped.
    Cgroup {
        /// The Runner's cgroup directory.
        path: PathBuf,
    },
    /// Each child leads a process group of its own ([`Cgroups::Preferred`]
    /// where no cgroup could be had): a child that leaves the group
    /// (`setsid`, a daemon) is not covered.
    ProcessGroup,
    /// Nothing beyond what each app asks for ([`Cgroups::Off`]).
    None,
}

/// A Runner's containment, with what it needs.
#[derive(Debug)]
pub(crate) enum Contain {
    Off,
    /// Process groups, and why there is no cgroup.
    Groups(String),
    Cgroup(RunnerCgroup),
}

impl Contain {
    fn new(mode: Cgroups) -> Result<Contain> {
        if mode == Cgroups::Off {
            return Ok(Contain::Off);
        }
        match RunnerCgroup::create() {
            Ok(cgroup) => Ok(Contain::Cgroup(cgroup)),
            Err(why) if mode == Cgroups::Preferred => {
                static LOGGED: AtomicBool = AtomicBool::new(false);
                if !LOGGED.swap(true, Ordering::Relaxed) {
                    log::warn!("no cgroup for the children, process groups instead: {why}");
                }
                Ok(Contain::Groups(why))
            }
            Err(why) => Err(Error::CgroupsUnavailable(why)),
        }
    }

    /// Whether each child is made to lead its own process group.
    pub(crate) fn own_group(&self) -> bool {
        matches!(self, Contain::Groups(_))
    }

    /// Why there is no cgroup.
    fn why_none(&self) -> String {
        match self {
            Contain::Off => "this Runner was made without cgroups (Cgroups::Off)".to_string(),
            Contain::Groups(why) => format!("this Runner has process groups instead: {why}"),
            Contain::Cgroup(_) => String::new(),
        }
    }

    /// A leaf for a start with `limits`, its tree limits set; `None`
    /// without cgroups. A tree limit that cannot hold is an error.
    pub(crate) fn leaf_for(&mut self, limits: &[Limit]) -> Result<Option<Leaf>> {
        for limit in limits.iter().filter(|l| l.controller().is_some()) {
            self.check(limit)?;
        }
        let Contain::Cgroup(cgroup) = self else { return Ok(None) };
        let reusable = !limits.iter().any(|l| l.controller().is_some());
        let leaf = cgroup.leaf(reusable)?;
        for limit in limits.iter().filter(|l| l.controller().is_some()) {
            if let Err(e) = tree::set_limit(leaf.dir(), limit) {
                let why = format!("cannot set limit {limit} in cgroup {}: {e}", leaf.dir().display());
                cgroup.remove_leaf(leaf);
                return Err(Error::Io(std::io::Error::new(e.kind(), why)));
            }
        }
        Ok(Some(leaf))
    }

    /// Whether a tree limit can be set here.
    fn check(&self, limit: &Limit) -> Result<()> {
        tree::check_value(limit)?;
        let controller = limit.controller().unwrap_or_default();
        let missing = match self {
            Contain::Cgroup(cgroup) if cgroup.has(controller) => return Ok(()),
            Contain::Cgroup(cgroup) => format!(
                "the cgroup v2 controller \"{controller}\", which {} does not have (its parent does not \
                 hand it on)",
                cgroup.dir().display()
            ),
            _ => format!("a cgroup, and {}", self.why_none()),
        };
        Err(Error::LimitUnsupported { limit: *limit, missing })
    }

    /// Kills a leaf's tree and removes it when it can, without waiting.
    pub(crate) fn retire(&mut self, leaf: Option<Leaf>) {
        if let (Contain::Cgroup(cgroup), Some(leaf)) = (self, leaf) {
            cgroup.retire(leaf);
        }
    }

    /// Kills the trees of `leaves` and removes them, waiting (bounded).
    pub(crate) fn remove(&mut self, leaves: Vec<Leaf>) {
        if let Contain::Cgroup(cgroup) = self {
            cgroup.remove_leaves(leaves);
        }
    }
}

impl Runner {
    /// A runner with no apps, whose children are contained as `mode` says.
    ///
    /// With a cgroup, each child is placed in a leaf of its own before its
    /// program runs, so whatever it forks, `setsid`s or double-forks stays
    /// in the leaf: once the child's exit is seen, what is left of its tree
    /// is killed; `stop`, `terminate`, a restart and `Drop` end the whole
    /// tree. `Required` fails with [`Error::CgroupsUnavailable`] where no
    /// cgroup v2 subtree can be had; `Preferred` then falls back to a
    /// process group per child. Each leaf holds up to three fds of this
    /// process (its directory, `cgroup.events`, `cpu.stat`: a start in a
    /// reused leaf opens nothing), to count against `RLIMIT_NOFILE`.
    ///
    /// ```
    /// use procloop::{Cgroups, Containment, Runner};
    ///
    /// let runner = Runner::with_cgroups(Cgroups::Preferred)?;
    /// match runner.containment() {
    ///     Containment::Cgroup { path } => assert!(path.is_dir()),
    ///     other => assert_eq!(other, Containment::ProcessGroup),
    /// }
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn with_cgroups(mode: Cgroups) -> Result<Runner> {
        let mut runner = Runner::new()?;
        runner.contain = Contain::new(mode)?;
        Ok(runner)
    }

    /// [`with_cgroups`](Self::with_cgroups), with `paths` appended to PATH
    /// as [`with_extra_paths`](Self::with_extra_paths) does.
    ///
    /// ```
    /// use procloop::{Cgroups, Runner};
    ///
    /// let runner = Runner::with_cgroups_and_extra_paths(Cgroups::Preferred, ["/opt/bots/bin"])?;
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn with_cgroups_and_extra_paths<I: IntoIterator<Item = P>, P: Into<PathBuf>>(
        mode: Cgroups,
        paths: I,
    ) -> Result<Runner> {
        let mut runner = Runner::with_extra_paths(paths)?;
        runner.contain = Contain::new(mode)?;
        Ok(runner)
    }

    /// How this Runner holds its children's trees.
    pub fn containment(&self) -> Containment {
        match &self.contain {
            Contain::Off => Containment::None,
            Contain::Groups(_) => Containment::ProcessGroup,
            Contain::Cgroup(cgroup) => Containment::Cgroup { path: cgroup.dir().to_path_buf() },
        }
    }

    /// Stops `alias`'s whole tree from running (`cgroup.freeze`); returns
    /// at once. Without a cgroup, SIGSTOP to the child (and its group with
    /// `setpgrp`). A frozen child can still be stopped and terminated.
    pub fn freeze(&mut self, alias: &str) -> Result<()> {
        self.set_frozen(alias, true)
    }

    /// Lets a frozen tree run again (without a cgroup: SIGCONT).
    pub fn thaw(&mut self, alias: &str) -> Result<()> {
        self.set_frozen(alias, false)
    }

    fn set_frozen(&mut self, alias: &str, on: bool) -> Result<()> {
        self.owned()?;
        let running = self.running.get_mut(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        if let Some(leaf) = running.leaf.as_mut() {
            return Ok(leaf.set_frozen(on)?);
        }
        self.signal(alias, if on { Signal::SIGSTOP } else { Signal::SIGCONT })
    }

    /// What `alias`'s whole tree has used, from its cgroup: the CPU time of
    /// every process in it (those that ended included), its memory peak
    /// where the memory controller is on, and its tasks now. Without a
    /// cgroup, [`Error::CgroupsUnavailable`] says why.
    pub fn tree_usage(&self, alias: &str) -> Result<TreeUsage> {
        let running = self.running.get(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        match &running.leaf {
            Some(leaf) => Ok(leaf.usage()?),
            None => Err(Error::CgroupsUnavailable(self.contain.why_none())),
        }
    }

    /// With a cgroup, sets the kill of a stopped `alias`'s whole tree for
    /// when its grace has passed, with its child's SIGKILL: a child stuck
    /// in the kernel, or whose exit is not handled yet, must not keep the
    /// rest of its tree alive past it. Once per stop: it is not moved by
    /// another `stop`.
    pub(super) fn kill_tree_at_grace(&mut self, alias: &str) {
        let Some((alias, running)) = self.running.get_key_value(alias) else { return };
        let (Some(_), None, Some(token)) = (&running.leaf, running.tree_kill, running.process) else {
            return;
        };
        let Some(kill_at) = self.reactor.process_ref(token).and_then(|p| p.kill_at()) else { return };
        let (alias, run) = (alias.clone(), running.run);
        let timer = self.reactor.set_timer(kill_at.saturating_duration_since(Instant::now()));
        self.own_timers.insert(timer, OwnTimer { alias: alias.clone(), run, kind: TimerPurpose::KillTree });
        if let Some(running) = self.running.get_mut(&alias) {
            running.tree_kill = Some(timer);
        }
    }

    /// A stopped run's grace has passed: its whole tree is killed, the
    /// child too, stuck or not (its exit comes as usual).
    pub(super) fn kill_tree(&mut self, alias: &str) {
        let Some(running) = self.running.get_mut(alias) else { return };
        running.tree_kill = None;
        if let Some(leaf) = running.leaf.as_mut().filter(|_| running.process.is_some()) {
            log::debug!("{alias}'s grace has passed: killing its tree in {}", leaf.dir().display());
            if let Err(e) = leaf.kill() {
                log::warn!("killing {alias}'s tree in {}: {e}", leaf.dir().display());
            }
        }
    }

    /// Cancels the kill of a run's tree at its grace (the run is ended
    /// another way).
    pub(super) fn cancel_tree_kill(&mut self, running: &mut Running) {
        if let Some(timer) = running.tree_kill.take() {
            self.reactor.cancel_timer(timer);
            self.own_timers.remove(&timer);
        }
    }

    /// The CPU time a bot is charged: its whole tree's with a cgroup, else
    /// the child's own ([`cpu_time`](Runner::cpu_time)).
    pub(super) fn tree_cpu_time(&self, alias: &str) -> Result<std::time::Duration> {
        match self.running.get(alias).and_then(|r| r.leaf.as_ref()) {
            Some(leaf) => Ok(leaf.cpu_time()?),
            None => self.cpu_time(alias),
        }
    }
}
