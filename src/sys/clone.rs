//! Our own spawn for a child that runs code of ours before its program:
//! `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)` on a stack of its own, as
//! glibc's `posix_spawn` does. No page tables are copied, the parent waits
//! until the child has exec'd (or failed), and the pidfd comes with the
//! child. A failing child writes the stage and errno into the parent's
//! memory, which it shares until exec, and exits with 127. A child for a
//! cgroup is made in it by `clone3(CLONE_INTO_CGROUP)` where the kernel has
//! it (5.7, x86-64 here): no move of a running process; else it moves
//! itself by writing its `cgroup.procs` before anything else runs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;

use super::child::{ChildSetup, Namespaces, Settings};
use super::spawn::{ChildStdio, Launch, c_string, environment, null_terminated};

/// The step of a child's set-up that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `clone` itself (the namespaces asked for, or no process left).
    Clone,
    /// Resetting a signal's action, or unblocking signals.
    Signals,
    /// Setting up stdin, stdout or stderr.
    Stdio,
    /// A process group of its own.
    ProcessGroup,
    /// A session with its terminal.
    Terminal,
    /// Joining its cgroup.
    Cgroup,
    /// The resource limit on this resource (`RLIMIT_*`).
    Limit(libc::__rlimit_resource_t),
    /// Its scheduling policy.
    Scheduler,
    /// Its nice value.
    Nice,
    /// Its CPU affinity.
    Affinity,
    /// Bringing up loopback in its network namespace.
    Loopback,
    /// Its user and group.
    User,
    /// `PR_SET_PDEATHSIG`, or a parent that died before it.
    DieWithParent,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivileges,
    /// Entering its working directory.
    Cwd,
    /// The exec of its program.
    Exec,
    /// A spawn that does not say which step failed (`posix_spawn`, std's
    /// fork path).
    Unknown,
}

/// A failed start: which step, and the OS error.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) stage: Stage,
    pub(crate) os: io::Error,
}

/// A started child: its pid, and its pidfd.
#[derive(Debug)]
pub(crate) struct Cloned {
    pub(crate) pid: u32,
    pub(crate) pidfd: OwnedFd,
    /// The kernel made it in its cgroup (`CLONE_INTO_CGROUP`).
    pub(crate) made_in_cgroup: bool,
}

/// What [`spawn`] gives when the kernel has no `clone` with `CLONE_PIDFD`
/// (before 5.2, or a seccomp filter refuses it) and the launch asks for no
/// namespace: take another way.
pub(crate) const UNSUPPORTED: Option<Cloned> = None;

/// The stack the child runs on until exec: its set-up is a few calls deep.
const STACK_SIZE: usize = 128 << 10;

/// `stdio` entries of the plan: inherit, `/dev/null`, or an fd.
const INHERIT: libc::c_int = -1;
const NULL: libc::c_int = -2;

/// Everything the child reads, prepared in the parent (the child allocates
/// nothing), and where it writes why it failed.
struct Plan {
    program: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    cwd: *const libc::c_char,
    stdio: [libc::c_int; 3],
    process_group: bool,
    cgroup: libc::c_int,
    setup: ChildSetup,
    settings: Settings,
    /// Signals whose action is reset (bit `n - 1` for signal `n`).
    reset: u64,
    parent: libc::pid_t,
    loopback: libc::ifreq,
    failed_stage: Option<Stage>,
    failed_errno: libc::c_int,
}

/// The C strings a plan points into, alive while the child may read them.
struct Strings {
    program: CString,
    cwd: Option<CString>,
    // Only pointed into, through the arrays below.
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv: Vec<*mut libc::c_char>,
    envp: Vec<*mut libc::c_char>,
}

