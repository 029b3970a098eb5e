//! SIGINT, SIGTERM and SIGHUP as events of the loop: blocked, and read
//! from a signalfd that the Runner's reactor watches, so that a Ctrl-C
//! ends the tournament its own way (finished games kept, engines ended,
//! a summary) instead of killing the harness mid-write.

use std::os::fd::AsRawFd;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use procloop::{Channel, Runner, Token};

/// The signals that end the tournament early.
const ENDING: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

pub struct Signals {
    /// Kept open while the reactor watches it (it borrows the fd).
    fd: SignalFd,
    /// The reactor's token for the signalfd: its `Data` is a signal.
    pub token: Token,
}

impl Signals {
    /// Blocks the ending signals (the engines start with none blocked:
    /// the Runner clears the mask) and watches them in `runner`'s loop.
    pub fn watch(runner: &mut Runner) -> Result<Signals, Box<dyn std::error::Error>> {
        let mut set = SigSet::empty();
        ENDING.iter().for_each(|&signal| set.add(signal));
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let channel = Channel::from_borrowed_pipe(Some(fd.as_raw_fd()), None)?;
        let token = runner.reactor().register(channel)?;
        Ok(Signals { fd, token })
    }

    /// The first signal in `data`, read from the signalfd: each record
    /// (`signalfd_siginfo`) starts with its number.
    pub fn number(data: &[u8]) -> i32 {
        match data {
            [a, b, c, d, ..] => u32::from_ne_bytes([*a, *b, *c, *d]) as i32,
            _ => 0,
        }
    }

    /// Stops watching, before the fd closes.
    pub fn unwatch(self, runner: &mut Runner) {
        let _ = runner.reactor().unregister(self.token);
        drop(self.fd);
    }
}

/// A signal's name: "SIGINT" for 2.
pub fn name(number: i32) -> String {
    Signal::try_from(number).map_or_else(|_| format!("signal {number}"), |s| s.as_str().to_string())
}
