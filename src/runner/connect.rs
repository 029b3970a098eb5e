//! A socket app started with `Start::nowait`, or restarted by the loop: its
//! start returns once the child runs, and the loop connects to its socket,
//! retrying on a timer with a growing pause, until the app's own socket
//! connects (`Ready`, or the held-back `Restarted`), its socket wait has
//! passed, or the app exits first. A `nowait` start then gives
//! `StartFailed` and is undone; a restarted run is a failed run, which the
//! restart policy restarts again or gives up on.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Runner;
use super::app::Buffering;
use super::peer::Owner;
use super::running::{Connecting, OwnEvent, OwnEventKind, OwnTimer, Running, TimerPurpose};
use super::socket::{not_connected, not_there_yet};
use super::tokens::Role;
use crate::channel::Channel;
use crate::error::Error;
use crate::process::signal::Signal;
use crate::reactor::timers::deadline_after;
use crate::sys;

/// The first pause between two attempts; it doubles up to the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// What connecting a socket start needs.
pub(super) struct SocketStart {
    pub(super) path: PathBuf,
    /// The app's socket wait.
    pub(super) wait: Duration,
    pub(super) buffering: Buffering,
    /// Whose socket it must be.
    pub(super) owner: Owner,
}

impl Runner {
    /// Starts connecting `running` (not in the registry yet) in the loop.
    pub(super) fn begin_connect(&mut self, alias: &Arc<str>, running: &mut Running, socket: SocketStart) {
        let SocketStart { path, wait, buffering, owner } = socket;
        running.connecting = Some(Box::new(Connecting {
            path,
            deadline: deadline_after(wait),
            wait,
            pause: FIRST_PAUSE,
            buffering,
            owner,
            impostor: None,
            restarted: None,
            failed: None,
        }));
        self.schedule_connect(alias, running.run, Duration::ZERO);
    }