impl Strings {
    fn new(launch: &Launch) -> io::Result<Strings> {
        let argv = launch.argv.iter().map(|a| c_string(a.as_bytes())).collect::<io::Result<Vec<_>>>()?;
        let envp = environment(&launch.env)?;
        Ok(Strings {
            program: c_string(launch.program.as_os_str().as_bytes())?,
            cwd: launch.cwd.as_ref().map(|c| c_string(c.as_os_str().as_bytes())).transpose()?,
            argv: null_terminated(&argv),
            envp: null_terminated(&envp),
            _argv: argv,
            _envp: envp,
        })
    }
}

impl Plan {
    /// The plan of `launch`, pointing into `strings`.
    fn new(launch: &Launch, strings: &Strings) -> Plan {
        Plan {
            program: strings.program.as_ptr(),
            argv: strings.argv.as_ptr(),
            envp: strings.envp.as_ptr(),
            cwd: strings.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            stdio: launch.stdio.each_ref().map(|s| match s {
                ChildStdio::Inherit => INHERIT,
                ChildStdio::Null => NULL,
                ChildStdio::Fd(fd) => fd.as_raw_fd(),
            }),
            process_group: launch.process_group,
            cgroup: launch.cgroup.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            setup: launch.setup,
            settings: launch.settings,
            reset: launch.setup.signals_to_reset_in_clone(),
            parent: std::process::id() as libc::pid_t,
            loopback: loopback_request(),
            failed_stage: None,
            failed_errno: 0,
        }
    }
}

/// Starts `launch` with `clone`. `Ok(None)` ([`UNSUPPORTED`]) where the
/// kernel lacks it and the launch asks for no namespace; then nothing was
/// started.
pub(crate) fn spawn(launch: &Launch) -> Result<Option<Cloned>, Failed> {
    let early = |os| Failed { stage: Stage::Clone, os };
    let strings = Strings::new(launch).map_err(early)?;
    let mut plan = Plan::new(launch, &strings);
    let stack = Stack::take().map_err(early)?;
    let namespaces = launch.settings.namespaces;
    let flags =
        libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD | namespaces.clone_flags();
    let (cloned, made_in_cgroup) = clone_placed(&mut plan, &stack, flags).map_err(early)?;
    let (pid, pidfd) = match cloned {
        Ok(started) => started,
        Err(os)
            if matches!(os.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) && namespaces.is_empty() =>
        {
            return Ok(UNSUPPORTED);
        }
        Err(os) => return Err(Failed { stage: Stage::Clone, os }),
    };
    // The child runs on it no more (it exec'd into a memory of its own, or
    // exited): the next start of this thread may use it.
    stack.give_back();
    // SAFETY: the child is gone from our memory (exec'd or exited), so
    // nothing writes these any more.
    let (stage, errno) = unsafe { (std::ptr::read_volatile(&plan.failed_stage), plan.failed_errno) };
    match stage {
        None => Ok(Some(Cloned { pid: pid as u32, pidfd, made_in_cgroup })),
        Some(stage) => {
            // It exited with 127; reap it now (it is exiting already).
            reap_failed(pid);
            Err(Failed { stage, os: io::Error::from_raw_os_error(errno) })
        }
    }
}

/// The `clone` of a plan: for a cgroup, `clone3` with `CLONE_INTO_CGROUP`
/// first (true if it made the child); should it fail (an older kernel, a
/// cgroup it refuses), the plain `clone`, whose child joins its cgroup
/// itself and reports the stage that failed.
fn clone_placed(
    plan: &mut Plan,
    stack: &Stack,
    flags: libc::c_int,
) -> io::Result<(io::Result<(libc::pid_t, OwnedFd)>, bool)> {
    let cgroup = plan.cgroup;
    if cgroup >= 0 && !CLONE3_OFF.load(Ordering::Relaxed) {
        plan.cgroup = -1;
        let made = clone3(plan, stack, flags, cgroup)?;
        plan.cgroup = cgroup;
        match made {
            Ok(started) => return Ok((Ok(started), true)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL)) => {
                log::debug!("no clone3 with CLONE_INTO_CGROUP here ({e}): children join their cgroup");
                CLONE3_OFF.store(true, Ordering::Relaxed);
            }
            Err(e) => log::debug!("clone3 into cgroup fd {cgroup}: {e}; trying clone"),
        }
    }
    Ok((clone(plan, stack, flags)?, false))
}

