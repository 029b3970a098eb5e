//! Limits and accounting for bot arenas (issue 14): resource limits set in
//! the child, what an ended child used, the CPU time of a running one (of
//! the Runner's and of the Reactor's), and a limit the host cannot grant.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, setrlimit};
use procloop::{App, Channel, Error, Limit, Reactor, ReactorEvent, Runner, Start, Stderr};
use util::*;

/// How long a child that must use a second or two of CPU may take: the
/// machine may be shared and loaded.
const CPU_DEADLINE: Duration = Duration::from_secs(120);

fn exited(got: &[Got], alias: &str) -> bool {
    got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == alias))
}

/// A python3 child running `script`.
fn python(runner: &mut Runner, app: App, alias: &str, script: &str) -> u32 {
    runner.add(alias, app);
    runner.start_with(alias, Start::new().args(["-c", script])).unwrap()
}

#[test]
fn a_big_allocation_fails_under_a_memory_limit_and_succeeds_without() {
    init();
    let script = "b = bytearray(200 << 20); print(len(b))";
    let mut runner = Runner::new().unwrap();
    python(&mut runner, App::new("python3").stderr(Stderr::Capture), "free", script);
    let capped = App::new("python3").stderr(Stderr::Capture).limit(Limit::Memory(64 << 20));
    python(&mut runner, capped, "capped", script);
    let got = run_until(&mut runner, |got| exited(got, "free") && exited(got, "capped"));
    assert_eq!(output_of(&got, "free"), format!("{}\n", 200 << 20).as_bytes(), "{got:?}");
    assert!(got.contains(&Got::Exited("free".into(), Some(0))), "{got:?}");
    assert!(got.contains(&Got::Exited("capped".into(), Some(1))), "{got:?}");
    assert_eq!(output_of(&got, "capped"), b"");
    let stderr: Vec<u8> = got
        .iter()
        .filter_map(|g| match g {
            Got::Stderr(a, d) if a == "capped" => Some(d.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    assert!(String::from_utf8_lossy(&stderr).contains("MemoryError"), "{}", String::from_utf8_lossy(&stderr));
}

#[test]
fn a_spinning_child_ends_by_sigxcpu_after_its_cpu_limit() {
    let app = App::new("sh -c 'while :; do :; done'").limit(Limit::CpuTime(Duration::from_secs(1)));
    let mut runner = runner_with("spin", app);
    runner.start("spin").unwrap();
    run_until_within(&mut runner, CPU_DEADLINE, |got| exited(got, "spin"));
    let signal = runner.exit_status("spin").unwrap().signal();
    assert!(matches!(signal, Some(24 | 9)), "SIGXCPU or SIGKILL, not {signal:?}");
    let used = runner.usage("spin").unwrap().cpu_time();
    // The soft limit is 1 s, the hard one (SIGKILL) 2 s. The kernel checks
    // the limit against CPU time sampled at its tick, while rusage scales
    // those samples to the precise run time: on a loaded virtual machine the
    // two differ by a tenth or more, so allow wide slack either side.
    assert!(used >= Duration::from_millis(500), "ended after {used:?} of CPU");
    assert!(used < Duration::from_secs(4), "ended after {used:?} of CPU");
}

#[test]
fn the_child_sees_the_limits_it_was_given() {
    let script = "import resource as r\n\
        for n in ('NOFILE', 'FSIZE', 'NPROC', 'CORE', 'AS', 'CPU'):\n\
        \x20   print(n, *r.getrlimit(getattr(r, 'RLIMIT_' + n)))";
    let app = App::new("python3")
        .limit(Limit::OpenFiles(64))
        .limit(Limit::FileSize(1 << 20))
        .limit(Limit::Processes(500))
        .limit(Limit::CoreDump(0))
        .limit(Limit::Memory(1 << 30))
        .limit(Limit::CpuTime(Duration::from_millis(6500)))
        // Repeated: the later one wins.
        .limit(Limit::OpenFiles(48));
    let mut runner = Runner::new().unwrap();
    python(&mut runner, app, "py", script);
    let got = run_until(&mut runner, |got| exited(got, "py"));
    let expected = format!(
        "NOFILE 48 48\nFSIZE {0} {0}\nNPROC 500 500\nCORE 0 0\nAS {1} {1}\nCPU 7 8\n",
        1 << 20,
        1u64 << 30
    );
    assert_eq!(String::from_utf8(output_of(&got, "py")).unwrap(), expected);
    // As bash sees them too (`ulimit -u`: processes, which root is not held to).
    let sh =
        App::new("bash -c 'ulimit -n; ulimit -u'").limit(Limit::OpenFiles(33)).limit(Limit::Processes(77));
    runner.add("sh", sh);
    runner.start("sh").unwrap();
    let got = run_until(&mut runner, |got| exited(got, "sh"));
    assert_eq!(output_of(&got, "sh"), b"33\n77\n");
}

#[test]
fn writing_past_the_file_size_limit_stops_at_it() {
    let dir = TempDir::new("fsize");
    let write = |name: &str| {
        App::new(format!("sh -c 'exec head -c 100000 /dev/zero > {}'", dir.path().join(name).display()))
    };
    let mut runner = runner_with("capped", write("capped").limit(Limit::FileSize(4096)));
    runner.add("free", write("free"));
    runner.start("capped").unwrap();
    runner.start("free").unwrap();
    run_until(&mut runner, |got| exited(got, "capped") && exited(got, "free"));
    assert_eq!(runner.exit_status("capped").unwrap().signal(), Some(25), "SIGXFSZ");
    assert_eq!(std::fs::metadata(dir.path().join("capped")).unwrap().len(), 4096);
    assert!(runner.exit_status("free").unwrap().success());
    assert_eq!(std::fs::metadata(dir.path().join("free")).unwrap().len(), 100_000);
}

/// Both ways an exit is collected: reaped at once (`wait4`), and peeked at
/// for a group leader, whose zombie is kept (`waitid`).
#[test]
fn usage_after_an_exit_gives_cpu_time_and_peak_rss_in_bytes() {
    let script = "import time\n\
        b = bytearray(80 << 20)\n\
        t = time.process_time()\n\
        while time.process_time() - t < 0.3: pass\n\
        print('done')";
    for setpgrp in [false, true] {
        let mut runner = Runner::new().unwrap();
        let started = Instant::now();
        python(&mut runner, App::new("python3").setpgrp(setpgrp), "py", script);
        assert_eq!(runner.usage("py"), None, "none while it runs");
        let got = run_until_within(&mut runner, CPU_DEADLINE, |got| exited(got, "py"));
        let wall = started.elapsed();
        assert_eq!(output_of(&got, "py"), b"done\n");
        let usage = runner.usage("py").expect("usage once exited");
        assert!(usage.max_rss >= 80 << 20, "setpgrp {setpgrp}: peak RSS {} bytes", usage.max_rss);
        assert!(usage.max_rss < 4 << 30, "setpgrp {setpgrp}: peak RSS {} bytes", usage.max_rss);
        // It spun for 0.3 s of its own CPU time by its precise clock (user
        // and system: touching the 80 MB is the kernel's work). rusage is
        // the kernel's other accounting, which on a loaded virtual machine
        // differs from that clock by a tenth or more: wide margins.
        assert!(usage.cpu_time() >= Duration::from_millis(200), "setpgrp {setpgrp}: {usage:?}");
        // One thread: about no more CPU than wall-clock time.
        assert!(usage.cpu_time() < wall * 2, "setpgrp {setpgrp}: {usage:?} in {wall:?}");
        assert_eq!(usage.cpu_time(), usage.user + usage.system);
        assert_eq!(runner.cpu_time("py").unwrap(), usage.cpu_time(), "the same once exited");
        runner.terminate("py").unwrap();
        assert_eq!(runner.usage("py"), None, "gone with the alias");
        assert!(matches!(runner.cpu_time("py"), Err(Error::NoSuchProcess(_))));
    }
}

#[test]
fn cpu_time_grows_for_a_spinner_and_not_for_a_sleeper() {
    let mut runner = runner_with("spin", App::new("sh -c 'while :; do :; done'"));
    runner.add("sleep", App::new("sleep 60"));
    runner.start("spin").unwrap();
    runner.start("sleep").unwrap();
    let slept_at_start = runner.cpu_time("sleep").unwrap();
    let mut spun = vec![runner.cpu_time("spin").unwrap()];
    let deadline = Instant::now() + CPU_DEADLINE;
    while *spun.last().unwrap() < Duration::from_millis(500) {
        assert!(Instant::now() < deadline, "the spinner used only {spun:?}");
        let tick = runner.set_timer(Duration::from_millis(20));
        run_until(&mut runner, |got| got.contains(&Got::Timer(tick)));
        spun.push(runner.cpu_time("spin").unwrap());
    }
    assert!(spun.windows(2).all(|w| w[0] <= w[1]), "never goes back: {spun:?}");
    let slept = runner.cpu_time("sleep").unwrap();
    assert!(slept >= slept_at_start);
    // `sleep` uses a millisecond or so to start; the spinner used 500.
    assert!(slept < Duration::from_millis(100), "the sleeper used {slept:?}");
    assert!(matches!(runner.cpu_time("nobody"), Err(Error::NoSuchProcess(a)) if a == "nobody"));
}

/// The same on the reactor's own processes: the CPU time of a running one,
/// and the usage of an ended one, handed back in its `Exited` handler.
#[test]
fn a_reactor_process_has_cpu_time_and_usage() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let script = "import sys\nb = bytearray(40 << 20)\nprint('up', flush=True)\nsys.stdin.read()";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = Channel::from_pipe(Some(child.stdout.take().unwrap().into()), None).unwrap();
    let output = reactor.register(stdout).unwrap();
    let token = reactor.add_process(child, &[output]).unwrap();
    poll_until(&mut reactor, |seen| data_of(seen, output) == b"up\n");
    let running = reactor.process(token).unwrap();
    assert_eq!(running.usage(), None, "none while it runs");
    assert!(running.cpu_time().unwrap() > Duration::ZERO);
    drop(stdin);
    let mut ended = None;
    let deadline = Instant::now() + DEADLINE;
    while ended.is_none() {
        assert!(Instant::now() < deadline, "no exit");
        reactor
            .poll_once(Some(Duration::from_millis(500)), |reactor, event| {
                if let ReactorEvent::Exited { token: t, .. } = event {
                    ended = reactor.remove_process(t);
                }
            })
            .unwrap();
    }
    let usage = ended.unwrap().usage().expect("usage of the ended process");
    assert!(usage.max_rss >= 40 << 20, "peak RSS {} bytes", usage.max_rss);
    assert!(usage.cpu_time() > Duration::ZERO);
}

/// Drops `CAP_SYS_RESOURCE` from this thread, as root in a container usually
/// runs: then even root may not raise a hard limit.
fn drop_cap_sys_resource() {
    use nix::libc;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_RESOURCE: u32 = 24;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget fills a header and, for version 3, two `Data`.
    assert_eq!(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) }, 0);
    data[0].effective &= !(1 << CAP_SYS_RESOURCE);
    data[0].permitted &= !(1 << CAP_SYS_RESOURCE);
    // SAFETY: capset reads the header and two `Data`.
    assert_eq!(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }, 0);
}