    /// One attempt to connect `alias`, then the next one scheduled, or
    /// the outcome noticed. A listener that is not the app's own is
    /// remembered (for the error) and the attempts go on.
    pub(super) fn try_connect(&mut self, alias: &Arc<str>) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let Some(connecting) = running.connecting.as_mut().filter(|c| c.failed.is_none()) else { return };
        let error = match sys::connect_unix(&connecting.path) {
            Ok(fd) => match connecting.owner.impostor(fd.as_fd(), &connecting.path) {
                Ok(None) => {
                    let mut channel = Channel::from_socket_fd(fd);
                    channel.set_buffering(connecting.buffering);
                    match self.reactor.register(channel) {
                        Ok(token) => return self.connected(alias, token),
                        Err(e) => e,
                    }
                }
                Ok(Some(pid)) => {
                    connecting.impostor = Some(pid);
                    return self.try_later(alias);
                }
                Err(e) => Error::Io(e),
            },
            Err(e) if not_there_yet(&e) => return self.try_later(alias),
            Err(e) => Error::Io(e),
        };
        self.connect_failed(alias, error);
    }

    /// Waits up to `limit` for a [`nowait`](super::Start::nowait) socket
    /// start of `alias` to connect, trying as the loop does: for a host
    /// that must answer its own signals meanwhile (the Python package's
    /// waiting start is a `nowait` start, then this in 50 ms slices).
    ///
    /// `Ok(true)` once connected: its channel is in place, and no
    /// [`Ready`](super::Event::Ready) is handed over for it. `Ok(false)` if
    /// `limit` passed first: call again, or poll, to go on (the socket wait
    /// counts from the start). `Err` is what a waiting start gives (the
    /// socket did not appear in time, the app exited first, another
    /// process holds the socket), and the start is undone as a waiting
    /// start's is: its process killed, the alias free, and no
    /// [`StartFailed`](super::Event::StartFailed) handed over;
    /// [`Error::NotConnected`] for a start that was stopped before it
    /// connected. `Ok(true)` at
    /// once for an alias that is not a `nowait` start connecting (a stdio
    /// app's; a restarted run, which the loop connects).
    pub fn wait_ready(&mut self, alias: &str, limit: Duration) -> crate::Result<bool> {
        self.owned()?;
        let until = deadline_after(limit);
        loop {
            if let Some(outcome) = self.take_outcome(alias) {
                return outcome;
            }
            let Some((alias, running)) = self.running.get_key_value(alias) else {
                return Err(Error::NoSuchProcess(alias.to_string()));
            };
            // A stop undid a start that had not connected: it never will.
            if running.stopped && running.channel.is_none() {
                return Err(Error::NotConnected(alias.to_string()));
            }
            let alias = alias.clone();
            let connecting =
                running.connecting.as_ref().filter(|c| c.failed.is_none() && c.restarted.is_none());
            let Some(pause) = connecting.map(|c| c.pause) else { return Ok(true) };
            let process = running.process;
            // The loop's next attempt, made now; the one after it stays
            // scheduled for the loop.
            self.cancel_connects(&alias);
            self.try_connect(&alias);
            if let Some(outcome) = self.take_outcome(&alias) {
                return outcome;
            }
            let now = Instant::now();
            if now >= until {
                return Ok(false);
            }
            // Sleeps on the process, so that an exit ends the pause at once.
            let Some(process) = process.and_then(|token| self.reactor.process(token)) else { continue };
            if let Some(status) = process.wait_timeout(pause.min(until - now))?
                && let Some(mut connecting) = self.running.get_mut(&alias).and_then(|r| r.connecting.take())
            {
                let error = connecting.failure(status);
                self.start_failed(&alias, error);
            }
        }
    }

    /// The outcome the loop noticed for a connecting `alias`, taken out of
    /// the events to hand over: `Ready` or `StartFailed`.
    fn take_outcome(&mut self, alias: &str) -> Option<crate::Result<bool>> {
        let index = self.own_events.iter().position(|n| {
            &*n.alias == alias && matches!(n.kind, OwnEventKind::Ready | OwnEventKind::StartFailed(_))
        })?;
        match self.own_events.remove(index)?.kind {
            OwnEventKind::StartFailed(error) => Some(Err(error)),
            _ => Some(Ok(true)),
        }
    }

    /// Cancels the connection attempts scheduled for `alias`.
    fn cancel_connects(&mut self, alias: &str) {
        let timers: Vec<_> = self
            .own_timers
            .iter()
            .filter(|(_, own_timer)| &*own_timer.alias == alias && own_timer.kind == TimerPurpose::Connect)
            .map(|(timer, _)| *timer)
            .collect();
        for timer in timers {
            self.own_timers.remove(&timer);
            self.reactor.cancel_timer(timer);
        }
    }

    /// The next attempt after a pause, or the failure once the socket
    /// wait has passed.
    fn try_later(&mut self, alias: &Arc<str>) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let Some(connecting) = running.connecting.as_mut() else { return };
        let now = Instant::now();
        if now < connecting.deadline {
            let pause = connecting.pause.min(connecting.deadline - now);
            connecting.pause = (connecting.pause * 2).min(LONGEST_PAUSE);
            let run = running.run;
            return self.schedule_connect(alias, run, pause);
        }
        let error = not_connected(&connecting.path, connecting.impostor, None, connecting.wait);
        self.connect_failed(alias, error);
    }

    fn connected(&mut self, alias: &Arc<str>, token: crate::reactor::token::Token) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let restarted = running.connecting.take().and_then(|c| c.restarted);
        running.channel = Some(token);
        self.tokens.insert(token, alias.clone(), Role::Stdout);
        if let Some(process) = running.process {
            self.reactor.add_output(process, token);
        }
        match restarted {
            Some(status) => self.push_own_event(alias, OwnEventKind::Restarted(status)),
            None => self.push_own_event(alias, OwnEventKind::Ready),
        }
    }

    /// A connection that won't come: a `nowait` start is undone; a
    /// restarted run is killed, and its exit counts as a failed run.
    fn connect_failed(&mut self, alias: &Arc<str>, error: Error) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let Some(connecting) = running.connecting.as_mut().filter(|c| c.restarted.is_some()) else {
            return self.start_failed(alias, error);
        };
        log::warn!("restarted {alias} could not be connected, killing it: {error}");
        connecting.failed = Some(error);
        let process = running.process.and_then(|token| self.reactor.process(token));
        if let Some(process) = process
            && let Err(e) = process.send(Signal::SIGKILL)
        {
            log::warn!("killing pid {}: {e}", process.pid());
        }
    }

    /// Undoes a `nowait` start: frees the alias, kills its process (reaped
    /// in the loop, without an event) and leaves a `StartFailed` event.
    pub(super) fn start_failed(&mut self, alias: &Arc<str>, error: Error) {
        let Some(mut running) = self.running.remove(alias) else { return };
        log::debug!("start of {alias} failed: {error}");
        if let Some(token) = running.process.take() {
            if let Some(process) = self.reactor.process(token)
                && let Err(e) = process.send(Signal::SIGKILL)
            {
                log::warn!("killing pid {}: {e}", process.pid());
            }
            self.tokens.abandon(token);
            self.abandoned.push(token);
        }
        self.forget(&running);
        self.contain.retire(running.leaf.take());
        let queued =
            OwnEvent { alias: alias.clone(), run: running.run, kind: OwnEventKind::StartFailed(error) };
        self.own_events.push_back(queued);
    }

    fn schedule_connect(&mut self, alias: &Arc<str>, run: u64, after: Duration) {
        let timer = self.reactor.set_timer(after);
        self.own_timers.insert(timer, OwnTimer { alias: alias.clone(), run, kind: TimerPurpose::Connect });
    }
}