/// Set once `clone3` with `CLONE_INTO_CGROUP` is known to be missing.
static CLONE3_OFF: AtomicBool = AtomicBool::new(cfg!(not(target_arch = "x86_64")));

/// `CLONE_INTO_CGROUP` (Linux 5.7), a `clone3` flag.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (the size of its version 2, with `cgroup`).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// [`clone`], by `clone3` with the child made in the cgroup whose directory
/// `cgroup` is open on. glibc has no `clone3` wrapper: the syscall is made
/// here, and the child, on its own stack, calls [`child`] at once.
#[cfg(target_arch = "x86_64")]
fn clone3(
    plan: &mut Plan,
    stack: &Stack,
    flags: libc::c_int,
    cgroup: libc::c_int,
) -> io::Result<io::Result<(libc::pid_t, OwnedFd)>> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        // The exit signal has a field of its own in clone3.
        flags: (flags & !libc::CSIGNAL) as u64 | CLONE_INTO_CGROUP,
        pidfd: (&raw mut pidfd) as u64,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.0 as u64,
        stack_size: STACK_SIZE as u64,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup as u64,
    };
    let _blocked = BlockAll::new()?;
    let ret: i64;
    // SAFETY: clone3 with CLONE_VM | CLONE_VFORK: this thread is suspended
    // until the child has exec'd or exited, so the plan, `args`, `pidfd` and
    // the stack outlive the child's use of them. The parent gets the pid (or
    // -errno) in rax and goes on at label 2, every register but rax, rcx and
    // r11 as it was. The child starts at the instruction after the syscall
    // with rax 0 and rsp at the top of its own 16-byte aligned stack (the
    // call pushes its return address, as the ABI expects); r12 and r13 hold
    // the plan and `child`, which execs or _exits and never returns; should
    // it return, the child exits with its return value.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &raw const args,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") plan as *mut Plan,
            in("r13") child as extern "C" fn(*mut libc::c_void) -> libc::c_int,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return Ok(Err(io::Error::from_raw_os_error(-ret as i32)));
    }
    // SAFETY: clone3 succeeded with CLONE_PIDFD: `pidfd` is a new fd we own.
    Ok(Ok((ret as libc::pid_t, unsafe { OwnedFd::from_raw_fd(pidfd) })))
}

/// Elsewhere: no `clone3` of ours ([`CLONE3_OFF`] is set from the start).
#[cfg(not(target_arch = "x86_64"))]
fn clone3(
    _plan: &mut Plan,
    _stack: &Stack,
    _flags: libc::c_int,
    _cgroup: libc::c_int,
) -> io::Result<io::Result<(libc::pid_t, OwnedFd)>> {
    Ok(Err(io::Error::from_raw_os_error(libc::ENOSYS)))
}

/// The `clone` itself, with every signal blocked in this thread: the child
/// runs `child` with `plan` on `stack`, and this thread waits until it has
/// exec'd or exited. The outer `Err` is the mask's; the inner, clone's.
fn clone(
    plan: &mut Plan,
    stack: &Stack,
    flags: libc::c_int,
) -> io::Result<io::Result<(libc::pid_t, OwnedFd)>> {
    let mut pidfd: libc::c_int = -1;
    let _blocked = BlockAll::new()?;
    // SAFETY: `child` gets the plan, whose pointers stay valid until clone
    // returns: CLONE_VFORK suspends this thread until the child has exec'd
    // or exited, and the plan, the strings it points into and the stack
    // outlive the call. The child runs only `child`, which allocates
    // nothing. CLONE_PIDFD writes the pidfd to `pidfd`.
    let pid = unsafe { libc::clone(child, stack.top(), flags, (plan as *mut Plan).cast(), &raw mut pidfd) };
    if pid == -1 {
        // errno before the mask is restored.
        return Ok(Err(io::Error::last_os_error()));
    }
    // SAFETY: clone succeeded with CLONE_PIDFD: `pidfd` is a new fd we own.
    Ok(Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) })))
}

