//! What the Runner keeps per alias (`Running`), and the two kinds of work
//! it leaves for later: its own timers (a restart, a connection
//! attempt) and its own events (restarted, gave up, ready, start
//! failed), each tied to one run of an alias so that it can never act on a
//! later start of the same alias.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::{Buffering, Start};
use super::event::Event;
use super::peer::Owner;
use super::restart::RestartState;
use super::socket::not_connected;
use super::turn::{TurnId, TurnReport};
use crate::error::Error;
use crate::process::Process;
use crate::process::cgroup::Leaf;
use crate::reactor::timers::TimerId;
use crate::reactor::token::Token;

/// One alias, from its start until `terminate`.
#[derive(Debug)]
pub(crate) struct Running {
    /// Which start of the alias this is (a restart is a new run).
    pub(crate) run: u64,
    /// Kept for apps with a restart policy (so thousands of plain children
    /// stay small).
    pub(crate) origin: Option<Box<Origin>>,
    pub(crate) pid: u32,
    /// `None` while a socket start connects in the loop.
    pub(crate) channel: Option<Token>,
    pub(crate) stderr: Option<Token>,
    /// The process in the reactor, until its exit is handed over.
    pub(crate) process: Option<Token>,
    /// The process once its exit was handed over: its status and usage,
    /// and for a group leader the zombie that holds the group's id. Boxed,
    /// as is `connecting`: a run is kept in a hash map, whose every slot
    /// (a quarter to half of them empty) is as big as a `Running`.
    pub(crate) ended: Option<Box<Process>>,
    pub(crate) grace: Duration,
    /// The app's overage bank for turns.
    pub(crate) overage: Duration,
    /// `stop` was asked for: its exit is not restarted.
    pub(crate) stopped: bool,
    /// A socket start connecting in the loop (`nowait`, or a restart).
    pub(crate) connecting: Option<Box<Connecting>>,
    /// Its cgroup leaf, with a cgroup: removed when the alias is freed.
    pub(crate) leaf: Option<Leaf>,
    /// The timer that kills its leaf once a `stop`'s grace has passed.
    pub(crate) tree_kill: Option<TimerId>,
}

impl Running {
    /// The exit status, once the exit was handed over.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.ended.as_deref().and_then(Process::status)
    }
}

/// What a restart needs: the app and start options a process came from,
/// and its restarts so far.
#[derive(Debug)]
pub(crate) struct Origin {
    pub(crate) app: String,
    pub(crate) opts: Start,
    pub(crate) restart: RestartState,
}

/// A socket start connecting in the loop.
#[derive(Debug)]
pub(crate) struct Connecting {
    pub(crate) path: PathBuf,
    pub(crate) deadline: Instant,
    /// The socket wait it was given, for the error.
    pub(crate) wait: Duration,
    /// The pause before the next attempt; it doubles up to a cap.
    pub(crate) pause: Duration,
    pub(crate) buffering: Buffering,
    /// Whose socket it must be.
    pub(crate) owner: Owner,
    /// The pid of another process found listening there, for the error.
    pub(crate) impostor: Option<u32>,
    /// For a restarted run, the exit that caused the restart: its
    /// `Restarted` is held back until the connection is made.
    pub(crate) restarted: Option<ExitStatus>,
    /// Why a restarted run could not be connected; it was killed, and its
    /// exit is awaited to count it as a failed run.
    pub(crate) failed: Option<Error>,
}

impl Connecting {
    /// Why the app was not connected when it exited with `status`.
    pub(crate) fn failure(&mut self, status: ExitStatus) -> Error {
        let exited = Some(status);
        self.failed.take().unwrap_or_else(|| not_connected(&self.path, self.impostor, exited, self.wait))
    }
}

/// One of the Runner's own timers.
#[derive(Debug)]
pub(crate) struct OwnTimer {
    pub(crate) alias: Arc<str>,
    pub(crate) run: u64,
    pub(crate) kind: TimerPurpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerPurpose {
    Restart,
    Connect,
    /// The earliest deadline of the bots that owe a reply in a turn (the
    /// turn's key in the Runner's turns).
    TurnDeadline(TurnId, usize),
    /// A stopped child's grace has passed: its whole tree is killed.
    KillTree,
}

/// One of the Runner's own events, waiting to be handed over.
#[derive(Debug)]
pub(crate) struct OwnEvent {
    pub(crate) alias: Arc<str>,
    pub(crate) run: u64,
    pub(crate) kind: OwnEventKind,
}

#[derive(Debug)]
pub(crate) enum OwnEventKind {
    Restarted(ExitStatus),
    GaveUp(ExitStatus),
    Ready,
    StartFailed(Error),
    /// Not tied to an alias: its event's alias is empty.
    TurnEnded(TurnId, Box<TurnReport>),
}

impl OwnEvent {
    pub(crate) fn event(&self) -> Event<'_> {
        let alias = &*self.alias;
        match &self.kind {
            OwnEventKind::Restarted(status) => Event::Restarted { alias, status: *status },
            OwnEventKind::GaveUp(status) => Event::GaveUp { alias, status: *status },
            OwnEventKind::Ready => Event::Ready { alias },
            OwnEventKind::StartFailed(error) => Event::StartFailed { alias, error },
            OwnEventKind::TurnEnded(turn, report) => Event::TurnEnded { turn: *turn, report },
        }
    }
}
