//! What runs in a child between fork and exec (prepared in the parent, so
//! the child allocates nothing and calls only async-signal-safe functions),
//! and terminal set-up.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use nix::libc;

/// The most limits one child gets: one per `RLIMIT_*` resource it may set.
const MAX_LIMITS: usize = 6;

/// The highest signal number (`SIGRTMAX` on Linux).
const MAX_SIGNAL: libc::c_int = 64;

/// What a child does before it runs its program.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChildSetup {
    /// `PR_SET_PDEATHSIG`: SIGKILL when the thread that spawned it ends.
    pub(crate) die_with_parent: bool,
    /// A new session with its stdin (a terminal) as controlling terminal.
    pub(crate) terminal: bool,
    limits: [(libc::__rlimit_resource_t, libc::rlimit); MAX_LIMITS],
    limit_count: usize,
    /// Signals the host ignores (bit `n - 1` for signal `n`), which a
    /// program would inherit; reset to their default.
    ignored: u64,
    /// Signals the host catches: a child that shares our memory until exec
    /// resets them before it unblocks signals.
    caught: u64,
    /// Signals the spawning thread blocks, which a program would inherit
    /// blocked; the child unblocks them all.
    blocked: bool,
}

impl ChildSetup {
    /// Adds a resource limit, `value` for the `RLIMIT_*` `resource` (a
    /// later one of the same resource wins).
    pub(crate) fn limit(&mut self, resource: libc::__rlimit_resource_t, value: u64) {
        let value = value as libc::rlim_t;
        let hard = if resource == libc::RLIMIT_CPU { cpu_hard(value) } else { value };
        let entry = (resource, libc::rlimit { rlim_cur: value, rlim_max: hard });
        match self.limits[..self.limit_count].iter_mut().find(|(r, _)| *r == resource) {
            Some(slot) => *slot = entry,
            None if self.limit_count < MAX_LIMITS => {
                self.limits[self.limit_count] = entry;
                self.limit_count += 1;
            }
            None => {}
        }
    }

    /// Notes the signals this process ignores or catches and this thread
    /// blocks now, for the child to reset, as Python's `restore_signals`
    /// does (one read of `/proc/self/status`).
    pub(crate) fn reset_signals(&mut self) {
        (self.ignored, self.caught) = host_signals();
        self.blocked = any_blocked();
    }

    /// The signals a child that shares our memory resets before it
    /// unblocks any: those ignored or caught here.
    pub(crate) fn signals_to_reset_in_clone(&self) -> u64 {
        self.ignored | self.caught
    }

    /// The resource limits, as `setrlimit` takes them.
    pub(crate) fn limits(&self) -> &[(libc::__rlimit_resource_t, libc::rlimit)] {
        &self.limits[..self.limit_count]
    }

    /// Whether the child must run code of ours before its program (which
    /// takes the fork path); resetting signals alone does not.
    pub(crate) fn runs_code(&self) -> bool {
        self.die_with_parent || self.terminal || self.limit_count > 0
    }

    /// The signals to put back at their default action in the child (bit
    /// `n - 1` for signal `n`): those the host ignores, and SIGPIPE.
    pub(crate) fn signals_to_reset(&self) -> u64 {
        self.ignored | 1 << (libc::SIGPIPE - 1)
    }

    fn is_empty(&self) -> bool {
        let ignored = self.ignored & !(1 << (libc::SIGPIPE - 1));
        !self.die_with_parent && !self.terminal && self.limit_count == 0 && ignored == 0 && !self.blocked
    }
}

