//! Child processes in the reactor: watched through their pidfds (or polled
//! without one), stopped without waiting, reaped when their exit is handed
//! over.

use std::os::fd::{AsFd, AsRawFd};
use std::process::Child;
use std::time::Duration;

use mio::Interest;

use super::Reactor;
use super::deadlines::Deadline;
use super::entry::{Kind, ProcessState};
use super::token::{Side, Token};
use crate::error::Result;
use crate::process::Process;

impl Reactor {
    /// Starts `spawn` and registers its process and channels: the start
    /// path the Runner's apps take (limits, terminal, cgroup placement,
    /// errors naming the stage that failed), without a Runner. Nothing is
    /// left running if it fails. See [`Spawn`](crate::Spawn) for an example.
    pub fn spawn(&mut self, spawn: crate::Spawn) -> Result<crate::Spawned> {
        let started = spawn.start()?;
        let (process, channel, stderr) = (started.process, started.channel, started.stderr);
        // A Spawn names no socket, so its start has its channel already.
        let channel = channel.ok_or_else(|| std::io::Error::other("a start without its channel"))?;
        let channel = self.register(channel)?;
        let stderr = match stderr.map(|s| self.register(s)).transpose() {
            Ok(stderr) => stderr,
            Err(e) => {
                drop(self.unregister(channel));
                return Err(e);
            }
        };
        let outputs: Vec<Token> = std::iter::once(channel).chain(stderr).collect();
        let process = self.watch_process(process.keep(), &outputs);
        Ok(crate::Spawned { process, channel, stderr })
    }

    /// Watches a child: when it exits, the reactor reaps it and hands
    /// [`ReactorEvent::Exited`](crate::ReactorEvent::Exited), after every
    /// byte it wrote to the `outputs` channels was handed over.
    ///
    /// Where its exit cannot be watched through a pidfd (old kernels, no
    /// fds left), it is polled for instead: this only fails when the poll
    /// itself cannot be used.
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use std::time::Duration;
    /// use procloop::{Channel, Reactor, ReactorEvent};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let stdout = Channel::from_pipe(Some(child.stdout.take().unwrap().into()), None)?;
    /// let output = reactor.register(stdout)?;
    /// let process = reactor.add_process(child, &[output])?;
    /// let mut seen = Vec::new();
    /// while !matches!(seen.last(), Some(&"exited")) {
    ///     reactor.poll_once(Some(Duration::from_secs(5)), |_, event| match event {
    ///         ReactorEvent::Data { .. } => seen.push("data"),
    ///         ReactorEvent::Exited { token, status } => {
    ///             assert!(token == process && status.success());
    ///             seen.push("exited");
    ///         }
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(seen.first(), Some(&"data"), "the output comes before the exit");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn add_process(&mut self, child: Child, outputs: &[Token]) -> Result<Token> {
        Ok(self.watch_process(Process::new(child)?, outputs))
    }

    /// As [`add_process`](Self::add_process), for a [`Process`] (one that
    /// leads its own group, say).
    pub fn add_watched_process(&mut self, process: Process, outputs: &[Token]) -> Result<Token> {
        Ok(self.watch_process(process, outputs))
    }

