//! [`Process`]: one child we started, with its pidfd when the kernel has them.

use std::io;
use std::os::fd::AsFd;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::error::Result;
use crate::sys::{self, Pidfd};

/// How often exits are checked where there is no pidfd.
pub(crate) const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A child process: signal it, wait for it, reap it. Only this process is
/// ever reaped (never `waitpid(-1)`), and signals never reach a recycled pid,
/// since the pid stays ours until we reap it.
#[derive(Debug)]
pub struct Process {
    child: Child,
    pidfd: Option<Pidfd>,
    status: Option<ExitStatus>,
}

impl Process {
    /// Takes over a spawned child; opens its pidfd where the kernel has them.
    pub fn new(child: Child) -> Result<Process> {
        let pidfd = Pidfd::open(child.id())?;
        Ok(Process { child, pidfd, status: None })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether exits are seen through a pidfd (else by polling).
    pub fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    pub(crate) fn pidfd(&self) -> Option<&Pidfd> {
        self.pidfd.as_ref()
    }

    /// Sends `signal` to the process; a no-op once it is reaped.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let sent = match &self.pidfd {
            Some(pidfd) => pidfd.send_signal(signal as i32),
            None => signal::kill(self.nix_pid(), signal).map_err(io::Error::from),
        };
        ignore_gone(sent)
    }

    /// Sends `signal` to the process group it leads (a child started with
    /// `setpgrp`); the group may outlive its leader.
    pub fn signal_group(&self, signal: Signal) -> Result<()> {
        ignore_gone(signal::killpg(self.nix_pid(), signal).map_err(io::Error::from))
    }

    /// Reaps the process if it has exited; never blocks.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// The exit status, once reaped.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Waits up to `timeout` for the process to exit, and reaps it.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        wait_all(&mut [self], deadline)?;
        Ok(self.status)
    }

    /// Waits for the process to exit, and reaps it.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    fn nix_pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }
}

/// Waits until every process in `processes` is reaped or `deadline` passes;
/// all of them share the one deadline.
pub(crate) fn wait_all(processes: &mut [&mut Process], deadline: Instant) -> Result<()> {
    loop {
        let mut running = 0;
        for process in processes.iter_mut() {
            if process.try_wait()?.is_none() {
                running += 1;
            }
        }
        let now = Instant::now();
        if running == 0 || now >= deadline {
            return Ok(());
        }
        let pidfds: Vec<_> = processes
            .iter()
            .filter(|p| p.status.is_none())
            .filter_map(|p| p.pidfd.as_ref().map(|fd| fd.as_fd()))
            .collect();
        let mut wait = deadline - now;
        if pidfds.len() < running {
            wait = wait.min(EXIT_POLL_INTERVAL);
        }
        sys::poll_readable(&pidfds, Some(wait))?;
    }
}

fn ignore_gone(sent: io::Result<()>) -> Result<()> {
    match sent {
        Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => Ok(()),
        other => Ok(other?),
    }
}
