//! Waiting for one child by pid, with the resources it used: reaping it
//! (`wait4`), or peeking at its exit and leaving it a zombie (`waitid`
//! with `WNOWAIT`), and the CPU clock of a running one.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use nix::libc;

/// How a child ended: its raw wait status and what it used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ended {
    /// As `waitpid` gives it: `WIFEXITED`, `WTERMSIG` and so on apply.
    pub(crate) status: i32,
    pub(crate) user: Duration,
    pub(crate) system: Duration,
    /// Peak resident set, in bytes.
    pub(crate) max_rss: u64,
}

/// Reaps `pid` if it has ended; `Ok(None)` while it runs. `ECHILD` means it
/// is not ours to reap (any more).
pub(crate) fn try_reap(pid: u32) -> io::Result<Option<Ended>> {
    let mut status = 0;
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    loop {
        // SAFETY: `status` and `usage` are valid for writes; wait4 fills them.
        let res =
            unsafe { syscall!(wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, usage.as_mut_ptr())) };
        match res {
            Ok(0) => return Ok(None),
            Ok(_) => {
                // SAFETY: wait4 succeeded for our pid, so it filled `usage`.
                let usage = unsafe { usage.assume_init() };
                return Ok(Some(ended(status, &usage)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Looks at `pid`'s exit without reaping it: the child stays a zombie, so
/// its pid (and the process group it led) cannot be reused meanwhile.
/// `Ok(None)` while it runs.
pub(crate) fn peek_exit(pid: u32) -> io::Result<Option<Ended>> {
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    loop {
        // SAFETY: the raw waitid takes a siginfo and an rusage to fill, both
        // valid for writes (libc's wrapper has no rusage argument).
        let res = unsafe {
            syscall!(syscall(
                libc::SYS_waitid,
                libc::P_PID,
                pid as libc::id_t,
                info.as_mut_ptr(),
                options,
                usage.as_mut_ptr()
            ))
        };
        match res {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // SAFETY: both were zeroed, then filled by a successful waitid.
    let (info, usage) = unsafe { (info.assume_init(), usage.assume_init()) };
    // SAFETY: for a SIGCHLD-type siginfo, si_pid and si_status are the fields
    // waitid fills; a zero pid says nothing has ended yet.
    let (who, code) = unsafe { (info.si_pid(), info.si_status()) };
    if who == 0 {
        return Ok(None);
    }
    let status = match info.si_code {
        libc::CLD_EXITED => (code & 0xff) << 8,
        libc::CLD_DUMPED => code | 0x80,
        _ => code,
    };
    Ok(Some(ended(status, &usage)))
}

fn ended(status: i32, usage: &libc::rusage) -> Ended {
    let time = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    Ended {
        status,
        user: time(usage.ru_utime),
        system: time(usage.ru_stime),
        max_rss: (usage.ru_maxrss.max(0) as u64) * 1024,
    }
}

/// CPU time (user and system, all threads) a running process used so far:
/// one `clock_gettime` on its CPU clock. (libc's `clock_getcpuclockid`
/// would make a second syscall per call, `clock_getres`, only to check that
/// the pid exists; ours cannot be gone: it is not reaped yet.)
pub(crate) fn cpu_time(pid: u32) -> io::Result<Duration> {
    let clock = process_cpu_clock(pid);
    let mut now = MaybeUninit::<libc::timespec>::zeroed();
    // SAFETY: `now` is valid for writes of one timespec.
    unsafe { syscall!(clock_gettime(clock, now.as_mut_ptr())) }?;
    // SAFETY: clock_gettime succeeded and filled it.
    let now = unsafe { now.assume_init() };
    Ok(Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec.max(0) as u32))
}

/// The id of `pid`'s CPU clock, as the kernel encodes it (its ABI, as
/// glibc's and musl's `clock_getcpuclockid` build it): the complement of
/// the pid, shifted left by 3, with `CPUCLOCK_SCHED` (2) for the precise
/// run time of the whole process.
fn process_cpu_clock(pid: u32) -> libc::clockid_t {
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    ((!pid) << 3) as libc::clockid_t | CPUCLOCK_SCHED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_clock_id_is_libcs() {
        let pid = std::process::id();
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `clock` is valid for writes; the call returns an error number.
        assert_eq!(unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) }, 0);
        assert_eq!(process_cpu_clock(pid), clock);
        assert!(cpu_time(pid).unwrap() > Duration::ZERO);
    }
}
