//! Socket apps: clearing the path before the start, connecting after it
//! (to the app's own socket only).

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::peer::Owner;
use crate::error::{Error, Result};
use crate::process::Process;

/// The longest path a UNIX socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Longest pause between two connection attempts.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Checks the path can hold a socket, and removes a stale socket or an
/// empty file there. Anything else is refused and left untouched.
pub(crate) fn clear_socket_path(path: &Path) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidSocketPath { path: path.to_path_buf(), reason: reason.into() };
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(invalid(&format!("longer than the {MAX_SOCKET_PATH} bytes a socket address holds")));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(invalid("its folder does not exist"));
    }
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    let kind = meta.file_type();
    if kind.is_socket() && is_live(path) {
        let found = "a live socket (something listens on it)".to_string();
        return Err(Error::SocketPathTaken { path: path.to_path_buf(), found });
    }
    if kind.is_socket() || (kind.is_file() && meta.len() == 0) {
        log::debug!(
            "removing stale {} at {}",
            if kind.is_socket() { "socket" } else { "empty file" },
            path.display()
        );
        return Ok(fs::remove_file(path)?);
    }
    let found = if kind.is_file() {
        format!("a file of {} bytes", meta.len())
    } else if kind.is_dir() {
        "a directory".to_string()
    } else if kind.is_symlink() {
        "a symbolic link".to_string()
    } else {
        "a special file".to_string()
    };
    Err(Error::SocketPathTaken { path: path.to_path_buf(), found })
}

/// Whether a server listens on the socket at `path`: a stale socket
/// refuses connections. (A connection that cannot be made for another
/// reason counts as live: the socket is then left alone.)
fn is_live(path: &Path) -> bool {
    match crate::sys::connect_unix(path) {
        Ok(_) => true,
        Err(e) => !matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound),
    }
}

/// Connects to the app's socket, retrying until the app itself (or one of
/// its descendants) listens there, the app exits, or `wait` passes. Waiting
/// sleeps on the process (its pidfd), so an exit ends the wait at once. A
/// listener that is not the app's is never taken: the error then names it.
pub(crate) fn connect(path: &Path, process: &mut Process, wait: Duration) -> Result<OwnedFd> {
    let start = Instant::now();
    let owner = Owner { pid: process.pid(), group: process.is_group_leader() };
    let mut impostor = None;
    let mut pause = Duration::from_millis(1);
    loop {
        // Not blocking: an impostor that never accepts fills its backlog.
        match crate::sys::connect_unix(path) {
            Ok(fd) => match owner.impostor(fd.as_fd(), path)? {
                None => return Ok(fd),
                Some(pid) => impostor = Some(pid),
            },
            Err(e) if not_there_yet(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = process.try_wait()? {
            return Err(not_connected(path, impostor, Some(status), wait));
        }
        let waited = start.elapsed();
        if waited >= wait {
            return Err(not_connected(path, impostor, None, wait));
        }
        process.wait_timeout(pause.min(wait - waited))?;
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    }
}

/// Why a socket app could not be connected: another process held its
/// socket (`impostor`), it exited first (`exited`), or `wait` passed.
pub(crate) fn not_connected(
    path: &Path,
    impostor: Option<u32>,
    exited: Option<ExitStatus>,
    wait: Duration,
) -> Error {
    let path = path.to_path_buf();
    match (impostor, exited) {
        (Some(pid), exited) => Error::SocketImpostor { path, pid, exited },
        (None, Some(status)) => Error::SocketAppExited { path, status },
        (None, None) => Error::SocketTimeout { path, waited: wait },
    }
}

/// Errors that mean the socket is not there, or not listening, yet: no
/// socket, nobody listening, or a backlog that is full.
pub(crate) fn not_there_yet(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock)
}
