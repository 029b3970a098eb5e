//! [`Event`]: what `Runner::poll_once` hands its handler.

use std::process::ExitStatus;

use super::turn::{TurnId, TurnReport};
use crate::error::Error;
use crate::reactor::ReactorEvent;
use crate::reactor::timers::TimerId;

/// One thing that happened to the Runner's processes: plain data, handed
/// to the `poll_once` handler.
///
/// For each process: its `Data` (and `Stderr`) in order, `Closed` after the
/// last byte of its stdout, and `Exited` after every byte it wrote before
/// exiting was handed over.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Bytes from a process's stdout (or its socket); exactly one line
    /// when line-buffered. They are consumed: `read()` won't return them.
    Data {
        /// The process.
        alias: &'a str,
        /// The bytes.
        data: &'a [u8],
    },
    /// Bytes from a process's captured stderr ([`Stderr::Capture`](crate::Stderr::Capture)).
    Stderr {
        /// The process.
        alias: &'a str,
        /// The bytes.
        data: &'a [u8],
    },
    /// End of stream on the process's channel; every byte before it was
    /// handed over.
    Closed {
        /// The process.
        alias: &'a str,
    },
    /// The process exited and was reaped. Its alias stays taken (its last
    /// output can still be read) until `terminate`.
    Exited {
        /// The process.
        alias: &'a str,
        /// How it ended.
        status: ExitStatus,
    },
    /// An exited process was started again by its app's restart policy; a
    /// new channel is in place. It follows that exit's `Exited`. A socket
    /// app's restart connects in the loop, and `Restarted` waits until its
    /// own socket is connected; a restarted run that exits (or whose socket
    /// wait passes, then it is killed) before that has no events of its
    /// own: it counts as a failed run, restarted again or given up on, and
    /// the next `Restarted` or `GaveUp` carries its status.
    Restarted {
        /// The process.
        alias: &'a str,
        /// The exit that caused the restart.
        status: ExitStatus,
    },
    /// The restart policy gave up (too many restarts in its window, or the
    /// start failed, or a restarted socket app's run never connected): the
    /// alias stays exited, as after a plain exit.
    GaveUp {
        /// The process.
        alias: &'a str,
        /// Its last exit.
        status: ExitStatus,
    },
    /// A timer set with [`Runner::set_timer`](crate::Runner::set_timer) fired.
    Timer {
        /// The timer.
        id: TimerId,
    },
    /// A socket app started with [`Start::nowait`](crate::Start::nowait)
    /// is connected: its channel is in place, to the app's own socket (its
    /// listener is the app or one of its descendants, never another
    /// process that took the path).
    Ready {
        /// The process.
        alias: &'a str,
    },
    /// A socket app started with [`Start::nowait`](crate::Start::nowait)
    /// could not be connected: its socket did not appear within the app's
    /// socket wait ([`Error::SocketTimeout`], then the process is killed),
    /// the app exited first ([`Error::SocketAppExited`]), another process
    /// holds its socket ([`Error::SocketImpostor`], naming that process), or
    /// the connection failed. The start is undone: the alias is free, nothing runs, and no
    /// `Exited` follows.
    StartFailed {
        /// The process.
        alias: &'a str,
        /// Why.
        error: &'a Error,
    },
    /// A bot's first reply in a turn ([`Runner::begin_turn`](crate::Runner::begin_turn)):
    /// its first line after the turn's write (its first read without line
    /// buffering; with [`Turn::reply_prefix`](crate::Turn::reply_prefix),
    /// its first line that starts with the prefix), in time. Other output
    /// in the same turn comes as `Data`.
    Reply {
        /// The turn.
        turn: TurnId,
        /// The bot.
        alias: &'a str,
        /// The reply.
        data: &'a [u8],
        /// The time charged (wall or CPU, as the turn's [`Charge`](crate::Charge) says).
        elapsed: std::time::Duration,
    },
    /// Every bot of a turn has an outcome.
    TurnEnded {
        /// The turn.
        turn: TurnId,
        /// Each bot's outcome.
        report: &'a TurnReport,
    },
    /// An event of a channel or server of your own, registered through
    /// [`Runner::reactor`](crate::Runner::reactor).
    Reactor(ReactorEvent<'a>),
}