/// The kernel's ceiling for open files holds for everyone; a hard limit of
/// this process holds once it may not raise it (no `CAP_SYS_RESOURCE`).
#[test]
fn a_limit_the_host_cannot_grant_is_a_clear_error_and_starts_nothing() {
    if !in_own_process("a_limit_the_host_cannot_grant_is_a_clear_error_and_starts_nothing") {
        return;
    }
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open").unwrap().trim().parse().unwrap();
    let mut runner = runner_with("files", App::new("sleep 60").limit(Limit::OpenFiles(nr_open + 1)));
    let err = runner.start("files").unwrap_err();
    assert!(
        matches!(err, Error::LimitTooHigh { limit: Limit::OpenFiles(n), allowed } if n == nr_open + 1 && allowed == nr_open),
        "{err:?}"
    );
    assert!(err.to_string().contains("open_files"), "{err}");

    drop_cap_sys_resource();
    setrlimit(Resource::RLIMIT_CPU, 100, 100).unwrap();
    setrlimit(Resource::RLIMIT_AS, 1 << 40, 1 << 40).unwrap();
    let cases = [
        (Limit::CpuTime(Duration::from_secs(101)), "cpu_time", 100),
        (Limit::Memory((1 << 40) + 1), "memory", 1 << 40),
    ];
    for (limit, name, most) in cases {
        runner.add(name, App::new("sleep 60").limit(limit));
        let err = runner.start(name).unwrap_err();
        assert!(
            matches!(err, Error::LimitTooHigh { limit: l, allowed } if l == limit && allowed == most),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(name) && message.contains(&most.to_string()), "{message}");
    }
    assert_eq!(runner.aliases().count(), 0, "every alias is free");
    assert_eq!(child_pids(), Vec::<u32>::new(), "nothing was started");

    // What it may grant starts: the CPU limit's hard part (a second past the
    // soft one) is held to the host's hard limit.
    runner.add("ok", App::new("sleep 60").limit(Limit::CpuTime(Duration::from_secs(100))));
    runner.start("ok").unwrap();
    assert!(runner.is_running("ok"));
}

