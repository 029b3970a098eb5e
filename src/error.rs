//! The crate's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// `Result` with procloop's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, with what a user needs to act on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The other end is gone: end of stream after the last byte, a peer
    /// that closed, or a channel closed here.
    EndpointClosed,
    /// This alias is already running (the alias).
    ProcessExists(String),
    /// No app is configured under this name (the name).
    UnknownApp(String),
    /// No process runs under this alias (the alias).
    NoSuchProcess(String),
    /// The command string cannot be split into words.
    BadCommand {
        /// The command as given.
        command: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Starting the command failed.
    Spawn {
        /// The program that could not be started.
        command: String,
        /// The OS error.
        source: io::Error,
    },
    /// A socket app's socket did not appear in time.
    SocketTimeout {
        /// The socket's path.
        path: PathBuf,
        /// How long was waited.
        waited: Duration,
    },
    /// A socket app exited before its socket could be connected.
    SocketAppExited {
        /// The socket's path.
        path: PathBuf,
        /// The app's exit status.
        status: ExitStatus,
    },
    /// Another process, neither the socket app nor one of its descendants,
    /// listens on the app's socket (it bound the path first, so the app's
    /// own bind failed); it was never taken for the app.
    SocketImpostor {
        /// The socket's path.
        path: PathBuf,
        /// The pid of the process that listens there.
        pid: u32,
        /// The app's exit status if it exited; `None` if its socket wait passed.
        exited: Option<ExitStatus>,
    },
    /// Something that is neither a socket nor an empty file is at a socket
    /// path; it was left untouched.
    SocketPathTaken {
        /// The path.
        path: PathBuf,
        /// What is there.
        found: String,
    },
    /// A socket path that cannot work: too long, or in a missing folder.
    InvalidSocketPath {
        /// The path.
        path: PathBuf,
        /// Why it cannot work.
        reason: String,
    },
    /// A setting of an app or a start that cannot work: an environment
    /// variable named `A=B` or with an empty name, a NUL byte in an
    /// argument, and the like.
    InvalidSetting {
        /// Which setting, with its value.
        setting: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An app's resource limit is above what this process may grant a child:
    /// its own hard limit (unless it has `CAP_SYS_RESOURCE`, which root in
    /// a container usually lacks), or the kernel's ceiling for open files.
    LimitTooHigh {
        /// The limit asked for.
        limit: crate::Limit,
        /// The most this process may grant.
        allowed: u64,
    },
    /// A write does not fit in the channel's write queue; none of it was
    /// taken. A turn's payload that does not fit names its bot, and then
    /// nothing of the turn was written to any bot.
    QueueFull {
        /// The bot whose queue is full, for a turn's payload
        /// ([`Runner::begin_turn`](crate::Runner::begin_turn)); `None` for
        /// a channel's own write.
        alias: Option<String>,
        /// Bytes already queued.
        queued: usize,
        /// Bytes this write asked to queue.
        requested: usize,
        /// The queue's limit.
        limit: usize,
    },
    /// No cgroup v2 subtree can be had for a Runner's children
    /// ([`Cgroups::Required`](crate::Cgroups::Required)), or an alias has
    /// no cgroup to ask about: why.
    CgroupsUnavailable(String),
    /// A tree limit cannot be enforced: its cgroup controller is missing,
    /// or there is no cgroup.
    LimitUnsupported {
        /// The limit asked for.
        limit: crate::Limit,
        /// What it needs and is missing: the controller as the kernel
        /// spells it (`memory`, `pids`, `cpu`), or a cgroup.
        missing: String,
    },
    /// A [`Runner`](crate::Runner) used in a forked copy of the process
    /// that made it: the children and fds it holds are that process's, and
    /// the copy must not touch them.
    ForkedCopy {
        /// The id of the process the Runner belongs to.
        owner: u32,
    },
    /// This bot is in a turn that has not ended (the alias).
    TurnInProgress(String),
    /// This alias's socket app has no connection: a `nowait` start (or a
    /// restart) still connecting, or one stopped before it connected (the
    /// alias).
    NotConnected(String),
    /// Any other OS error.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EndpointClosed => write!(f, "endpoint closed"),
            Error::ProcessExists(alias) => write!(f, "process {alias:?} is already running"),
            Error::UnknownApp(name) => write!(f, "no app named {name:?} is configured"),
            Error::NoSuchProcess(alias) => write!(f, "no process runs as {alias:?}"),
            Error::BadCommand { command, reason } => write!(f, "bad command {command:?}: {reason}"),
            Error::Spawn { command, source } => write!(f, "cannot start {command:?}: {source}"),
            Error::SocketTimeout { path, waited } => {
                write!(f, "socket {} did not appear within {waited:?}", path.display())
            }
            Error::SocketAppExited { path, status } => {
                write!(f, "app exited ({status}) before socket {} could be connected", path.display())
            }
            Error::SocketImpostor { path, pid, exited } => {
                let app = match exited {
                    Some(status) => format!("the app exited ({status})"),
                    None => "the app did not take it within its socket wait".to_string(),
                };
                write!(
                    f,
                    "socket {} is held by pid {pid}, which is not the app nor one of its children, \
                     and {app}; end that process or give the app another socket path",
                    path.display()
                )
            }
            Error::SocketPathTaken { path, found } => {
                write!(f, "refusing to replace {found} at socket path {}", path.display())
            }
            Error::InvalidSocketPath { path, reason } => {
                write!(f, "bad socket path {}: {reason}", path.display())
            }
            Error::InvalidSetting { setting, reason } => write!(f, "bad setting: {setting}: {reason}"),
            Error::LimitTooHigh { limit, allowed } => {
                write!(f, "limit {limit} is above what this process may grant a child ({allowed})")
            }
            Error::QueueFull { alias, queued, requested, limit } => {
                write!(f, "write queue full")?;
                if let Some(alias) = alias {
                    write!(f, " for {alias:?}")?;
                }
                write!(f, ": {queued} bytes queued, {requested} more asked for, limit {limit}")
            }
            Error::CgroupsUnavailable(why) => write!(f, "no cgroup for the children: {why}"),
            Error::LimitUnsupported { limit, missing } => {
                write!(f, "limit {limit} cannot be enforced: it needs {missing}")
            }
            Error::ForkedCopy { owner } => write!(
                f,
                "this Runner belongs to pid {owner}: a forked copy of it (pid {}) must not use it",
                std::process::id()
            ),
            Error::TurnInProgress(alias) => {
                write!(f, "bot {alias:?} is in a turn that has not ended; wait for its TurnEnded")
            }
            Error::NotConnected(alias) => write!(
                f,
                "{alias:?} has no connection: its socket app is still connecting, or was stopped before it connected"
            ),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
