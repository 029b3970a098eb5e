//! Starting a child: one description of the exec ([`Launch`]), carried out
//! by our own `clone` (`sys::clone`), or where the kernel lacks
//! `CLONE_PIDFD` by `posix_spawn(3)` when the child needs no code of ours
//! before it runs its program, else by std's `Command` (fork, our code, exec).
//!
//! std's own `posix_spawn` path resets only SIGPIPE, so a host that ignores
//! other signals (Python ignores SIGXFSZ) would push every start onto the
//! fork path just to reset them, and a fork copies the host's page tables:
//! 40% slower starts measured under Python. Our `posix_spawn` resets them
//! all (`POSIX_SPAWN_SETSIGDEF`) and clears the signal mask on the fast path.

use std::ffi::{CString, OsString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use nix::libc;

use super::child::{self, ChildSetup, Settings};

/// Where one of a child's stdin, stdout and stderr comes from.
#[derive(Debug)]
pub(crate) enum ChildStdio {
    Inherit,
    Null,
    Fd(OwnedFd),
}

/// One exec, described.
#[derive(Debug)]
pub(crate) struct Launch {
    /// The program file, or a bare name to look up in PATH.
    pub(crate) program: PathBuf,
    /// `argv[0]` first.
    pub(crate) argv: Vec<String>,
    /// Set on top of this process's environment.
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: Option<PathBuf>,
    /// stdin, stdout, stderr.
    pub(crate) stdio: [ChildStdio; 3],
    pub(crate) process_group: bool,
    pub(crate) setup: ChildSetup,
    /// An open fd of the child's cgroup leaf directory: the child is placed
    /// in it before its program runs (a failure is a start error naming it).
    /// Shared with the leaf, which keeps it open for its next children.
    pub(crate) cgroup: Option<Arc<OwnedFd>>,
    /// For untrusted code and fair share: only our own `clone` sets them.
    pub(crate) settings: Settings,
}

impl Launch {
    /// Whether `posix_spawn` can carry it out: the child runs no code of
    /// ours, and the program is a path (a bare name is looked up in the
    /// child's PATH, which std does).
    pub(crate) fn fits_posix_spawn(&self) -> bool {
        !self.setup.runs_code()
            && self.cgroup.is_none()
            && self.settings.is_empty()
            && self.program.as_os_str().as_bytes().contains(&b'/')
    }

    /// The same as a std `Command`, our code in the child included.
    pub(crate) fn into_command(self) -> Command {
        let Launch { program, argv, env, cwd, stdio, process_group, setup, cgroup, settings: _ } = self;
        let mut command = Command::new(program);
        command.arg0(&argv[0]).args(&argv[1..]).envs(env);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let [stdin, stdout, stderr] = stdio.map(|s| match s {
            ChildStdio::Inherit => Stdio::inherit(),
            ChildStdio::Null => Stdio::null(),
            ChildStdio::Fd(fd) => Stdio::from(fd),
        });
        command.stdin(stdin).stdout(stdout).stderr(stderr);
        if process_group {
            command.process_group(0);
        }
        // Before our other set-up in the child (limits, a session), and so
        // before its program runs.
        if let Some(leaf) = cgroup {
            child::place_in_cgroup(&mut command, leaf);
        }
        child::prepare(&mut command, setup);
        command
    }
}

/// Starts `launch` with `posix_spawn`; the pid. Every signal this process
/// ignores, and SIGPIPE, is back at its default action in the child, and no
/// signal is blocked.
pub(crate) fn posix_spawn(launch: Launch) -> io::Result<u32> {
    let program = c_string(launch.program.as_os_str().as_bytes())?;
    let argv = launch.argv.iter().map(|a| c_string(a.as_bytes())).collect::<io::Result<Vec<_>>>()?;
    let envp = environment(&launch.env)?;
    let mut actions = FileActions::new()?;
    for (target, stdio) in launch.stdio.iter().enumerate() {
        actions.set(target as libc::c_int, stdio)?;
    }
    if let Some(cwd) = &launch.cwd {
        actions.chdir(&c_string(cwd.as_os_str().as_bytes())?)?;
    }
    let attributes = Attributes::new(launch.process_group, launch.setup.signals_to_reset())?;
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: the C strings and the
    // null-terminated arrays of pointers to them outlive it, and the file
    // actions and attributes were initialised.
    let res = unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attributes.0,
            argv_ptrs.as_ptr(),
            envp_ptrs.as_ptr(),
        )
    };
    if res != 0 {
        return Err(io::Error::from_raw_os_error(res));
    }
    Ok(pid as u32)
}

