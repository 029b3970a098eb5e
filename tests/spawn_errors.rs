//! Start errors that blame the right thing, the same whichever way a child
//! is spawned (issue 18, items 5 and 6). Each test tries a plain start and
//! two that run code of ours in the child (`die_with_parent`, a `Limit`):
//! all go through procloop's own `clone`; and again (the last test) where
//! `clone` has no `CLONE_PIDFD` (a shim fakes an old kernel), so the plain
//! start takes `posix_spawn` and the others std's fork path.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use procloop::{App, Error, Limit, Runner};
use util::*;

/// `app` three ways: plain, and twice running code in the child.
fn every_path(app: App) -> [(&'static str, App); 3] {
    [
        ("plain", app.clone()),
        ("die_with_parent", app.clone().die_with_parent(true)),
        ("limit", app.limit(Limit::OpenFiles(64))),
    ]
}

/// The message of the start error of `app` (which must fail).
fn start_error(runner: &mut Runner, name: &str, app: App) -> String {
    runner.add(name, app);
    match runner.start(name) {
        Ok(pid) => panic!("{name}: started as pid {pid}, but must fail"),
        Err(e @ (Error::Spawn { .. } | Error::InvalidSetting { .. })) => e.to_string(),
        Err(e) => panic!("{name}: wrong error {e:?}"),
    }
}

fn executable(path: &std::path::Path, text: &str) {
    write_executable(path, text);
}

#[test]
fn one_behaviour_whichever_way_a_child_is_spawned() {
    init();
    let dir = TempDir::new("no-shebang");
    let plain = dir.path().join("plain");
    executable(&plain, "echo ran under a shell\n");
    let script = dir.path().join("script");
    executable(&script, "#!/bin/sh\necho ok\n");
    let mut runner = Runner::new().unwrap();
    for (way, app) in every_path(App::new(plain.display().to_string())) {
        let message = start_error(&mut runner, way, app);
        assert!(message.contains(&plain.display().to_string()), "{way}: {message}");
        assert!(message.contains("has no #! line"), "{way}: {message}");
    }
    // A #! line whose interpreter is such a file is named as the culprit.
    let wrapper = dir.path().join("wrapper");
    executable(&wrapper, &format!("#!{}\n", plain.display()));
    for (way, app) in every_path(App::new(wrapper.display().to_string())) {
        let message = start_error(&mut runner, &format!("{way}-wrapper"), app);
        let named = format!("the interpreter {} on the #! line of {}", plain.display(), wrapper.display());
        assert!(message.contains(&named), "{way}: {message}");
    }
    // A file with a #! line runs on every path.
    for (way, app) in every_path(App::new(script.display().to_string())) {
        let alias = format!("{way}-script");
        runner.add(&alias, app);
        runner.start(&alias).unwrap();
        let output = read_to_end(runner.get_channel(&alias).unwrap());
        assert_eq!(output, b"ok\n", "{way}");
        assert_eq!(runner.wait(&alias, DEADLINE).unwrap().and_then(|s| s.code()), Some(0), "{way}");
    }
}

#[test]
fn errors_that_blame_the_right_thing_cwd_without_search_permission() {
    init();
    // Root enters any directory: run this test's body as nobody.
    if is_root() {
        use std::os::unix::process::CommandExt;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "errors_that_blame_the_right_thing_cwd_without_search_permission"])
            .args(["--test-threads=1", "--nocapture"])
            .uid(65534)
            .gid(65534)
            .status()
            .unwrap();
        assert!(status.success(), "the test as nobody: {status}");
        return;
    }
    let dir = TempDir::new("no-search");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut runner = Runner::new().unwrap();
    for (way, app) in every_path(App::new("true").cwd(&locked)) {
        let message = start_error(&mut runner, way, app);
        assert!(message.contains(&format!("working directory {}", locked.display())), "{way}: {message}");
        assert!(message.contains("Permission denied"), "{way}: {message}");
    }
}

#[test]
fn errors_that_blame_the_right_thing_program_not_in_path() {
    init();
    let dir = TempDir::new("not-in-path");
    let mut runner = Runner::with_extra_paths([dir.path()]).unwrap();
    for (way, app) in every_path(App::new("procloop-no-such-program")) {
        let message = start_error(&mut runner, way, app);
        assert!(message.contains("not found in PATH"), "{way}: {message}");
        assert!(message.contains(&dir.path().display().to_string()), "{way}: {message}");
        assert!(message.contains("with_extra_paths"), "{way}: {message}");
    }
    // An app's own PATH is the one named.
    let own = App::new("procloop-no-such-program").env("PATH", "/procloop/nowhere");
    for (way, app) in every_path(own) {
        let message = start_error(&mut runner, &format!("{way}-own"), app);
        assert!(message.contains("not found in PATH /procloop/nowhere "), "{way}: {message}");
    }
}

#[test]
fn errors_that_blame_the_right_thing_missing_shebang_interpreter() {
    init();
    let dir = TempDir::new("no-interpreter");
    let script = dir.path().join("script");
    executable(&script, "#!/procloop/no/such/interpreter -x\necho hi\n");
    let mut runner = Runner::new().unwrap();
    for (way, app) in every_path(App::new(script.display().to_string())) {
        let message = start_error(&mut runner, way, app);
        assert!(message.contains("the interpreter /procloop/no/such/interpreter"), "{way}: {message}");
        assert!(message.contains(&format!("#! line of {}", script.display())), "{way}: {message}");
    }
}

#[test]
fn errors_that_blame_the_right_thing_zero_limits() {
    init();
    let mut runner = Runner::new().unwrap();
    let limits = [
        (Limit::Memory(0), "memory of 0"),
        (Limit::Memory(4096), "memory of 4096"),
        (Limit::OpenFiles(0), "open_files of 0"),
        (Limit::CpuTime(Duration::ZERO), "cpu_time of 0ns"),
    ];
    for (limit, named) in limits {
        for (way, app) in every_path(App::new("true")) {
            let message = start_error(&mut runner, &format!("{way}-{named}"), app.limit(limit));
            assert!(message.contains(&format!("limit {named}")), "{way}: {message}");
        }
    }
}

/// Every test above again where `clone` has no `CLONE_PIDFD`: the plain
/// start takes `posix_spawn`, the others std's fork path (execvp).
#[test]
fn the_same_errors_on_the_posix_spawn_and_fork_paths() {
    if std::env::var_os("LD_PRELOAD").is_some() {
        return;
    }
    let shim = build_shim("fail_clone_pidfd");
    for name in [
        "one_behaviour_whichever_way_a_child_is_spawned",
        "errors_that_blame_the_right_thing_cwd_without_search_permission",
        "errors_that_blame_the_right_thing_program_not_in_path",
        "errors_that_blame_the_right_thing_missing_shebang_interpreter",
        "errors_that_blame_the_right_thing_zero_limits",
    ] {
        in_own_process_with(name, &[("LD_PRELOAD", shim.as_os_str())]);
    }
}
