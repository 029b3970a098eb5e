//! Shared test helpers: logging once, and waits that poll with a deadline.
#![allow(dead_code)]

use std::sync::Once;
use std::time::{Duration, Instant};

use procloop::{Channel, Error, Reactor, ReactorEvent, Token};

mod cgroups;
#[allow(unused_imports)] // the containment tests use them, the others do not
pub use cgroups::*;

/// How long any wait in a test may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

/// Calls `read` until it returns something non-empty, or fails at the deadline.
pub fn read_some(channel: &mut Channel) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let data = channel.read()?;
        if !data.is_empty() {
            return Ok(data);
        }
        assert!(Instant::now() < deadline, "no data before the deadline");
        wait_readable(channel);
    }
}

/// Reads until `n` bytes arrived.
pub fn read_exactly(channel: &mut Channel, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(read_some(channel).expect("read"));
    }
    out
}

/// Reads until end of stream; returns everything before it.
pub fn read_to_end(channel: &mut Channel) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        match read_some(channel) {
            Ok(data) => out.extend(data),
            Err(Error::EndpointClosed) => return out,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Blocks (with poll(2), up to a second) until the channel's fd is readable.
fn wait_readable(channel: &Channel) {
    use std::os::fd::AsRawFd;
    let Some(fd) = channel.read_fd() else { return };
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16));
    let _ = fd.as_raw_fd();
}

/// An event with owned bytes, for assertions after the handler returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Data(Token, Vec<u8>),
    Closed(Token),
    Accepted { server: Token, client: Token },
    Exited(Token, i32),
    Timer(procloop::TimerId),
}

pub fn own(event: ReactorEvent<'_>) -> Seen {
    match event {
        ReactorEvent::Data { token, data } => Seen::Data(token, data.to_vec()),
        ReactorEvent::Closed { token } => Seen::Closed(token),
        ReactorEvent::Accepted { server, client, .. } => Seen::Accepted { server, client },
        ReactorEvent::Exited { token, status } => Seen::Exited(token, status.code().unwrap_or(-1)),
        ReactorEvent::Timer { id } => Seen::Timer(id),
        other => panic!("unexpected event {other:?}"),
    }
}

/// Polls until `done(events so far)` holds; fails at the deadline.
pub fn poll_until(reactor: &mut Reactor, mut done: impl FnMut(&[Seen]) -> bool) -> Vec<Seen> {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "deadline passed; events so far: {seen:?}");
        reactor
            .poll_once(Some(left.min(Duration::from_millis(500))), |_, e| seen.push(own(e)))
            .expect("poll_once");
    }
    seen
}

/// Joins the data events of `token`.
pub fn data_of(seen: &[Seen], token: Token) -> Vec<u8> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Data(t, d) if *t == token => Some(d.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// Cheap deterministic pseudo-random bytes (xorshift).
pub fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A runner event with owned parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Data(String, Vec<u8>),
    Stderr(String, Vec<u8>),
    Closed(String),
    Exited(String, Option<i32>),
    Restarted(String, Option<i32>),
    GaveUp(String, Option<i32>),
    Timer(procloop::TimerId),
    Ready(String),
    /// The alias and the error's message.
    StartFailed(String, String),
    /// An event of the user's own channels and servers.
    Reactor(Seen),
}

pub fn own_runner(event: procloop::Event<'_>) -> Got {
    use procloop::Event;
    match event {
        Event::Data { alias, data } => Got::Data(alias.into(), data.to_vec()),
        Event::Stderr { alias, data } => Got::Stderr(alias.into(), data.to_vec()),
        Event::Closed { alias } => Got::Closed(alias.into()),
        Event::Exited { alias, status } => Got::Exited(alias.into(), status.code()),
        Event::Restarted { alias, status } => Got::Restarted(alias.into(), status.code()),
        Event::GaveUp { alias, status } => Got::GaveUp(alias.into(), status.code()),
        Event::Timer { id } => Got::Timer(id),
        Event::Ready { alias } => Got::Ready(alias.into()),
        Event::StartFailed { alias, error } => Got::StartFailed(alias.into(), error.to_string()),
        Event::Reactor(event) => Got::Reactor(own(event)),
        other => panic!("unexpected event {other:?}"),
    }
}

/// Polls the runner until `done(events so far)` holds; fails at the deadline.
pub fn run_until(runner: &mut procloop::Runner, done: impl FnMut(&[Got]) -> bool) -> Vec<Got> {
    run_until_within(runner, DEADLINE, done)
}

/// As [`run_until`], with a deadline of its own (for children that must use
/// seconds of CPU on a loaded machine).
pub fn run_until_within(
    runner: &mut procloop::Runner,
    within: Duration,
    mut done: impl FnMut(&[Got]) -> bool,
) -> Vec<Got> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "deadline passed; events so far: {got:?}");
        runner.poll_once(Some(left.min(Duration::from_millis(500))), |_, e| got.push(own_runner(e))).unwrap();
    }
    got
}

/// The joined stdout data of `alias`.
pub fn output_of(got: &[Got], alias: &str) -> Vec<u8> {
    got.iter()
        .filter_map(|g| match g {
            Got::Data(a, d) if a == alias => Some(d.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("procloop-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a process with this pid exists (a zombie counts).
pub fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of a process (`Z` for a zombie), if it exists.
pub fn pid_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Waits until `cond` holds, polling every few milliseconds; fails at the deadline.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The pids whose parent is this process (zombies included).
pub fn child_pids() -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            pids.push(pid);
        }
    }
    pids
}

/// A runner with one app configured.
/// Starts `app` as `alias` (an app that ends at once) and polls until
/// the Runner has seen its exit.
pub fn start_and_see_exit(runner: &mut procloop::Runner, alias: &str, app: procloop::App) {
    runner.add(alias, app);
    runner.start(alias).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while runner.exit_status(alias).is_none() {
        assert!(Instant::now() < deadline, "{alias} never exited");
        runner.poll_once(Some(Duration::from_millis(200)), |_, _| {}).unwrap();
    }
}

pub fn runner_with(name: &str, app: procloop::App) -> procloop::Runner {
    init();
    let mut runner = procloop::Runner::new().unwrap();
    runner.add(name, app);
    runner
}

/// Runs the test `name` alone in a fresh process of this test binary, for a
/// test that changes what a process has once (signal dispositions, rlimits,
/// a `waitpid(-1)` thread). True in that process: the test's body runs
/// there; false in the one that started it, once the body passed there.
pub fn in_own_process(name: &str) -> bool {
    in_own_process_with(name, &[])
}

/// As [`in_own_process`], with more environment for that process (an
/// `LD_PRELOAD` shim, say).
pub fn in_own_process_with(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    const KEY: &str = "PROCLOOP_OWN_PROCESS";
    if std::env::var(KEY).as_deref() == Ok(name) {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(KEY, name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {}\n{stdout}\n{stderr}",
        output.status
    );
    false
}

/// Builds the LD_PRELOAD shim `tests/shim/<name>.c` with the C compiler.
pub fn build_shim(name: &str) -> std::path::PathBuf {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shim").join(format!("{name}.c"));
    let library = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lib{name}.so"));
    let status = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("a C compiler (cc) to build the test shim");
    assert!(status.success(), "building {}", source.display());
    library
}

/// Writes an executable file by a child process, so that this process
/// never holds it open for writing: a spawn on another test's thread
/// would copy that fd into its child until exec, and an exec of the file
/// meanwhile fails with ETXTBSY ("Text file busy").
pub fn write_executable(path: &std::path::Path, text: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"", "sh", text])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "writing {}", path.display());
}