/// The child: its set-up, then its program. Never returns to Rust code of
/// the parent: it execs or exits.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's plan, alive and not touched by the
    // parent (suspended) until this child execs or exits.
    let plan = unsafe { &mut *arg.cast::<Plan>() };
    // SAFETY: run between clone and exec on its own stack; see `set_up`.
    let (stage, errno) = match unsafe { set_up(plan) } {
        Err(failure) => failure,
        // SAFETY: the pointers come from the parent's C strings and
        // null-terminated arrays, alive while this child runs.
        Ok(()) => unsafe {
            libc::execve(plan.program, plan.argv.cast(), plan.envp.cast());
            (Stage::Exec, errno())
        },
    };
    plan.failed_errno = errno;
    // SAFETY: a plain write into the parent's plan, read after clone returns.
    unsafe { std::ptr::write_volatile(&mut plan.failed_stage, Some(stage)) };
    // SAFETY: ends the child without running anything of the parent's.
    unsafe { libc::_exit(127) }
}

/// The child's set-up in order: signal actions first (no handler of the
/// parent may run here), privileged steps before the user changes, the
/// parent-death signal after it (a change of user clears it), the signal
/// mask last.
///
/// # Safety
///
/// Only in the child of [`spawn`], before exec: every call is a raw
/// syscall (or glibc's thin wrapper of one), nothing allocates or locks.
unsafe fn set_up(plan: &Plan) -> Result<(), (Stage, libc::c_int)> {
    // SAFETY (for every call below): raw syscalls on values and pointers
    // the parent prepared, valid until exec.
    unsafe {
        reset_signals(plan.reset).map_err(|e| (Stage::Signals, e))?;
        stdio(&plan.stdio).map_err(|e| (Stage::Stdio, e))?;
        if plan.process_group {
            check(libc::setpgid(0, 0), Stage::ProcessGroup)?;
        }
        if plan.setup.terminal {
            check(libc::setsid(), Stage::Terminal)?;
            check(libc::ioctl(0, libc::TIOCSCTTY, 0), Stage::Terminal)?;
        }
        if plan.cgroup >= 0 {
            super::child::enter_cgroup(plan.cgroup).map_err(|e| (Stage::Cgroup, raw(&e)))?;
        }
        for (resource, limit) in plan.setup.limits() {
            check(libc::setrlimit(*resource, limit), Stage::Limit(*resource))?;
        }
        let settings = &plan.settings;
        if let Some(policy) = settings.scheduler {
            let param = libc::sched_param { sched_priority: 0 };
            check(libc::sched_setscheduler(0, policy, &param), Stage::Scheduler)?;
        }
        if let Some(nice) = settings.nice {
            check(libc::setpriority(libc::PRIO_PROCESS, 0, nice), Stage::Nice)?;
        }
        if let Some(cpus) = &settings.affinity {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            check(libc::sched_setaffinity(0, size, cpus), Stage::Affinity)?;
        }
        if settings.namespaces.network {
            loopback_up(&plan.loopback).map_err(|e| (Stage::Loopback, e))?;
        }
        if let Some((uid, gid)) = settings.user {
            check(libc::setgroups(0, std::ptr::null()), Stage::User)?;
            check(libc::setgid(gid), Stage::User)?;
            check(libc::setuid(uid), Stage::User)?;
        }
        if plan.setup.die_with_parent {
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong), Stage::DieWithParent)?;
            // The parent may have died before prctl: then nobody would kill
            // us. (In a PID namespace of its own, the parent has no pid here.)
            let parent = if settings.namespaces.pids { 0 } else { plan.parent };
            if libc::getppid() != parent {
                return Err((Stage::DieWithParent, libc::ESRCH));
            }
        }
        if settings.no_new_privileges {
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), Stage::NoNewPrivileges)?;
        }
        if !plan.cwd.is_null() {
            check(libc::chdir(plan.cwd), Stage::Cwd)?;
        }
        close_inherited_fds();
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        check(libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()), Stage::Signals)?;
    }
    Ok(())
}