    /// Adds a process; it never fails: a pidfd the poll won't take is
    /// replaced by polling.
    pub(crate) fn watch_process(&mut self, process: Process, outputs: &[Token]) -> Token {
        let token = self.next_token();
        let watched = process.pidfd().map(|pidfd| {
            let fd = pidfd.as_fd().as_raw_fd();
            self.watch_fd(fd, token.to_mio(Side::Main), Interest::READABLE)
        });
        match watched {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                log::warn!("cannot watch pid {}'s pidfd ({e}); its exit is found by polling", process.pid());
                self.unwatched.push(token);
            }
            None => self.unwatched.push(token),
        }
        if let Some(at) = process.kill_at() {
            self.deadlines.add(at, token, Deadline::Sigkill);
        }
        let state = ProcessState { process, outputs: outputs.to_vec(), drain_budget: None };
        self.entries.insert(token, Kind::Process(state));
        token
    }

    /// The watched process behind `token`, until its exit is handed over.
    pub fn process(&mut self, token: Token) -> Option<&mut Process> {
        match &mut self.entries.get(token)?.kind {
            Kind::Process(state) => Some(&mut state.process),
            _ => None,
        }
    }

    /// The watched process behind `token`, for a look that changes nothing.
    pub(crate) fn process_ref(&self, token: Token) -> Option<&Process> {
        match &self.entries.peek(token)?.kind {
            Kind::Process(state) => Some(&state.process),
            _ => None,
        }
    }

    /// Adds a channel to those drained before `process`'s exit is handed
    /// over (a socket app's, connected after the start).
    pub(crate) fn add_output(&mut self, process: Token, output: Token) {
        if let Some(Kind::Process(state)) = self.entries.get(process).map(|e| &mut e.kind) {
            state.outputs.push(output);
        }
    }

    /// Stops watching a process and hands it back (not reaped yet, unless
    /// its exit was seen). In the handler of its
    /// [`Exited`](crate::ReactorEvent::Exited) event it hands back the
    /// ended process (for its [`usage`](Process::usage), say), which the
    /// reactor would drop after the handler.
    pub fn remove_process(&mut self, token: Token) -> Option<Process> {
        if let Some((_, process)) = self.exited.take_if(|(t, _)| *t == token) {
            return Some(process);
        }
        let process = self.take_process(token)?;
        if let Some(pidfd) = process.pidfd() {
            self.unwatch_fd(pidfd.as_fd().as_raw_fd());
        }
        Some(process)
    }

    /// Asks the process to end without waiting: SIGTERM now (to its group
    /// too, if it leads one), SIGKILL from the loop once `grace` has passed.
    /// Its exit comes as any other. Stopping again, or after the exit, does
    /// nothing more. False for an unknown token.
    pub fn stop_process(&mut self, token: Token, grace: Duration) -> Result<bool> {
        let Some(process) = self.process(token) else { return Ok(false) };
        let before = process.kill_at();
        process.stop(grace)?;
        if let Some(at) = process.kill_at().filter(|_| before.is_none()) {
            self.deadlines.add(at, token, Deadline::Sigkill);
        }
        Ok(true)
    }

    /// Removes a process for a caller that drops it or keeps it: its pidfd
    /// leaves the poll when it closes, without a syscall of ours.
    pub(crate) fn take_process(&mut self, token: Token) -> Option<Process> {
        if !matches!(self.entries.get(token)?.kind, Kind::Process(_)) {
            return None;
        }
        let Kind::Process(state) = self.entries.remove(token)?.kind else { return None };
        if !self.unwatched.is_empty() {
            self.unwatched.retain(|t| *t != token);
        }
        // Its SIGKILL deadline, if it was stopped, no longer applies.
        if state.process.awaits_kill() {
            self.deadlines.note_dead();
        }
        let entries = &self.entries;
        self.deadlines.sweep(|token, deadline| match deadline {
            Deadline::Sigkill => matches!(&entries.peek(token).map(|e| &e.kind), Some(Kind::Process(p)) if p.process.kill_at().is_some()),
            Deadline::RetryAccept => entries.peek(token).is_some(),
        });
        Some(state.process)
    }
}

impl Drop for Reactor {
    /// Ends the children still running all at once: one bounded wait for
    /// all of them, where each one's own drop would wait in turn.
    fn drop(&mut self) {
        let mut running: Vec<&mut Process> = (self.entries.iter_mut())
            .filter_map(|entry| match &mut entry.kind {
                Kind::Process(state) => Some(&mut state.process),
                _ => None,
            })
            .collect();
        crate::process::end_now(&mut running);
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn a_stop_leaves_no_deadline_behind_once_its_process_ended() {
        let mut reactor = Reactor::new().unwrap();
        for _ in 0..300 {
            let token = reactor.add_process(Command::new("sleep").arg("60").spawn().unwrap(), &[]).unwrap();
            reactor.stop_process(token, Duration::MAX).unwrap();
            reactor.stop_process(token, Duration::MAX).unwrap();
        }
        let mut exits = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while exits < 300 {
            assert!(std::time::Instant::now() < deadline, "{exits} of 300 exits seen");
            reactor
                .poll_once(Some(Duration::from_millis(200)), |_, e| {
                    exits += usize::from(matches!(e, crate::ReactorEvent::Exited { .. }));
                })
                .unwrap();
        }
        assert!(reactor.deadlines.len() <= 64, "{} deadlines kept after every exit", reactor.deadlines.len());
    }

    #[test]
    fn dropping_a_reactor_ends_its_children_together() {
        let mut reactor = Reactor::new().unwrap();
        let mut pids = Vec::new();
        for _ in 0..3 {
            // Deaf to SIGTERM: only the SIGKILL that follows at once ends it.
            let child = Command::new("sh").args(["-c", "trap '' TERM; sleep 60"]).spawn().unwrap();
            pids.push(child.id());
            reactor.add_process(child, &[]).unwrap();
        }
        crate::process::end_tests::ENDED_TOGETHER.with_borrow_mut(Vec::clear);
        drop(reactor);
        let together = crate::process::end_tests::ENDED_TOGETHER.with_borrow(Vec::clone);
        assert_eq!(together, [3], "the children were ended in these groups");
        for pid in pids {
            let gone = std::fs::metadata(format!("/proc/{pid}")).is_err();
            assert!(gone, "pid {pid} is left (running or unreaped)");
        }
    }
}
