//! [`Command`]: one child to start, as the process layer takes it: what to
//! exec with what environment and where, how its stdio is wired, its
//! limits and settings. The Runner makes one from an `App` and a `Start`,
//! a [`Spawn`](crate::Spawn) from itself; both borrow what they hold.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::limit::Limit;
use super::stdio::{Buffering, Stderr, Transport};
use super::untrusted::Untrusted;

/// One child to start.
pub(crate) struct Command<'a> {
    /// The program (a path, or a bare name looked up in PATH) and its
    /// arguments.
    pub(crate) argv: Vec<String>,
    /// Set on top of this process's environment (a `PATH` here is the
    /// one the program is looked up in).
    pub(crate) env: &'a [(OsString, OsString)],
    pub(crate) cwd: Option<&'a Path>,
    /// With a socket the child listens on, its stdin is `/dev/null` and its
    /// stdout ours; whoever started it connects (`None`: stdio channels).
    pub(crate) socket: Option<PathBuf>,
    pub(crate) transport: Transport,
    pub(crate) stderr: Stderr,
    /// A terminal as stdin, stdout and stderr, in a session of its own.
    pub(crate) pty: bool,
    /// How our channel hands over what it reads.
    pub(crate) buffering: Buffering,
    /// It leads a process group of its own.
    pub(crate) setpgrp: bool,
    /// Its own limits (`setrlimit`) and its tree's (its cgroup's).
    pub(crate) limits: &'a [Limit],
    pub(crate) untrusted: &'a Untrusted,
    /// SIGKILL once this process ends.
    pub(crate) die_with_parent: bool,
}
