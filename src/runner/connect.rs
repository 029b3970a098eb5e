//! A socket app started with `Start::nowait`: its start returns once the
//! child runs, and the loop connects to its socket, retrying on a timer
//! with a growing pause, until it connects (`Ready`), its socket wait has
//! passed, or the app exits first (`StartFailed`, and the start is undone).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Runner;
use super::running::{Connecting, Duty, DutyKind, Notice, NoticeKind, Running};
use super::tokens::Role;
use crate::channel::Channel;
use crate::error::Error;
use crate::signal::Signal;
use crate::sys;
use crate::timers::deadline_after;

/// The first pause between two attempts; it doubles up to the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

impl Runner {
    /// Starts connecting `running` (not in the registry yet) in the loop.
    pub(super) fn begin_connect(
        &mut self,
        alias: &Arc<str>,
        running: &mut Running,
        (path, wait, line_mode): (PathBuf, Duration, bool),
    ) {
        running.connecting =
            Some(Connecting { path, deadline: deadline_after(wait), wait, pause: FIRST_PAUSE, line_mode });
        self.schedule_connect(alias, running.run, Duration::ZERO);
    }

    /// One attempt to connect `alias`, then the next one scheduled, or
    /// the outcome noticed.
    pub(super) fn try_connect(&mut self, alias: &Arc<str>) {
        match self.attempt_connect(alias) {
            Attempt::Connected => self.notice(alias, NoticeKind::Ready),
            Attempt::Later(pause) => {
                let run = self.running.get(alias).map_or(0, |r| r.run);
                self.schedule_connect(alias, run, pause);
            }
            Attempt::Failed(error) => self.start_failed(alias, error),
            Attempt::NotConnecting => {}
        }
    }

    /// Waits up to `limit` for a [`nowait`](super::Start::nowait) socket
    /// start of `alias` to connect, trying as a waiting start does: for a
    /// host that must answer its own signals meanwhile (the Python
    /// package's waiting start is a `nowait` start, then this in 50 ms
    /// slices).
    ///
    /// `Ok(true)` once connected: its channel is in place, and no
    /// [`Ready`](super::Event::Ready) is handed over for it. `Ok(false)` if
    /// `limit` passed first: call again to go on (the socket wait counts
    /// from the start). `Err` is what a waiting start gives (the socket did
    /// not appear in time, the app exited first), and the start is undone
    /// as a waiting start's is: its process killed, the alias free, and no
    /// [`StartFailed`](super::Event::StartFailed) handed over. `Ok(true)`
    /// for an alias that is not connecting (a stdio app's, say).
    pub fn wait_ready(&mut self, alias: &str, limit: Duration) -> crate::Result<bool> {
        self.owned()?;
        let until = deadline_after(limit);
        loop {
            if let Some(outcome) = self.take_outcome(alias) {
                return outcome;
            }
            let (alias, process) = match self.running.get_key_value(alias) {
                Some((alias, running)) => (alias.clone(), running.process),
                None => return Err(Error::NoSuchProcess(alias.to_string())),
            };
            let pause = match self.attempt_connect(&alias) {
                Attempt::Connected | Attempt::NotConnecting => return Ok(true),
                Attempt::Failed(error) => {
                    self.start_failed(&alias, error);
                    continue;
                }
                Attempt::Later(pause) => pause,
            };
            let now = Instant::now();
            if now >= until {
                return Ok(false);
            }
            // Sleeps on the process, so that an exit ends the pause at once.
            let Some(process) = process.and_then(|token| self.reactor.process(token)) else { continue };
            if let Some(status) = process.wait_timeout(pause.min(until - now))? {
                let path = self.running.get_mut(&alias).and_then(|r| r.connecting.take()).map(|c| c.path);
                self.start_failed(&alias, Error::SocketAppExited { path: path.unwrap_or_default(), status });
            }
        }
    }

    /// The outcome the loop noticed for a connecting `alias`, taken out of
    /// the events to hand over: `Ready` or `StartFailed`.
    fn take_outcome(&mut self, alias: &str) -> Option<crate::Result<bool>> {
        let index = self.notices.iter().position(|n| {
            &*n.alias == alias && matches!(n.kind, NoticeKind::Ready | NoticeKind::StartFailed(_))
        })?;
        match self.notices.remove(index)?.kind {
            NoticeKind::StartFailed(error) => Some(Err(error)),
            _ => Some(Ok(true)),
        }
    }

    /// One attempt to connect `alias`.
    fn attempt_connect(&mut self, alias: &Arc<str>) -> Attempt {
        let Some(running) = self.running.get_mut(alias) else { return Attempt::NotConnecting };
        let Some(connecting) = running.connecting.as_mut() else { return Attempt::NotConnecting };
        let error = match sys::connect_unix(&connecting.path) {
            Ok(fd) => {
                let mut channel = Channel::from_socket_fd(fd);
                channel.set_line_buffered(connecting.line_mode);
                match self.reactor.register(channel) {
                    Ok(token) => {
                        self.connected(alias, token);
                        return Attempt::Connected;
                    }
                    Err(e) => e,
                }
            }
            Err(e) if not_there_yet(&e) => {
                let now = Instant::now();
                if now < connecting.deadline {
                    let pause = connecting.pause.min(connecting.deadline - now);
                    connecting.pause = (connecting.pause * 2).min(LONGEST_PAUSE);
                    return Attempt::Later(pause);
                }
                Error::SocketTimeout { path: connecting.path.clone(), waited: connecting.wait }
            }
            Err(e) => Error::Io(e),
        };
        Attempt::Failed(error)
    }

    fn connected(&mut self, alias: &Arc<str>, token: crate::token::Token) {
        let Some(running) = self.running.get_mut(alias) else { return };
        running.connecting = None;
        running.channel = Some(token);
        self.tokens.insert(token, alias.clone(), Role::Stdout);
        if let Some(process) = running.process {
            self.reactor.add_output(process, token);
        }
    }

    /// Undoes a `nowait` start: frees the alias, kills its process (reaped
    /// in the loop, without an event) and leaves a `StartFailed` notice.
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
        let notice = Notice { alias: alias.clone(), run: running.run, kind: NoticeKind::StartFailed(error) };
        self.notices.push_back(notice);
    }

    fn schedule_connect(&mut self, alias: &Arc<str>, run: u64, after: Duration) {
        let timer = self.reactor.set_timer(after);
        self.duties.insert(timer, Duty { alias: alias.clone(), run, kind: DutyKind::Connect });
    }
}

/// What one attempt to connect came to.
enum Attempt {
    Connected,
    /// Not there yet: the next attempt after this pause.
    Later(Duration),
    Failed(Error),
    /// The alias is gone, or not connecting.
    NotConnecting,
}

/// Errors that mean the socket is not there, or not listening, yet.
fn not_there_yet(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock)
}
