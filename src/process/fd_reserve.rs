//! An fd held back for ending trees: when this process has run out of fds,
//! it is closed so that the cgroup file a kill needs can be opened, and
//! taken again after. Without it a host out of fds could not kill what a
//! child left behind, nor ever again once that leaf is retired.

use std::fs::File;
use std::io;

use nix::libc;

/// One open fd (`/dev/null`, close-on-exec), kept to be given up.
#[derive(Debug)]
pub(crate) struct FdReserve(Option<File>);

impl FdReserve {
    pub(crate) fn new() -> FdReserve {
        FdReserve(File::open("/dev/null").ok())
    }

    /// Runs `op`; if it fails for want of an fd, runs it again with the
    /// reserved fd closed, then takes one back.
    pub(crate) fn run<T>(&mut self, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        match op() {
            Err(e) if out_of_fds(&e) && self.0.is_some() => {
                log::debug!("out of fds: closing the reserved one to end a tree");
                self.0 = None;
                let done = op();
                self.0 = File::open("/dev/null").ok();
                done
            }
            done => done,
        }
    }
}

/// Whether `e` is this process's (or the system's) fd table being full.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
