//! The Runner: the seed suite's behaviour, plus bad input and cleanup.

mod util;

use std::time::Duration;

use procloop::{App, Buffering, Error, Runner, Start};
use util::*;

#[test]
fn echo_through_cat() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.ensure_running("cat").unwrap();
    let channel = runner.get_channel("cat").unwrap();
    channel.write(b"hello, world").unwrap();
    assert_eq!(read_exactly(channel, 12), b"hello, world");
    runner.terminate("cat").unwrap();
}

#[test]
fn echo_through_cat_with_poll_once() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    runner.get_channel("cat").unwrap().write(b"ping\n").unwrap();
    let got = run_until(&mut runner, |g| output_of(g, "cat").len() == 5);
    assert_eq!(output_of(&got, "cat"), b"ping\n");
}

#[test]
fn echo_through_socat_socket() {
    let dir = TempDir::new("socat");
    let app = App::new("socat SYSTEM:cat UNIX-LISTEN:socket").socket("socket").cwd(dir.path());
    let mut runner = runner_with("socat", app);
    runner.ensure_running("socat").unwrap();
    let channel = runner.get_channel("socat").unwrap();
    channel.write(b"hello, world").unwrap();
    assert_eq!(read_exactly(channel, 12), b"hello, world");
    runner.terminate("socat").unwrap();
    assert!(runner.get_channel("socat").is_none());
}

#[test]
fn cwd_lets_cat_read_a_relative_file() {
    let dir = TempDir::new("cwd");
    std::fs::write(dir.path().join("file"), b"file contents").unwrap();
    let mut runner = runner_with("cat", App::new("cat file").cwd(dir.path()));
    runner.start("cat").unwrap();
    assert_eq!(read_to_end(runner.get_channel("cat").unwrap()), b"file contents");
}

#[test]
fn alias_names_the_process() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start_with("cat", Start::new().alias("kitty")).unwrap();
    assert!(runner.get_channel("cat").is_none());
    let channel = runner.get_channel("kitty").unwrap();
    channel.write(b"meow").unwrap();
    assert_eq!(read_exactly(channel, 4), b"meow");
}

#[test]
fn two_aliases_of_one_app_with_different_args() {
    let mut runner = runner_with("echo", App::new("echo -n"));
    runner.start_with("echo", Start::new().alias("one").args(["first"])).unwrap();
    runner.start_with("echo", Start::new().alias("two").args(["second", "arg with spaces"])).unwrap();
    assert_eq!(read_to_end(runner.get_channel("one").unwrap()), b"first");
    assert_eq!(read_to_end(runner.get_channel("two").unwrap()), b"second arg with spaces");
}

#[test]
fn args_are_never_interpreted() {
    let mut runner = runner_with("echo", App::new("echo -n"));
    runner.start_with("echo", Start::new().args(["$HOME", "'q'", "a;b", "*"])).unwrap();
    assert_eq!(read_to_end(runner.get_channel("echo").unwrap()), b"$HOME 'q' a;b *");
}

#[test]
fn terminate_frees_the_alias_and_start_works_again() {
    let mut runner = runner_with("cat", App::new("cat"));
    let first = runner.start("cat").unwrap();
    let status = runner.terminate("cat").unwrap();
    assert!(!status.success(), "cat was ended by a signal");
    assert!(runner.get_channel("cat").is_none());
    assert!(!runner.is_running("cat"));
    wait_for("the first cat to be gone", || !pid_exists(first));
    let second = runner.start("cat").unwrap();
    assert_ne!(first, second);
    let channel = runner.get_channel("cat").unwrap();
    channel.write(b"again").unwrap();
    assert_eq!(read_exactly(channel, 5), b"again");
}

#[test]
fn terminate_a_socket_app() {
    let dir = TempDir::new("term-socket");
    let path = dir.path().join("sock");
    let app = App::new(format!("socat SYSTEM:cat UNIX-LISTEN:{}", path.display())).socket(&path);
    let mut runner = runner_with("socat", app);
    let pid = runner.start("socat").unwrap();
    runner.terminate("socat").unwrap();
    assert!(runner.get_channel("socat").is_none());
    assert!(!pid_exists(pid), "terminated and reaped");
}

#[test]
fn socket_path_given_at_start() {
    let dir = TempDir::new("socket-at-start");
    let mut runner = runner_with("socat", App::new("socat SYSTEM:cat UNIX-LISTEN:late.sock").cwd(dir.path()));
    runner.start_with("socat", Start::new().socket("late.sock")).unwrap();
    let channel = runner.get_channel("socat").unwrap();
    channel.write(b"via start").unwrap();
    assert_eq!(read_exactly(channel, 9), b"via start");
}

