//! Why a start failed, told so that it blames the right thing: the working
//! directory, the program, its `#!` interpreter, the PATH, or a setting.
//!
//! The OS error stays the source (its kind and errno too); the message in
//! front of it names what the error is about.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nix::libc;

use super::untrusted::Untrusted;
use crate::process::limit::Limit;
use crate::sys::clone::{Failed, Stage};

/// What a start tried, to name in its error.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    /// The program file.
    pub(crate) program: &'a Path,
    pub(crate) cwd: Option<&'a Path>,
    pub(crate) limits: &'a [Limit],
    /// The child's cgroup directory, where known.
    pub(crate) cgroup: Option<&'a Path>,
    pub(crate) untrusted: &'a Untrusted,
}

/// The error of a start that failed at `failed.stage`, naming what that
/// step was about and, where it is a privilege, what would allow it.
pub(crate) fn explain(attempt: &Attempt<'_>, failed: Failed) -> io::Error {
    let Failed { stage, os } = failed;
    let untrusted = attempt.untrusted;
    let what = match stage {
        Stage::Exec => return exec_failed(attempt.program, attempt.cwd, os),
        Stage::Unknown => return spawn_failed(attempt.program, attempt.cwd, os),
        Stage::Cwd => return cwd_failed(attempt.cwd.unwrap_or(Path::new("")), os),
        Stage::Clone => clone_failed(attempt.untrusted, &os),
        Stage::Signals => "resetting the child's signals".to_string(),
        Stage::Stdio => "the child's stdin, stdout and stderr".to_string(),
        Stage::ProcessGroup => "the child's own process group".to_string(),
        Stage::Terminal => "the child's terminal session".to_string(),
        Stage::Cgroup => match attempt.cgroup {
            Some(path) => format!("joining cgroup {}", path.display()),
            None => "joining its cgroup".to_string(),
        },
        Stage::Limit(resource) => {
            match attempt.limits.iter().find(|l| l.controller().is_none() && l.resource() == resource) {
                Some(limit) => format!("limit {limit}"),
                None => "a limit".to_string(),
            }
        }
        Stage::Scheduler => format!("scheduler {:?}", untrusted.scheduler.unwrap_or_default()),
        Stage::Nice => format!("nice {} (below 0 needs root or CAP_SYS_NICE)", untrusted.nice.unwrap_or(0)),
        Stage::Affinity => format!(
            "cpu_affinity {:?} (only CPUs that are online and allowed to this process)",
            untrusted.cpu_affinity.as_deref().unwrap_or_default()
        ),
        Stage::Loopback => "isolate_network: bringing up lo".to_string(),
        Stage::User => {
            let (uid, gid) = untrusted.user.unwrap_or_default();
            format!("user {uid}, group {gid} (switching user needs root, or CAP_SETUID and CAP_SETGID)")
        }
        Stage::DieWithParent => "die_with_parent (PR_SET_PDEATHSIG; the parent may have died)".to_string(),
        Stage::NoNewPrivileges => "no_new_privileges".to_string(),
    };
    about(what, os)
}

/// What a failed `clone` is about: the namespaces asked for, else the
/// settings that need it.
fn clone_failed(untrusted: &Untrusted, os: &io::Error) -> String {
    let asked: Vec<&str> =
        [(untrusted.isolate_network, "isolate_network"), (untrusted.isolate_pids, "isolate_pids")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
    match os.raw_os_error() {
        Some(libc::EPERM) if !asked.is_empty() => {
            format!("{} (a namespace of its own needs root or CAP_SYS_ADMIN)", asked.join(" and "))
        }
        Some(libc::ENOSYS | libc::EINVAL) => {
            "the child's clone (user, namespaces, no_new_privileges, nice, scheduler and \
             cpu_affinity need clone with CLONE_PIDFD, Linux 5.2)"
                .to_string()
        }
        _ if !asked.is_empty() => format!("{} (the child's clone)", asked.join(" and ")),
        _ => "the child's clone".to_string(),
    }
}

/// An OS error with what it is about.
#[derive(Debug)]
struct StartFailure {
    what: String,
    os: io::Error,
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.os)
    }
}

