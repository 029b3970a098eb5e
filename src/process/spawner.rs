//! Where a child is spawned from, and how: our own `clone` (`sys::clone`),
//! or where the kernel lacks `CLONE_PIDFD`, `posix_spawn` (no code of ours
//! in the child) or std's fork path.
//!
//! A child of `die_with_parent` gets its SIGKILL when the *thread* that
//! spawned it ends (that is how Linux's `PR_SET_PDEATHSIG` works), not when
//! the process does. So such children are spawned from the main thread,
//! which lives as long as the process, or else from one spawner thread that
//! procloop starts for it and that lives as long as the process too. It is
//! the one thread procloop ever starts, and only for `die_with_parent`
//! starts made off the main thread.

use std::io;
use std::process::Child;
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender, SyncSender};

use nix::libc;

use super::start_error;
use crate::sys;
use crate::sys::clone::{Cloned, Failed, Stage};
use crate::sys::spawn::Launch;

/// A started child.
#[derive(Debug)]
pub(crate) enum Started {
    /// By our own `clone`, with its pidfd.
    Cloned(Cloned),
    /// By `posix_spawn`: its pid.
    Spawned(u32),
    /// By std's fork path.
    Std(Child),
}

/// A start for the spawner thread, and where its answer goes.
type Job = (Launch, SyncSender<Result<Started, Failed>>);

/// Spawns `launch`; with `for_life`, from a thread that ends only with the
/// process.
pub(crate) fn spawn(launch: Launch, for_life: bool) -> Result<Started, Failed> {
    if !for_life || sys::is_main_thread() {
        return spawn_here(launch);
    }
    let (answer, answered) = mpsc::sync_channel(1);
    let gone = || Failed { stage: Stage::Clone, os: gone() };
    spawner().map_err(|os| Failed { stage: Stage::Clone, os })?.send((launch, answer)).map_err(|_| gone())?;
    answered.recv().map_err(|_| gone())?
}

/// Spawns `launch` from this thread: by `clone` (which measured faster
/// than `posix_spawn`: its child resets only the signals that need it, and
/// the pidfd comes with it), else by `posix_spawn` or std's fork path,
/// which can do all but the settings for untrusted code and fair share.
fn spawn_here(launch: Launch) -> Result<Started, Failed> {
    if let Some(cloned) = sys::clone::spawn(&launch)? {
        if cloned.made_in_cgroup {
            log::trace!("pid {} made in its cgroup by clone3", cloned.pid);
        }
        return Ok(Started::Cloned(cloned));
    }
    if launch.fits_posix_spawn() {
        let spawned = sys::spawn::posix_spawn(launch);
        return spawned.map(Started::Spawned).map_err(|os| Failed { stage: Stage::Unknown, os });
    }
    if !launch.settings.is_empty() {
        let os = io::Error::from_raw_os_error(libc::ENOSYS);
        return Err(Failed { stage: Stage::Clone, os });
    }
    log::debug!("no clone with CLONE_PIDFD here: spawning {:?} by fork", launch.program);
    // std's fork path execs with execvp, which would run a file with no #!
    // line under /bin/sh: refused here as exec refuses it.
    let program = match &launch.cwd {
        Some(cwd) if launch.program.is_relative() => cwd.join(&launch.program),
        _ => launch.program.clone(),
    };
    if !start_error::exec_would_run(&program) {
        return Err(Failed { stage: Stage::Exec, os: io::Error::from_raw_os_error(libc::ENOEXEC) });
    }
    launch.into_command().spawn().map(Started::Std).map_err(|os| Failed { stage: Stage::Unknown, os })
}

fn spawner() -> io::Result<&'static Sender<Job>> {
    static SPAWNER: OnceLock<Sender<Job>> = OnceLock::new();
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender);
    }
    let (sender, jobs) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new().name("procloop-spawner".into()).spawn(move || {
        for (launch, answer) in jobs {
            let _ = answer.send(spawn_here(launch));
        }
    });
    thread?;
    // Should two threads race here, the loser's spawner ends with its sender.
    Ok(SPAWNER.get_or_init(|| sender))
}

fn gone() -> io::Error {
    io::Error::other("procloop's spawner thread is gone")
}
