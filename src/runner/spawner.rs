//! Where a child is spawned from. A child of `die_with_parent` gets its
//! SIGKILL when the *thread* that spawned it ends (that is how Linux's
//! `PR_SET_PDEATHSIG` works), not when the process does. So such children
//! are spawned from the main thread, which lives as long as the process, or
//! else from one spawner thread that procloop starts for it and that lives
//! as long as the process too. It is the one thread procloop ever starts,
//! and only for `die_with_parent` starts made off the main thread.

use std::io;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender, SyncSender};

use crate::sys;

/// A start for the spawner thread, and where its answer goes.
type Job = (Command, SyncSender<io::Result<Child>>);

/// Spawns `command`; with `for_life`, from a thread that ends only with the
/// process.
pub(crate) fn spawn(mut command: Command, for_life: bool) -> io::Result<Child> {
    if !for_life || sys::is_main_thread() {
        return command.spawn();
    }
    let (answer, answered) = mpsc::sync_channel(1);
    spawner()?.send((command, answer)).map_err(|_| gone())?;
    answered.recv().map_err(|_| gone())?
}

fn spawner() -> io::Result<&'static Sender<Job>> {
    static SPAWNER: OnceLock<Sender<Job>> = OnceLock::new();
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender);
    }
    let (sender, jobs) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new().name("procloop-spawner".into()).spawn(move || {
        for (mut command, answer) in jobs {
            let _ = answer.send(command.spawn());
        }
    });
    thread?;
    // Should two threads race here, the loser's spawner ends with its sender.
    Ok(SPAWNER.get_or_init(|| sender))
}

fn gone() -> io::Error {
    io::Error::other("procloop's spawner thread is gone")
}
