//! Ending processes: SIGTERM, a grace period, SIGKILL, each wait bounded,
//! and a stop that returns at once and leaves the SIGKILL to a loop timer.

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::signal::Signal;
use super::{EXIT_POLL_INTERVAL, Process, group};
use crate::error::Result;
use crate::reactor::timers::deadline_after;
use crate::sys;

/// How long a process may take to go after SIGKILL before we give up
/// waiting (it is stuck in the kernel, in an uninterruptible sleep).
const KILL_WAIT: Duration = Duration::from_secs(2);

impl Process {
    /// Asks the process to end without waiting for it: SIGTERM now (to its
    /// group too, if it leads one); once `grace` has passed,
    /// [`kill_if_due`](Self::kill_if_due) sends SIGKILL. Stopping again, or
    /// after the exit (for a group leader: after its group is gone too),
    /// does nothing.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        if self.kill_at.is_some() || (self.try_wait()?.is_some() && !self.zombie) {
            return Ok(());
        }
        self.send(Signal::SIGTERM)?;
        // A stopped process (SIGSTOP, Runner::freeze without a cgroup) acts
        // on the SIGTERM only once it runs again.
        self.send(Signal::SIGCONT)?;
        self.kill_at = Some(deadline_after(grace));
        Ok(())
    }

    /// When a stopped process gets SIGKILL; `None` unless stopped and not
    /// killed yet.
    pub fn kill_at(&self) -> Option<Instant> {
        self.kill_at.filter(|_| self.killed_at.is_none() && (self.exit.is_none() || self.zombie))
    }

    /// Whether it was stopped and its SIGKILL deadline has not come (it may
    /// have exited meanwhile).
    pub(crate) fn awaits_kill(&self) -> bool {
        self.kill_at.is_some() && self.killed_at.is_none()
    }

    /// Sends SIGKILL (to the group too) if the process was stopped and its
    /// grace has passed by `now`; true if it did.
    pub fn kill_if_due(&mut self, now: Instant) -> bool {
        match self.kill_at() {
            Some(at) if at <= now => {
                self.kill();
                true
            }
            _ => false,
        }
    }

    /// SIGKILL to the process, and to its group if it leads one.
    fn kill(&mut self) {
        self.killed_at = Some(Instant::now());
        if let Err(e) = self.send(Signal::SIGKILL) {
            log::warn!("SIGKILL to pid {}: {e}", self.pid());
        }
    }

    /// Notes an exit, if there is one now; an error is logged and taken as
    /// an exit, so that no wait goes on for a process it cannot see.
    fn refresh(&mut self) {
        if let Err(e) = self.try_wait() {
            log::warn!("waiting for pid {}: {e}", self.pid());
            self.lost();
        }
    }

    /// Whether it has ended, and for a group leader its whole group too
    /// (`groups`: those with live members, from [`group::with_members`]).
    fn gone(&self, groups: &HashSet<u32>) -> bool {
        self.exit.is_some() && (!self.zombie || !groups.contains(&self.pid()))
    }
}

/// Ends at once the processes of this process (not a forked copy's) that
/// have not exited, as dropping them does: SIGTERM and SIGKILL now (an
/// earlier stop's grace, which may be endless, is cut short), then one
/// bounded wait for all of them together, not one after another.
pub(crate) fn end_now(processes: &mut [&mut Process]) {
    let (now, me) = (Instant::now(), sys::process_id());
    let mut running: Vec<&mut Process> =
        processes.iter_mut().filter(|p| p.owner == me && p.exit.is_none()).map(|p| &mut **p).collect();
    for process in &mut running {
        process.kill_at = process.kill_at.map(|at| at.min(now));
    }
    #[cfg(test)]
    if !running.is_empty() {
        tests::ENDED_TOGETHER.with_borrow_mut(|sizes| sizes.push(running.len()));
    }
    end_all(&mut running, Duration::ZERO);
}

