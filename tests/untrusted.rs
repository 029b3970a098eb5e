//! Settings for untrusted code and fair share (issue 19): the user, no new
//! privileges, a network or PID namespace of its own, nice, scheduler and
//! CPU affinity, each read back from the child; and the start errors that
//! name a setting that cannot be had.

mod util;

use procloop::{App, Error, Runner, Scheduler, Signal};
use util::*;

/// The whole output of `app` (its stdout, up to end of stream).
fn output(app: App) -> String {
    let mut runner = runner_with("child", app);
    runner.start("child").unwrap();
    let text = String::from_utf8(read_to_end(runner.get_channel("child").unwrap())).unwrap();
    runner.terminate("child").unwrap();
    text
}

/// The `n`th field (from 1, as in proc(5)) of `/proc/<pid>/stat`.
fn stat_field(pid: u32, n: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields 1 and 2 are the pid and "(comm)"; count from after the comm.
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(n - 3).unwrap().to_string()
}

fn status_line(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix(key)).unwrap().trim().to_string()
}

#[test]
fn user_runs_the_child_as_that_uid_and_gid_without_other_groups() {
    init();
    if !is_root() {
        eprintln!("skipped: switching user needs root");
        return;
    }
    let text = output(App::new("sh -c 'id -u; id -g; id -G'").user(65534, 65534));
    assert_eq!(text, "65534\n65534\n65534\n");
}

#[test]
fn no_new_privileges_shows_in_the_childs_status() {
    init();
    let with = output(App::new("grep NoNewPrivs /proc/self/status").no_new_privileges(true));
    assert_eq!(with.split_whitespace().collect::<Vec<_>>(), ["NoNewPrivs:", "1"]);
    let without = output(App::new("grep NoNewPrivs /proc/self/status"));
    assert_eq!(without.split_whitespace().collect::<Vec<_>>(), ["NoNewPrivs:", "0"]);
}

#[test]
fn isolate_network_leaves_only_loopback_and_it_is_up() {
    init();
    if !is_root() {
        eprintln!("skipped: a network namespace needs root");
        return;
    }
    // /proc/net/dev lists the interfaces of the reader's namespace, after
    // two header lines.
    let devices = output(App::new("cat /proc/net/dev").isolate_network(true));
    let names: Vec<&str> =
        devices.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(names, ["lo"], "{devices}");
    // A connection over loopback works only if lo is up.
    let script = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); \
                  socket.create_connection(s.getsockname()); print('connected')";
    let app = App::new("python3 -c").isolate_network(true);
    let mut runner = runner_with("net", app);
    runner.start_with("net", procloop::Start::new().args([script])).unwrap();
    assert_eq!(read_to_end(runner.get_channel("net").unwrap()), b"connected\n");
}

#[test]
fn isolate_pids_makes_the_child_init_and_its_end_ends_what_it_started() {
    init();
    if !is_root() {
        eprintln!("skipped: a PID namespace needs root");
        return;
    }
    // With die_with_parent too: its parent has no pid in the child's namespace.
    let app =
        App::new("sh -c 'echo $$; sleep 1000 & echo started; wait'").isolate_pids(true).die_with_parent(true);
    let mut runner = runner_with("init", app);
    let pid = runner.start("init").unwrap();
    let channel = runner.get_channel("init").unwrap();
    let mut text = Vec::new();
    while !text.ends_with(b"started\n") {
        text.extend(read_some(channel).unwrap());
    }
    assert_eq!(text, b"1\nstarted\n", "the child is pid 1 in its namespace");
    let grandchild = children_of(pid);
    assert_eq!(grandchild.len(), 1, "the sleep it started");
    runner.signal("init", Signal::SIGKILL).unwrap();
    runner.wait("init", DEADLINE).unwrap().expect("init exited");
    wait_for("the grandchild to end with its init", || {
        !pid_exists(grandchild[0]) || pid_state(grandchild[0]) == Some('Z')
    });
}

/// The pids whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let entries = std::fs::read_dir("/proc").unwrap();
    let pids = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|&p| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<u32>().ok())
            == Some(pid)
    })
    .collect()
}

