//! [`Signal`]: the signals procloop can send, as its own type, so that its
//! public API does not tie procloop's versions to nix's.

use std::fmt;
use std::str::FromStr;

use nix::libc;

/// A signal to send to a child (`Runner::signal`, `Process::signal`).
///
/// The variants are named as in libc. It converts from and to the raw
/// number, and parses from its name with or without `SIG` (`"SIGINT"`,
/// `"int"`).
///
/// ```
/// use procloop::Signal;
///
/// assert_eq!(Signal::SIGINT.as_raw(), 2);
/// assert_eq!(Signal::from_raw(15), Some(Signal::SIGTERM));
/// assert_eq!("usr1".parse::<Signal>(), Ok(Signal::SIGUSR1));
/// assert_eq!(Signal::SIGKILL.to_string(), "SIGKILL");
/// ```
#[allow(non_camel_case_types, clippy::upper_case_acronyms, missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    SIGHUP,
    SIGINT,
    SIGQUIT,
    SIGILL,
    SIGTRAP,
    SIGABRT,
    SIGBUS,
    SIGFPE,
    SIGKILL,
    SIGUSR1,
    SIGSEGV,
    SIGUSR2,
    SIGPIPE,
    SIGALRM,
    SIGTERM,
    SIGCHLD,
    SIGCONT,
    SIGSTOP,
    SIGTSTP,
    SIGTTIN,
    SIGTTOU,
    SIGURG,
    SIGXCPU,
    SIGXFSZ,
    SIGVTALRM,
    SIGPROF,
    SIGWINCH,
    SIGIO,
    SIGPWR,
    SIGSYS,
}

/// Every signal with its name and number, in number order.
const ALL: [(Signal, &str, libc::c_int); 30] = [
    (Signal::SIGHUP, "SIGHUP", libc::SIGHUP),
    (Signal::SIGINT, "SIGINT", libc::SIGINT),
    (Signal::SIGQUIT, "SIGQUIT", libc::SIGQUIT),
    (Signal::SIGILL, "SIGILL", libc::SIGILL),
    (Signal::SIGTRAP, "SIGTRAP", libc::SIGTRAP),
    (Signal::SIGABRT, "SIGABRT", libc::SIGABRT),
    (Signal::SIGBUS, "SIGBUS", libc::SIGBUS),
    (Signal::SIGFPE, "SIGFPE", libc::SIGFPE),
    (Signal::SIGKILL, "SIGKILL", libc::SIGKILL),
    (Signal::SIGUSR1, "SIGUSR1", libc::SIGUSR1),
    (Signal::SIGSEGV, "SIGSEGV", libc::SIGSEGV),
    (Signal::SIGUSR2, "SIGUSR2", libc::SIGUSR2),
    (Signal::SIGPIPE, "SIGPIPE", libc::SIGPIPE),
    (Signal::SIGALRM, "SIGALRM", libc::SIGALRM),
    (Signal::SIGTERM, "SIGTERM", libc::SIGTERM),
    (Signal::SIGCHLD, "SIGCHLD", libc::SIGCHLD),
    (Signal::SIGCONT, "SIGCONT", libc::SIGCONT),
    (Signal::SIGSTOP, "SIGSTOP", libc::SIGSTOP),
    (Signal::SIGTSTP, "SIGTSTP", libc::SIGTSTP),
    (Signal::SIGTTIN, "SIGTTIN", libc::SIGTTIN),
    (Signal::SIGTTOU, "SIGTTOU", libc::SIGTTOU),
    (Signal::SIGURG, "SIGURG", libc::SIGURG),
    (Signal::SIGXCPU, "SIGXCPU", libc::SIGXCPU),
    (Signal::SIGXFSZ, "SIGXFSZ", libc::SIGXFSZ),
    (Signal::SIGVTALRM, "SIGVTALRM", libc::SIGVTALRM),
    (Signal::SIGPROF, "SIGPROF", libc::SIGPROF),
    (Signal::SIGWINCH, "SIGWINCH", libc::SIGWINCH),
    (Signal::SIGIO, "SIGIO", libc::SIGIO),
    (Signal::SIGPWR, "SIGPWR", libc::SIGPWR),
    (Signal::SIGSYS, "SIGSYS", libc::SIGSYS),
];

impl Signal {
    /// The signal's number.
    pub fn as_raw(self) -> i32 {
        ALL.iter().find(|(s, ..)| *s == self).map_or(0, |(.., raw)| *raw)
    }

    /// The signal with this number; `None` for one procloop has no name for.
    pub fn from_raw(raw: i32) -> Option<Signal> {
        ALL.iter().find(|(.., r)| *r == raw).map(|(s, ..)| *s)
    }

    /// The name, as in libc (`"SIGTERM"`).
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(s, ..)| *s == self).map_or("?", |(_, name, _)| name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no signal procloop knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSignal(pub String);

impl fmt::Display for UnknownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown signal {:?}", self.0)
    }
}

impl std::error::Error for UnknownSignal {}

impl FromStr for Signal {
    type Err = UnknownSignal;

    fn from_str(s: &str) -> Result<Signal, UnknownSignal> {
        let upper = s.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        ALL.iter()
            .find(|(_, name, _)| name[3..] == *bare)
            .map(|(s, ..)| *s)
            .ok_or_else(|| UnknownSignal(s.to_string()))
    }
}

impl TryFrom<i32> for Signal {
    type Error = UnknownSignal;

    fn try_from(raw: i32) -> Result<Signal, UnknownSignal> {
        Signal::from_raw(raw).ok_or_else(|| UnknownSignal(raw.to_string()))
    }
}

impl From<Signal> for i32 {
    fn from(signal: Signal) -> i32 {
        signal.as_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_round_trips_by_number_and_name() {
        for (signal, name, raw) in ALL {
            assert_eq!(signal.as_raw(), raw);
            assert_eq!(Signal::from_raw(raw), Some(signal));
            assert_eq!(name.parse::<Signal>(), Ok(signal));
            assert_eq!(name[3..].to_lowercase().parse::<Signal>(), Ok(signal));
        }
        assert_eq!(Signal::from_raw(0), None);
        assert!("SIGNOPE".parse::<Signal>().is_err());
        assert!("".parse::<Signal>().is_err());
    }
}