/// Ends every process: SIGTERM to each not stopped yet, each its own grace
/// (or what is left of it), SIGKILL to those still there after it; waits
/// for all of them (and the groups they lead), every wait bounded. Their
/// exits are then known; group leaders' zombies are reaped on drop.
pub(crate) fn end_all(processes: &mut [&mut Process], grace: Duration) {
    end_all_by(processes, grace, None);
}

/// [`end_all`], waiting only until `until` (when there is one): true once
/// all of them have ended (or outlived SIGKILL, then they are given up
/// on), false if `until` came first. Called again, it goes on where it was
/// left: each grace is counted from the first SIGTERM, and the SIGKILL
/// given up on from the first SIGKILL.
pub(crate) fn end_all_by(processes: &mut [&mut Process], grace: Duration, until: Option<Instant>) -> bool {
    for process in processes.iter_mut() {
        if let Err(e) = process.stop(grace) {
            log::warn!("SIGTERM to pid {}: {e}", process.pid());
        }
    }
    let mut last_kill: Option<Instant> = processes.iter().filter_map(|p| p.killed_at).max();
    loop {
        let now = Instant::now();
        let mut next_kill: Option<Instant> = None;
        let mut left = 0;
        processes.iter_mut().for_each(|p| p.refresh());
        // One pass over /proc for all the groups, and only while a group matters.
        let groups = if processes.iter().any(|p| p.zombie) { group::with_members() } else { HashSet::new() };
        for process in processes.iter_mut() {
            if process.gone(&groups) {
                continue;
            }
            left += 1;
            match process.kill_at() {
                Some(at) if at > now => next_kill = next_kill.into_iter().chain([at]).min(),
                _ if process.killed_at.is_none() => {
                    process.kill();
                    last_kill = Some(now);
                }
                _ => {}
            }
        }
        if left == 0 {
            return true;
        }
        let give_up = last_kill.unwrap_or(now) + KILL_WAIT;
        if next_kill.is_none() && now >= give_up {
            log::error!("{left} processes outlived SIGKILL by {KILL_WAIT:?}; left unreaped");
            return true;
        }
        if until.is_some_and(|until| now >= until) {
            return false;
        }
        let wake = next_kill.unwrap_or(give_up);
        if let Err(e) = pause(processes, until.map_or(wake, |until| wake.min(until))) {
            log::warn!("waiting for children to end: {e}");
            return true;
        }
    }
}

/// Waits until one of `processes` may have changed (an exit, or a poll
/// interval for what has no pidfd to wait on) or `until` passes.
fn pause(processes: &mut [&mut Process], until: Instant) -> Result<()> {
    let mut wait = until.saturating_duration_since(Instant::now());
    // A group leader's zombie leaves its pidfd readable: its group is
    // checked by polling, as are processes without a pidfd.
    if processes.iter().any(|p| p.zombie || (p.exit.is_none() && p.pidfd.is_none())) {
        wait = wait.min(EXIT_POLL_INTERVAL);
    }
    let pidfds: Vec<_> = processes
        .iter()
        .filter(|p| p.exit.is_none())
        .filter_map(|p| p.pidfd.as_ref().map(|fd| fd.as_fd()))
        .collect();
    sys::poll_readable(&pidfds, Some(wait))?;
    Ok(())
}

/// Waits until every process in `processes` has exited (their groups not
/// counted) or `deadline` passes.
pub(crate) fn wait_exits(processes: &mut [&mut Process], deadline: Instant) -> Result<()> {
    loop {
        let mut running = 0;
        for process in processes.iter_mut() {
            running += usize::from(process.try_wait()?.is_none());
        }
        if running == 0 || Instant::now() >= deadline {
            return Ok(());
        }
        pause(processes, deadline)?;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    thread_local! {
        /// How many processes each [`end_now`](super::end_now) ended together.
        pub(crate) static ENDED_TOGETHER: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }
}