/// Leaves the program no fd but its stdio. Ours are all close-on-exec;
/// this is for the host's own inheritable ones (its parent's, say), which
/// an untrusted program must not get. Marked close-on-exec, not closed, so
/// that nothing of the set-up loses an fd before the exec. Without the
/// flag (Linux 5.9 and 5.10) they are closed; without `close_range`
/// (before 5.9) they stay.
///
/// # Safety
///
/// In the child only.
unsafe fn close_inherited_fds() {
    let (first, last) = (3 as libc::c_uint, libc::c_uint::MAX);
    // SAFETY: close_range on plain values; async-signal-safe.
    let marked = unsafe { libc::syscall(libc::SYS_close_range, first, last, libc::CLOSE_RANGE_CLOEXEC) };
    if marked == -1 && errno() == libc::EINVAL {
        // SAFETY: as above; nothing after this needs an fd above 2.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    }
}

/// `Err` with the stage and errno if a call returned -1.
fn check(res: libc::c_int, stage: Stage) -> Result<(), (Stage, libc::c_int)> {
    if res == -1 { Err((stage, errno())) } else { Ok(()) }
}

fn errno() -> libc::c_int {
    // SAFETY: errno's location is always valid for the calling thread (the
    // child shares the parent thread's, which is suspended).
    unsafe { *libc::__errno_location() }
}

fn raw(e: &io::Error) -> libc::c_int {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Puts every signal in `mask` back at its default action.
///
/// # Safety
///
/// In the child only: its handlers are its own (no `CLONE_SIGHAND`).
unsafe fn reset_signals(mask: u64) -> Result<(), libc::c_int> {
    for signal in 1..=64 {
        if mask & (1 << (signal - 1)) != 0 {
            super::child::default_action(signal)?;
        }
    }
    Ok(())
}

/// Makes the child's fds 0, 1 and 2 what the plan says. A source fd below
/// 3 (the host had closed its stdio) is first moved out of the way, so one
/// dup2 cannot overwrite another's source.
///
/// # Safety
///
/// In the child only.
unsafe fn stdio(plan: &[libc::c_int; 3]) -> Result<(), libc::c_int> {
    let mut sources = *plan;
    for source in sources.iter_mut().filter(|s| (0..3).contains(*s)) {
        // SAFETY: duplicates an open fd.
        let moved = unsafe { libc::fcntl(*source, libc::F_DUPFD_CLOEXEC, 3) };
        if moved == -1 {
            return Err(errno());
        }
        *source = moved;
    }
    for (target, source) in (0..).zip(sources) {
        // SAFETY (the calls below): open, dup2 and close on fds and a
        // NUL-terminated literal.
        let source = match source {
            INHERIT => continue,
            NULL => unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) },
            fd => fd,
        };
        if source == -1 || unsafe { libc::dup2(source, target) } == -1 {
            return Err(errno());
        }
    }
    Ok(())
}

/// The `ifreq` that names loopback, for [`loopback_up`].
fn loopback_request() -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    request
}

/// Brings up `lo` in the child's network namespace, the one interface there.
///
/// # Safety
///
/// In the child only.
unsafe fn loopback_up(request: &libc::ifreq) -> Result<(), libc::c_int> {
    // SAFETY (the calls below): a socket we close again; the ioctls read
    // and write one ifreq, a copy on this stack.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket == -1 {
            return Err(errno());
        }
        let mut request = *request;
        let mut res = libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request);
        if res != -1 {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            res = libc::ioctl(socket, libc::SIOCSIFFLAGS, &request);
        }
        let err = errno();
        libc::close(socket);
        if res == -1 { Err(err) } else { Ok(()) }
    }
}