#[test]
fn socket_that_appears_after_a_delay() {
    let dir = TempDir::new("socket-delay");
    let command = "sh -c 'sleep 0.3; exec socat SYSTEM:cat UNIX-LISTEN:slow.sock'";
    let mut runner = runner_with("slow", App::new(command).socket("slow.sock").cwd(dir.path()));
    runner.start("slow").unwrap();
    let channel = runner.get_channel("slow").unwrap();
    channel.write(b"patience").unwrap();
    assert_eq!(read_exactly(channel, 8), b"patience");
}

#[test]
fn start_twice_is_process_exists() {
    let mut runner = runner_with("cat", App::new("cat"));
    runner.start("cat").unwrap();
    match runner.start("cat") {
        Err(Error::ProcessExists(alias)) => assert_eq!(alias, "cat"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ensure_running_twice_keeps_the_first_process() {
    let mut runner = runner_with("echo", App::new("echo -n"));
    let first = runner.ensure_running_with("echo", Start::new().args(["first"])).unwrap();
    let again = runner.ensure_running_with("echo", Start::new().args(["second"])).unwrap();
    assert_eq!(first, again);
    assert_eq!(read_to_end(runner.get_channel("echo").unwrap()), b"first");
}

#[test]
fn add_configures_an_app() {
    let mut runner = Runner::new().unwrap();
    assert!(matches!(runner.start("late"), Err(Error::UnknownApp(name)) if name == "late"));
    runner.add("late", App::new("echo -n added"));
    runner.start("late").unwrap();
    assert_eq!(read_to_end(runner.get_channel("late").unwrap()), b"added");
}

#[test]
fn update_config_adds_several_apps() {
    let mut runner = Runner::new().unwrap();
    runner.update_config([("a", App::new("echo -n a")), ("b", App::new("echo -n b"))]);
    runner.start("a").unwrap();
    runner.start("b").unwrap();
    assert_eq!(read_to_end(runner.get_channel("a").unwrap()), b"a");
    assert_eq!(read_to_end(runner.get_channel("b").unwrap()), b"b");
}

#[test]
fn start_override_of_buffering_wins() {
    let mut runner = runner_with("printf", App::new("printf 'a\\nb\\n'").buffering(Buffering::Bytes));
    runner.start_with("printf", Start::new().buffering(Buffering::Line)).unwrap();
    let channel = runner.get_channel("printf").unwrap();
    assert!(channel.is_line_buffered());
    assert_eq!(read_some(channel).unwrap(), b"a\n");
    assert_eq!(read_some(channel).unwrap(), b"b\n");
}

#[test]
fn line_mode_through_cat() {
    let mut runner = runner_with("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    runner.get_channel("cat").unwrap().write(b"one\ntwo\nthr").unwrap();
    let got = run_until(&mut runner, |g| g.len() == 2);
    assert_eq!(got, [Got::Data("cat".into(), b"one\n".to_vec()), Got::Data("cat".into(), b"two\n".to_vec())]);
    runner.get_channel("cat").unwrap().write(b"ee\n").unwrap();
    let got = run_until(&mut runner, |g| !g.is_empty());
    assert_eq!(got, [Got::Data("cat".into(), b"three\n".to_vec())]);
}

#[test]
fn output_of_short_lived_child_is_readable_after_it_exited() {
    for buffering in [Buffering::Bytes, Buffering::Line] {
        let mut runner = runner_with("echo", App::new("echo -n test").buffering(buffering));
        runner.start("echo").unwrap();
        let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
        assert_eq!(output_of(&got, "echo"), b"test");
        assert!(runner.get_channel("echo").is_some(), "the alias stays taken after exit");
        assert!(runner.terminate("echo").unwrap().success());
    }
}

#[test]
fn output_is_readable_without_polling_after_exit() {
    let mut runner = runner_with("echo", App::new("echo -n test").buffering(Buffering::Line));
    let pid = runner.start("echo").unwrap();
    wait_for("echo to exit", || pid_state(pid) == Some('Z'));
    let channel = runner.get_channel("echo").unwrap();
    assert_eq!(read_some(channel).unwrap(), b"test");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    assert!(runner.terminate("echo").unwrap().success());
}

#[test]
fn data_comes_before_closed_before_exited() {
    // Alone in a process: another test's fork could hold the pipe's write
    // end for a moment (until it execs), and `Closed` would then come later.
    if !in_own_process("data_comes_before_closed_before_exited") {
        return;
    }
    let mut runner = runner_with("seq", App::new("seq 1 10000"));
    runner.start("seq").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    let expected: String = (1..=10000).map(|i| format!("{i}\n")).collect();
    assert_eq!(output_of(&got, "seq"), expected.as_bytes());
    let closed = got.iter().position(|e| *e == Got::Closed("seq".into())).expect("closed");
    let exited = got.iter().position(|e| matches!(e, Got::Exited(..))).unwrap();
    let last_data = got.iter().rposition(|e| matches!(e, Got::Data(..))).unwrap();
    assert!(last_data < closed && closed < exited, "{got:?}");
    assert_eq!(got[exited], Got::Exited("seq".into(), Some(0)));
}

#[test]
fn exit_status_is_reported() {
    let mut runner = runner_with("fail", App::new("sh -c 'exit 3'"));
    runner.start("fail").unwrap();
    run_until(&mut runner, |g| g.contains(&Got::Exited("fail".into(), Some(3))));
    assert_eq!(runner.exit_status("fail").unwrap().code(), Some(3));
    assert!(!runner.is_running("fail"));
    assert_eq!(runner.terminate("fail").unwrap().code(), Some(3));
}

#[test]
fn child_ignoring_sigterm_is_killed_after_the_grace_period() {
    let app = App::new("sh -c 'trap \"\" TERM; echo ready; while :; do sleep 1; done'")
        .termination_grace(Duration::from_millis(200));
    let mut runner = runner_with("stubborn", app);
    runner.start("stubborn").unwrap();
    assert_eq!(read_some(runner.get_channel("stubborn").unwrap()).unwrap(), b"ready\n");
    let status = runner.terminate("stubborn").unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "SIGKILL after the grace period");
}

#[test]
fn get_channel_of_unknown_alias_is_none_and_terminate_is_an_error() {
    let mut runner = Runner::new().unwrap();
    assert!(runner.get_channel("ghost").is_none());
    assert!(matches!(runner.terminate("ghost"), Err(Error::NoSuchProcess(a)) if a == "ghost"));
}

#[test]
fn extra_paths_find_commands() {
    let dir = TempDir::new("extra-path");
    let script = dir.path().join("procloop-hello");
    write_executable(&script, "#!/bin/sh\nprintf 'hi from %s' \"$0\"\n");
    let mut runner = Runner::with_extra_paths([dir.path()]).unwrap();
    runner.add("hello", App::new("procloop-hello"));
    runner.start("hello").unwrap();
    let out = read_to_end(runner.get_channel("hello").unwrap());
    assert!(out.starts_with(b"hi from "), "{}", String::from_utf8_lossy(&out));
}

#[test]
fn env_reaches_the_child() {
    let mut runner =
        runner_with("env", App::new("sh -c 'printf %s \"$PROCLOOP_TEST\"'").env("PROCLOOP_TEST", "x y"));
    runner.start("env").unwrap();
    assert_eq!(read_to_end(runner.get_channel("env").unwrap()), b"x y");
}

#[test]
fn close_write_gives_the_child_eof() {
    for transport in [procloop::Transport::Pipes, procloop::Transport::SocketPair] {
        let mut runner = runner_with("wc", App::new("wc -l").transport(transport));
        runner.start("wc").unwrap();
        let channel = runner.get_channel("wc").unwrap();
        channel.write(b"a\nb\nc\n").unwrap();
        channel.close_write();
        let out = read_to_end(channel);
        assert_eq!(String::from_utf8(out).unwrap().trim(), "3", "{transport:?}");
    }
}

#[test]
fn socketpair_transport_echoes() {
    let app = App::new("cat").transport(procloop::Transport::SocketPair);
    let mut runner = runner_with("cat", app);
    runner.start("cat").unwrap();
    runner.get_channel("cat").unwrap().write(b"through a socket pair").unwrap();
    let got = run_until(&mut runner, |g| output_of(g, "cat").len() == 21);
    assert_eq!(output_of(&got, "cat"), b"through a socket pair");
}

#[test]
fn write_to_exited_child_is_endpoint_closed() {
    let mut runner = runner_with("true", App::new("true"));
    runner.start("true").unwrap();
    run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    let channel = runner.get_channel("true").unwrap();
    assert!(matches!(channel.write(b"anyone?"), Err(Error::EndpointClosed)));
}

#[test]
fn timers_fire_through_the_runner() {
    let mut runner = Runner::new().unwrap();
    let id = runner.set_timer(Duration::from_millis(10));
    let cancelled = runner.set_timer(Duration::from_millis(5));
    assert!(runner.cancel_timer(cancelled));
    let got = run_until(&mut runner, |g| !g.is_empty());
    assert_eq!(got, [Got::Timer(id)]);
}

#[test]
fn env_passes_bytes_that_are_not_utf8() {
    use std::os::unix::ffi::OsStringExt;
    let value = std::ffi::OsString::from_vec(vec![b'a', 0xff, 0xfe, b'z']);
    let app = App::new("sh -c 'printf %s \"$PROCLOOP_BYTES\"'").env("PROCLOOP_BYTES", value);
    let mut runner = runner_with("env", app);
    runner.start("env").unwrap();
    assert_eq!(read_to_end(runner.get_channel("env").unwrap()), [b'a', 0xff, 0xfe, b'z']);
}