/// Has the child do `setup` before it runs its program. Anything to do
/// moves the start off `posix_spawn` onto fork + exec, so nothing to do
/// leaves the command alone.
pub(crate) fn prepare(command: &mut Command, setup: ChildSetup) {
    if setup.is_empty() {
        return;
    }
    let parent = std::process::id() as libc::pid_t;
    // SIGPIPE is left out: std resets it.
    let ignored = setup.ignored & !(1 << (libc::SIGPIPE - 1));
    let in_child = move || -> io::Result<()> {
        reset_signals(ignored)?;
        if setup.blocked {
            unblock_signals()?;
        }
        for (resource, limit) in &setup.limits[..setup.limit_count] {
            // SAFETY: setrlimit reads one valid rlimit; async-signal-safe.
            unsafe { syscall!(setrlimit(*resource, limit)) }?;
        }
        // SAFETY (the calls below): plain syscalls with no pointers; async-signal-safe.
        if setup.terminal {
            unsafe { syscall!(setsid()) }?;
            unsafe { syscall!(ioctl(0, libc::TIOCSCTTY, 0)) }?;
        }
        if setup.die_with_parent {
            unsafe { syscall!(prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)) }?;
            // The parent may have died before prctl: then nobody would kill us.
            if unsafe { libc::getppid() } != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    };
    // SAFETY: `in_child` runs between fork and exec; it allocates nothing,
    // takes no locks and makes only async-signal-safe syscalls.
    unsafe { command.pre_exec(in_child) };
}

/// Writes "0" (this process) to `cgroup.procs` in the directory `cgroup`.
/// Async-signal-safe: runs in a child before exec.
pub(crate) fn enter_cgroup(cgroup: libc::c_int) -> io::Result<()> {
    // SAFETY: the path is a NUL-terminated literal; on success we own the fd.
    let procs =
        unsafe { syscall!(openat(cgroup, c"cgroup.procs".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)) }?;
    // SAFETY: writes one byte from a static buffer to the fd we opened.
    let written = unsafe { syscall!(write(procs, b"0".as_ptr().cast(), 1)) };
    // SAFETY: closes the fd we opened, once.
    unsafe { libc::close(procs) };
    written.map(drop)
}

/// Sets each signal in `mask` back to its default action (in the child).
fn reset_signals(mask: u64) -> io::Result<()> {
    for signal in 1..=MAX_SIGNAL {
        if mask & (1 << (signal - 1)) != 0 {
            default_action(signal).map_err(io::Error::from_raw_os_error)?;
        }
    }
    Ok(())
}

/// Puts `signal` back at its default action: the raw `rt_sigaction`, as
/// glibc refuses to touch its own signals 32 and 33 (a host may have left
/// them ignored, and a program would inherit that). `Err` holds the errno.
/// A raw syscall: safe between fork and exec.
pub(crate) fn default_action(signal: libc::c_int) -> Result<(), libc::c_int> {
    // The kernel's `struct sigaction` (handler, flags, restorer, mask): all
    // zeroes is SIG_DFL with no flags and an empty mask.
    let action = [0u64; 4];
    // SAFETY: the kernel reads 32 bytes of `action` and an 8-byte mask
    // (_NSIG / 8); a null old action is allowed.
    let res = unsafe {
        libc::syscall(libc::SYS_rt_sigaction, signal, action.as_ptr(), std::ptr::null_mut::<u64>(), 8)
    };
    // SAFETY: errno's location is always valid for the calling thread.
    if res == -1 { Err(unsafe { *libc::__errno_location() }) } else { Ok(()) }
}

/// Unblocks every signal (in the child).
fn unblock_signals() -> io::Result<()> {
    // SAFETY: sigemptyset fills the zeroed set; sigprocmask reads it. Both
    // are async-signal-safe.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        syscall!(sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// Whether the calling thread blocks any signal.
fn any_blocked() -> bool {
    // SAFETY: a null new set only reads the current mask into `current`.
    unsafe {
        let mut current: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current) != 0 {
            return false;
        }
        (1..=MAX_SIGNAL).any(|signal| libc::sigismember(&current, signal) == 1)
    }
}