/// This process's environment with `overrides` set on top, as `K=V` strings.
pub(super) fn environment(overrides: &[(OsString, OsString)]) -> io::Result<Vec<CString>> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    // In order: a later override of the same name wins.
    for (key, value) in overrides {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    env.iter().map(|(k, v)| c_string(&[k.as_bytes(), b"=", v.as_bytes()].concat())).collect()
}

pub(super) fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a start's setting"))
}

pub(super) fn null_terminated(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings.iter().map(|s| s.as_ptr().cast_mut()).chain([std::ptr::null_mut()]).collect()
}

/// `posix_spawn_file_actions_t`, destroyed on drop.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<FileActions> {
        let mut actions = MaybeUninit::uninit();
        // SAFETY: init fills the uninitialised value it is given.
        check(unsafe { libc::posix_spawn_file_actions_init(actions.as_mut_ptr()) })?;
        // SAFETY: init succeeded.
        Ok(FileActions(unsafe { actions.assume_init() }))
    }

    /// Makes fd `target` in the child what `stdio` says.
    fn set(&mut self, target: libc::c_int, stdio: &ChildStdio) -> io::Result<()> {
        match stdio {
            ChildStdio::Inherit => Ok(()),
            // SAFETY: initialised actions; the path is a valid C string.
            ChildStdio::Null => check(unsafe {
                libc::posix_spawn_file_actions_addopen(
                    &mut self.0,
                    target,
                    c"/dev/null".as_ptr(),
                    libc::O_RDWR,
                    0,
                )
            }),
            // SAFETY: initialised actions; `fd` is open until the spawn is done.
            // (Should `fd` already be `target`, dup2 in posix_spawn clears its
            // close-on-exec flag, as POSIX asks.)
            ChildStdio::Fd(fd) => {
                check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd.as_raw_fd(), target) })
            }
        }
    }

    fn chdir(&mut self, dir: &CString) -> io::Result<()> {
        // SAFETY: initialised actions; the path is a valid C string, copied by the call.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut self.0, dir.as_ptr()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// `posix_spawnattr_t`, destroyed on drop.
struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    /// A new process group if asked; `reset` (a mask, bit `n - 1` for
    /// signal `n`) back at their default action; no signal blocked.
    fn new(process_group: bool, reset: u64) -> io::Result<Attributes> {
        let mut attributes = MaybeUninit::uninit();
        // SAFETY: init fills the uninitialised value it is given.
        check(unsafe { libc::posix_spawnattr_init(attributes.as_mut_ptr()) })?;
        // SAFETY: init succeeded.
        let mut attributes = Attributes(unsafe { attributes.assume_init() });
        let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        // SAFETY: initialised attributes and signal sets, all valid for the calls.
        unsafe {
            let mut none = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(none.as_mut_ptr());
            check(libc::posix_spawnattr_setsigmask(&mut attributes.0, none.as_ptr()))?;
            let mut defaults = none.assume_init();
            for signal in 1..=64 {
                if reset & (1 << (signal - 1)) != 0 {
                    libc::sigaddset(&mut defaults, signal);
                }
            }
            check(libc::posix_spawnattr_setsigdefault(&mut attributes.0, &defaults))?;
            if process_group {
                flags |= libc::POSIX_SPAWN_SETPGROUP;
                check(libc::posix_spawnattr_setpgroup(&mut attributes.0, 0))?;
            }
            check(libc::posix_spawnattr_setflags(&mut attributes.0, flags as libc::c_short))?;
        }
        Ok(attributes)
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// The `posix_spawn` family returns an error number instead of setting errno.
fn check(res: libc::c_int) -> io::Result<()> {
    if res == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(res)) }
}
