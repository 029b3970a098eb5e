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
        let Some(running) = self.running.get_mut(alias) else { return };
        let Some(connecting) = running.connecting.as_mut() else { return };
        let error = match sys::connect_unix(&connecting.path) {
            Ok(fd) => {
                let mut channel = Channel::from_socket_fd(fd);
                channel.set_line_buffered(connecting.line_mode);
                match self.reactor.register(channel) {
                    Ok(token) => return self.connected(alias, token),
                    Err(e) => e,
                }
            }
            Err(e) if not_there_yet(&e) => {
                let now = Instant::now();
                if now < connecting.deadline {
                    let pause = connecting.pause.min(connecting.deadline - now);
                    connecting.pause = (connecting.pause * 2).min(LONGEST_PAUSE);
                    let run = running.run;
                    return self.schedule_connect(alias, run, pause);
                }
                Error::SocketTimeout { path: connecting.path.clone(), waited: connecting.wait }
            }
            Err(e) => Error::Io(e),
        };
        self.start_failed(alias, error);
    }

    fn connected(&mut self, alias: &Arc<str>, token: crate::token::Token) {
        let Some(running) = self.running.get_mut(alias) else { return };
        running.connecting = None;
        running.channel = Some(token);
        self.tokens.insert(token, alias.clone(), Role::Stdout);
        if let Some(process) = running.process {
            self.reactor.add_output(process, token);
        }
        self.notice(alias, NoticeKind::Ready);
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
        self.contain.retire(running.leaf.take());
        let notice = Notice { alias: alias.clone(), run: running.run, kind: NoticeKind::StartFailed(error) };
        self.notices.push_back(notice);
    }

    fn schedule_connect(&mut self, alias: &Arc<str>, run: u64, after: Duration) {
        let timer = self.reactor.set_timer(after);
        self.duties.insert(timer, Duty { alias: alias.clone(), run, kind: DutyKind::Connect });
    }
}

/// Errors that mean the socket is not there, or not listening, yet.
fn not_there_yet(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock)
}