impl std::error::Error for StartFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.os)
    }
}

/// `os`, said to be about `what`; of the same kind.
pub(crate) fn about(what: String, os: io::Error) -> io::Error {
    io::Error::new(os.kind(), StartFailure { what, os })
}

/// The error of a start whose working directory `cwd` could not be entered.
pub(crate) fn cwd_failed(cwd: &Path, os: io::Error) -> io::Error {
    about(format!("working directory {}", cwd.display()), os)
}

/// A bare command name that is in no folder of `path`.
pub(crate) fn not_in_path(path: &OsStr) -> io::Error {
    let what =
        format!("not found in PATH {} (Runner::with_extra_paths adds folders to it)", path.to_string_lossy());
    about(what, io::Error::from_raw_os_error(libc::ENOENT))
}

/// Explains why running `program` (a path, relative to `cwd` if relative)
/// failed with `os`, when it is not known whether entering `cwd` or the
/// exec failed (`posix_spawn` tells only the error number).
pub(crate) fn spawn_failed(program: &Path, cwd: Option<&Path>, os: io::Error) -> io::Error {
    if let Some(cwd) = cwd
        && let Err(entering) = cwd.join(".").metadata()
    {
        return cwd_failed(cwd, entering);
    }
    exec_failed(program, cwd, os)
}

/// Explains why the exec of `program` failed with `os`.
pub(crate) fn exec_failed(program: &Path, cwd: Option<&Path>, os: io::Error) -> io::Error {
    let shown = program.display();
    let file = match cwd {
        Some(cwd) if program.is_relative() => cwd.join(program),
        _ => program.to_path_buf(),
    };
    let what = match os.raw_os_error() {
        Some(libc::ENOEXEC) => match interpreter(&file) {
            Some(interpreter) => {
                format!(
                    "the interpreter {} on the #! line of {shown} is not a program",
                    interpreter.display()
                )
            }
            None if looks_runnable(&file) => format!("{shown} is a binary this kernel does not run"),
            None => format!("{shown} has no #! line and is not a binary this kernel runs"),
        },
        Some(libc::ENOENT) if file.exists() => match interpreter(&file) {
            Some(interpreter) if !interpreter.exists() => {
                format!("the interpreter {} named on the #! line of {shown}", interpreter.display())
            }
            Some(interpreter) => format!("{shown} (its #! interpreter {})", interpreter.display()),
            None => format!("{shown} (a binary whose loader is missing, or of another architecture)"),
        },
        Some(libc::EACCES) if file.is_file() => format!("{shown} (is it executable, on a noexec mount?)"),
        _ => shown.to_string(),
    };
    about(what, os)
}

/// Whether `execve` would run the file, going by its start: an ELF header,
/// or a `#!` line whose interpreter would run in turn (the kernel follows
/// a few of those). Other formats the kernel may know through
/// `binfmt_misc` are not recognised.
pub(crate) fn exec_would_run(program: &Path) -> bool {
    let mut file = program.to_path_buf();
    for _ in 0..4 {
        if !looks_runnable(&file) {
            return false;
        }
        match interpreter(&file) {
            Some(next) => file = next,
            None => return true,
        }
    }
    true
}

/// Whether the file starts like something `execve` runs: a `#!` line or an
/// ELF header.
fn looks_runnable(program: &Path) -> bool {
    let mut head = [0u8; 4];
    let n = std::fs::File::open(program).and_then(|mut f| read_full(&mut f, &mut head)).unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n] == *b"\x7fELF"
}

/// The interpreter a `#!` line names, if the file starts with one.
fn interpreter(file: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).and_then(|mut f| read_full(&mut f, &mut head)).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let word = line.split(|&b| b == b' ' || b == b'\t').find(|w| !w.is_empty())?;
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(OsStr::from_bytes(word)))
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