/// Every signal blocked in this thread while it lives, so no handler of
/// ours runs in the child (which shares our memory) before it resets them.
struct BlockAll(libc::sigset_t);

impl BlockAll {
    fn new() -> io::Result<BlockAll> {
        // SAFETY: sigfillset fills the zeroed set; pthread_sigmask reads it
        // and writes the old mask into `old`.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let mut old: libc::sigset_t = std::mem::zeroed();
            match libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) {
                0 => Ok(BlockAll(old)),
                e => Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

impl Drop for BlockAll {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// The child's stack: an anonymous mapping with a guard page below it.
/// Each thread keeps the last one for its next start (three syscalls fewer).
struct Stack(*mut libc::c_void);

thread_local! {
    static SPARE: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// This thread's spare stack, or a new one.
    fn take() -> io::Result<Stack> {
        // (`try_with`: a start from another thread-local's destructor.)
        SPARE.try_with(|spare| spare.take()).ok().flatten().map_or_else(Stack::new, Ok)
    }

    /// Keeps it for this thread's next start.
    fn give_back(self) {
        let mut stack = Some(self);
        let _ = SPARE.try_with(|spare| spare.set(stack.take()));
    }

    fn new() -> io::Result<Stack> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe { libc::mmap(std::ptr::null_mut(), STACK_SIZE, prot, flags, -1, 0) };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack(base);
        // SAFETY: the first page of our own mapping becomes the guard.
        unsafe { syscall!(mprotect(base, page_size(), libc::PROT_NONE)) }?;
        Ok(stack)
    }

    /// Its top (stacks grow down), 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        self.0.wrapping_byte_add(STACK_SIZE)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps our own mapping, once; the child no longer runs on it.
        unsafe { libc::munmap(self.0, STACK_SIZE) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf takes a constant and touches no memory.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// Reaps a child that failed its set-up: it has exited already, or is
/// about to (it released our memory on its way out), so this waits a moment
/// at most. `ECHILD` (a host that ignores SIGCHLD has it reaped) is fine.
fn reap_failed(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid writes one int to the valid pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1 && errno() == libc::EINTR {}
}

impl Namespaces {
    /// The `clone` flags that make them.
    fn clone_flags(&self) -> libc::c_int {
        let mut flags = 0;
        if self.network {
            flags |= libc::CLONE_NEWNET;
        }
        if self.pids {
            flags |= libc::CLONE_NEWPID;
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::{Path, PathBuf};

    use super::*;

    /// A launch of `argv` whose stdout is the write end of a pipe; the read end.
    fn launch(argv: &[&str]) -> (Launch, std::fs::File) {
        let (read, write) = crate::sys::pipe().unwrap();
        let launch = Launch {
            program: PathBuf::from(argv[0]),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            cwd: None,
            stdio: [ChildStdio::Null, ChildStdio::Fd(write), ChildStdio::Inherit],
            process_group: false,
            setup: ChildSetup::default(),
            cgroup: None,
            settings: Settings::default(),
        };
        (launch, std::fs::File::from(read))
    }

    /// A fresh cgroup v2 directory, removed on drop; `None` where there is
    /// no writable cgroup2 mount (the tests that need one then say so).
    struct Leaf(PathBuf);

    impl Leaf {
        fn new(name: &str) -> Option<Leaf> {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            let root = mounts.lines().find_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                right.starts_with("cgroup2 ").then(|| left.split(' ').nth(4).map(PathBuf::from))?
            })?;
            let leaf = root.join(format!("procloop-spawn-{name}-{}", std::process::id()));
            std::fs::create_dir(&leaf).ok()?;
            Some(Leaf(leaf))
        }
    }

    impl Drop for Leaf {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    fn open_dir(path: &Path) -> OwnedFd {
        std::fs::File::open(path).unwrap().into()
    }

    fn run(launch: Launch, mut out: std::fs::File) -> Result<String, Failed> {
        let started = spawn(&launch)?.expect("clone with CLONE_PIDFD");
        drop(launch);
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        reap_failed(started.pid as libc::pid_t);
        Ok(text)
    }

    #[test]
    fn a_child_is_in_its_cgroup_before_its_program_runs() {
        let Some(leaf) = Leaf::new("join") else {
            eprintln!("skipped: no writable cgroup2 mount here");
            return;
        };
        let (mut launch, out) = launch(&["/bin/cat", "/proc/self/cgroup"]);
        launch.cgroup = Some(open_dir(&leaf.0).into());
        let text = run(launch, out).unwrap();
        let name = leaf.0.file_name().unwrap().to_str().unwrap();
        assert!(text.lines().any(|l| l.starts_with("0::") && l.ends_with(name)), "{text}");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_kernel_makes_the_child_in_its_cgroup_where_it_can() {
        let Some(leaf) = Leaf::new("made-in") else {
            eprintln!("skipped: no writable cgroup2 mount here");
            return;
        };
        let (mut launch, mut out) = launch(&["/bin/cat", "/proc/self/cgroup"]);
        launch.cgroup = Some(open_dir(&leaf.0).into());
        let started = spawn(&launch).unwrap().expect("clone with CLONE_PIDFD");
        drop(launch);
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        reap_failed(started.pid as libc::pid_t);
        let name = leaf.0.file_name().unwrap().to_str().unwrap();
        assert!(text.lines().any(|l| l.starts_with("0::") && l.ends_with(name)), "{text}");
        // Kernels from 5.7 have CLONE_INTO_CGROUP; valgrind has no clone3.
        if !std::env::var("LD_PRELOAD").is_ok_and(|p| p.contains("valgrind")) {
            assert!(started.made_in_cgroup, "made by clone3 in its cgroup, not moved there");
        }
    }

    #[test]
    fn a_cgroup_that_cannot_be_joined_fails_the_start_at_that_stage() {
        let (mut launch, out) = launch(&["/bin/true"]);
        launch.cgroup = Some(open_dir(Path::new("/")).into());
        let failed = run(launch, out).expect_err("/ is no cgroup");
        assert_eq!(failed.stage, Stage::Cgroup, "{failed:?}");
    }

    #[test]
    fn a_limit_the_kernel_refuses_fails_the_start_naming_that_limit() {
        let (mut launch, out) = launch(&["/bin/true"]);
        // Above the kernel's ceiling for open files (fs.nr_open): EPERM.
        let limit = crate::Limit::OpenFiles(u64::MAX - 1);
        launch.setup.limit(limit.resource(), limit.value());
        let failed = run(launch, out).expect_err("no such limit");
        assert_eq!(failed.stage, Stage::Limit(libc::RLIMIT_NOFILE), "{failed:?}");
        let untrusted = crate::process::untrusted::Untrusted::default();
        let attempt = crate::process::start_error::Attempt {
            program: Path::new("/bin/true"),
            cwd: None,
            limits: &[crate::Limit::Memory(1 << 30), limit],
            cgroup: None,
            untrusted: &untrusted,
        };
        let message = crate::process::start_error::explain(&attempt, failed).to_string();
        assert!(message.starts_with(&format!("limit {limit}: ")), "{message}");
    }

    #[test]
    fn a_failed_exec_is_reported_at_the_exec_stage() {
        let (launch, out) = launch(&["/procloop/no/such/program"]);
        let failed = run(launch, out).expect_err("no such program");
        assert_eq!(failed.stage, Stage::Exec, "{failed:?}");
        assert_eq!(failed.os.raw_os_error(), Some(libc::ENOENT));
    }
}