/// The signals this process ignores and catches: `SigIgn` and `SigCgt`
/// of `/proc/self/status` (one read, instead of a `sigaction` per signal).
/// Where it cannot be read, every signal but SIGKILL and SIGSTOP counts as
/// caught, so all are reset.
pub(crate) fn host_signals() -> (u64, u64) {
    // One read into a buffer on the stack: this runs on every start.
    let mut buf = [0u8; 4096];
    let n = std::fs::File::open("/proc/self/status").and_then(|mut f| read_most(&mut f, &mut buf));
    let status = &buf[..n.unwrap_or(0)];
    let mask = |key: &[u8]| {
        let line = status.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(key))?;
        u64::from_str_radix(std::str::from_utf8(line).ok()?.trim(), 16).ok()
    };
    let unstoppable = 1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1);
    match (mask(b"SigIgn:"), mask(b"SigCgt:")) {
        (Some(ignored), Some(caught)) => (ignored & !unstoppable, caught & !unstoppable),
        _ => (0, !unstoppable),
    }
}

/// Reads until `buf` holds the whole `SigCgt` line (usually the first read
/// does), is full, or the file ends.
fn read_most(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                let read = &buf[..n];
                let at = read.windows(7).position(|w| w == b"SigCgt:");
                if at.is_some_and(|at| read[at..].contains(&b'\n')) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What a child gets for untrusted code and fair share, set before exec
/// (only by our own `clone` spawn).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    /// `(uid, gid)`, with no supplementary groups.
    pub(crate) user: Option<(u32, u32)>,
    pub(crate) no_new_privileges: bool,
    pub(crate) namespaces: Namespaces,
    pub(crate) nice: Option<i32>,
    /// A `SCHED_*` policy.
    pub(crate) scheduler: Option<libc::c_int>,
    pub(crate) affinity: Option<libc::cpu_set_t>,
}

impl Settings {
    /// Whether there is nothing to set.
    pub(crate) fn is_empty(&self) -> bool {
        self.user.is_none()
            && !self.no_new_privileges
            && self.namespaces.is_empty()
            && self.nice.is_none()
            && self.scheduler.is_none()
            && self.affinity.is_none()
    }

    /// Sets the CPUs the child may run on; `Err` with the first CPU number
    /// past what a CPU set holds.
    pub(crate) fn set_affinity(&mut self, cpus: &[usize]) -> Result<(), usize> {
        // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let most = 8 * std::mem::size_of::<libc::cpu_set_t>();
        for &cpu in cpus {
            if cpu >= most {
                return Err(cpu);
            }
            // SAFETY: `cpu` is below the number of bits in the set.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        self.affinity = Some(set);
        Ok(())
    }
}

/// Namespaces of its own a child is cloned into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Namespaces {
    /// A network namespace with only loopback, up.
    pub(crate) network: bool,
    /// A PID namespace, of which the child is init.
    pub(crate) pids: bool,
}

impl Namespaces {
    pub(crate) fn is_empty(&self) -> bool {
        !self.network && !self.pids
    }
}

/// The hard CPU limit: a second past the soft one, so SIGXCPU comes first;
/// no higher than this process may set.
fn cpu_hard(soft: libc::rlim_t) -> libc::rlim_t {
    let wanted = soft.saturating_add(1);
    match host_hard(libc::RLIMIT_CPU) {
        Ok(hard) if hard != libc::RLIM_INFINITY && hard < wanted && !may_raise_hard_limits() => {
            hard.max(soft)
        }
        _ => wanted,
    }
}

/// Checks that this process may give a child `value` for the `RLIMIT_*`
/// `resource`: not above its own hard limit (unless it may raise that),
/// nor, for open files, above the kernel's ceiling. `Err` gives the most it
/// may give.
pub(crate) fn check_limit(resource: libc::__rlimit_resource_t, value: u64) -> Result<(), u64> {
    if resource == libc::RLIMIT_NOFILE
        && let Some(ceiling) =
            std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok())
        && value > ceiling
    {
        return Err(ceiling);
    }
    match host_hard(resource) {
        Ok(hard) if hard != libc::RLIM_INFINITY && value > hard && !may_raise_hard_limits() => Err(hard),
        _ => Ok(()),
    }
}