#[cfg(feature = "serde")]
#[test]
fn the_config_limits_map_parses_and_applies() {
    let app: App = serde_json::from_str(
        r#"{"command": "sh -c 'ulimit -n'", "limits": {"memory": 268435456, "cpu_time": 1.5,
            "open_files": 40, "processes": 100, "file_size": 4096, "core_dump": 0}}"#,
    )
    .unwrap();
    let mut limits = app.limits().to_vec();
    limits.sort_by_key(|l| l.name());
    assert_eq!(
        limits,
        [
            Limit::CoreDump(0),
            Limit::CpuTime(Duration::from_millis(1500)),
            Limit::FileSize(4096),
            Limit::Memory(268435456),
            Limit::OpenFiles(40),
            Limit::Processes(100),
        ]
    );
    let mut runner = runner_with("sh", app);
    runner.start("sh").unwrap();
    let got = run_until(&mut runner, |got| exited(got, "sh"));
    assert_eq!(output_of(&got, "sh"), b"40\n");

    let err = serde_json::from_str::<App>(r#"{"command": "x", "limits": {"stack": 1}}"#).unwrap_err();
    assert!(err.to_string().contains("stack"), "{err}");
    let err = serde_json::from_str::<App>(r#"{"command": "x", "limits": {"cpu_time": -1}}"#).unwrap_err();
    assert!(err.to_string().contains("limits.cpu_time"), "{err}");
}