#[test]
fn nice_scheduler_and_cpu_affinity_read_back_from_the_child() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("batch", App::new("sleep 1000").nice(5).scheduler(Scheduler::Batch).cpu_affinity(&[0]));
    runner.add("idle", App::new("sleep 1000").scheduler(Scheduler::Idle));
    let batch = runner.start("batch").unwrap();
    let idle = runner.start("idle").unwrap();
    // proc(5): field 19 is nice, 41 the policy (SCHED_BATCH 3, SCHED_IDLE 5).
    assert_eq!(stat_field(batch, 19), "5");
    assert_eq!(stat_field(batch, 41), "3");
    assert_eq!(status_line(batch, "Cpus_allowed_list:"), "0");
    assert_eq!(stat_field(idle, 41), "5");
    runner.terminate_all();
}

#[test]
fn settings_that_cannot_work_are_invalid_settings() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("none", App::new("true").cpu_affinity(&[]));
    runner.add("huge", App::new("true").cpu_affinity(&[1 << 20]));
    runner.add("nice", App::new("true").nice(40));
    for (name, named) in
        [("none", "cpu_affinity []"), ("huge", "cpu_affinity [1048576]"), ("nice", "nice 40")]
    {
        match runner.start(name) {
            Err(e @ Error::InvalidSetting { .. }) => assert!(e.to_string().contains(named), "{e}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_setting_this_process_may_not_grant_fails_the_start_naming_it() {
    init();
    if is_root() {
        // Root may grant them all: run this test's body as nobody.
        use std::os::unix::process::CommandExt;
        let name = "a_setting_this_process_may_not_grant_fails_the_start_naming_it";
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .uid(65534)
            .gid(65534)
            .status()
            .unwrap();
        assert!(status.success(), "the test as nobody: {status}");
        return;
    }
    let mut runner = Runner::new().unwrap();
    let offline = usize::try_from(nix::libc::CPU_SETSIZE - 1).unwrap();
    let cases = [
        (App::new("true").user(0, 0), "user 0, group 0 (switching user needs root"),
        (App::new("true").nice(-5), "nice -5 (below 0 needs root"),
        (App::new("true").isolate_network(true), "isolate_network (a namespace of its own needs root"),
        (App::new("true").isolate_pids(true), "isolate_pids (a namespace of its own needs root"),
        (App::new("true").cpu_affinity(&[offline]), "cpu_affinity [1023] (only CPUs"),
    ];
    for (i, (app, named)) in cases.into_iter().enumerate() {
        let name = format!("case{i}");
        runner.add(&name, app);
        match runner.start(&name) {
            Err(e @ Error::Spawn { .. }) => assert!(e.to_string().contains(named), "{e}"),
            other => panic!("{named}: {other:?}"),
        }
    }
    assert!(child_pids().is_empty(), "a failed start left a child");
}

#[cfg(feature = "serde")]
#[test]
fn the_config_keys_set_the_same() {
    init();
    let config = r#"{"command": "sleep 1000", "user": [0, 0], "no_new_privileges": true,
        "nice": 3, "scheduler": "batch", "cpu_affinity": [0]}"#;
    let app: App = serde_json::from_str(config).unwrap();
    let mut runner = runner_with("configured", app);
    let pid = runner.start("configured").unwrap();
    assert_eq!(stat_field(pid, 19), "3");
    assert_eq!(stat_field(pid, 41), "3");
    assert_eq!(status_line(pid, "Cpus_allowed_list:"), "0");
    assert_eq!(status_line(pid, "NoNewPrivs:"), "1");
    runner.terminate("configured").unwrap();
    let namespaces: App = serde_json::from_str(
        r#"{"command": "cat /proc/net/dev", "isolate_network": true, "isolate_pids": true}"#,
    )
    .unwrap();
    let devices = output(namespaces);
    assert_eq!(devices.lines().count(), 3, "{devices}");
    let bad = serde_json::from_str::<App>(r#"{"command": "true", "scheduler": "fifo"}"#);
    assert!(bad.is_err(), "an unknown scheduler is refused");
}