fn host_hard(resource: libc::__rlimit_resource_t) -> io::Result<libc::rlim_t> {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit to the valid pointer.
    unsafe { syscall!(getrlimit(resource, &mut current)) }?;
    Ok(current.rlim_max)
}

/// Whether this process may raise a hard limit, for itself or a child it
/// forks: `setrlimit` asks for `CAP_SYS_RESOURCE` in the initial user
/// namespace. Root usually has it, but not in most containers (Docker drops
/// it) nor in a user namespace of its own; a uid of 0 does not tell. When
/// `/proc` cannot tell either, it is taken as no: the start then fails with
/// the typed error, which names what may be given.
fn may_raise_hard_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    // Capabilities belong to a thread; the calling thread is the one that forks.
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| std::fs::read_to_string("/proc/self/status"));
    let effective = status.ok().and_then(|status| {
        let hex = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
        u64::from_str_radix(hex.trim(), 16).ok()
    });
    // Without user namespaces (no uid_map) there is only the initial one.
    let initial_namespace = std::fs::read_to_string("/proc/self/uid_map")
        .map_or(true, |map| map.split_whitespace().eq(["0", "0", "4294967295"]));
    effective.is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0) && initial_namespace
}

/// A new pseudo-terminal: `(master, slave)`, both opened close-on-exec
/// (so another thread's fork can never inherit them).
pub(crate) fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: plain call; on success we own the new fd.
    let master = unsafe { OwnedFd::from_raw_fd(syscall!(posix_openpt(flags))?) };
    // SAFETY: plain calls on the master we own.
    unsafe {
        syscall!(grantpt(master.as_raw_fd()))?;
        syscall!(unlockpt(master.as_raw_fd()))?;
    }
    // SAFETY: TIOCGPTPEER opens the slave with `flags` and returns a new fd we own.
    let slave = unsafe { syscall!(ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags)) };
    let slave = match slave {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOTTY) => {
            open_slave_by_name(&master, flags)?
        }
        Err(e) => return Err(e),
    };
    // SAFETY: a fresh fd we own.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// Opens a terminal's slave side by its name (kernels before 4.13).
fn open_slave_by_name(master: &OwnedFd, flags: libc::c_int) -> io::Result<libc::c_int> {
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: ptsname_r writes a NUL-terminated name of at most `name.len()` bytes.
    let res = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    if res != 0 {
        return Err(io::Error::from_raw_os_error(res));
    }
    // SAFETY: `name` holds a NUL-terminated path.
    unsafe { syscall!(open(name.as_ptr(), flags)) }
}

/// Sets a terminal's window size.
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the valid pointer.
    unsafe { syscall!(ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size)) }.map(drop)
}

// --- cgroups branch: placement on the fork path (until the clone engine
// of branch `spawn` does it with CLONE_INTO_CGROUP) ---

/// Has the child move itself into the cgroup whose directory `leaf` is open
/// on (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`), first thing after the fork:
/// it writes "0" to the leaf's `cgroup.procs`, so everything it runs and
/// forks stays in the leaf. The `Command` holds the fd while it lives.
pub(crate) fn place_in_cgroup(command: &mut Command, leaf: Arc<OwnedFd>) {
    let in_child = move || -> io::Result<()> {
        // SAFETY: openat, write and close are async-signal-safe syscalls on
        // a NUL-terminated literal and a valid one-byte buffer.
        unsafe {
            let procs = syscall!(openat(
                leaf.as_raw_fd(),
                c"cgroup.procs".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC
            ))?;
            let written = syscall!(write(procs, b"0".as_ptr().cast(), 1));
            libc::close(procs);
            written?;
        }
        Ok(())
    };
    // SAFETY: `in_child` runs between fork and exec; it allocates nothing,
    // takes no locks and makes only async-signal-safe syscalls.
    unsafe { command.pre_exec(in_child) };
}
