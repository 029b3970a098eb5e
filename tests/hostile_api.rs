//! A hostile pass on the public API: each call made in the states and
//! orders a user may reach and the author may not have had in mind.

mod util;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use procloop::testing::{TestChannel, open_fds};
use procloop::{
    App, Channel, Error, Event, Outcome, Process, Reactor, ReactorEvent, Restart, Runner, Signal, Spawn,
    Start, TimerId, Turn,
};
use util::*;

/// Taken by the tests that count children or fds: those are process-wide.
static COUNTED: Mutex<()> = Mutex::new(());

fn counted() -> MutexGuard<'static, ()> {
    init();
    COUNTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks that `result` is `NoSuchProcess` naming `alias`.
fn no_such<T: std::fmt::Debug>(alias: &str, what: &str, result: procloop::Result<T>) {
    match result {
        Err(Error::NoSuchProcess(named)) if named == alias => {}
        other => panic!("{what} of {alias:?}: {other:?}"),
    }
}

/// An event as text, for assertions after the handler returned.
fn text(event: Event<'_>) -> String {
    match event {
        Event::Data { alias, data } => format!("data {alias} {}", String::from_utf8_lossy(data)),
        Event::Reply { alias, data, .. } => format!("reply {alias} {}", String::from_utf8_lossy(data)),
        Event::Exited { alias, status } => format!("exited {alias} {:?}", status.signal()),
        Event::TurnEnded { report, .. } => {
            let outcomes: Vec<String> = report.iter().map(|(bot, o)| format!("{bot}={}", kind(o))).collect();
            format!("turn ended {}", outcomes.join(" "))
        }
        other => format!("{other:?}").to_lowercase(),
    }
}

/// An outcome without its times.
fn kind(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Replied { .. } => "replied",
        Outcome::TimedOut => "timed out",
        Outcome::Exited => "exited",
        _ => "other",
    }
}

/// Polls until `done(events so far, as text)`; fails at the deadline.
fn events_until(runner: &mut Runner, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(std::time::Instant::now() < deadline, "deadline passed; events so far: {seen:?}");
        runner.poll_once(Some(Duration::from_millis(200)), |_, e| seen.push(text(e))).unwrap();
    }
    seen
}

/// Every call that takes an alias, on one that is not taken.
fn assert_not_taken(runner: &mut Runner, alias: &str) {
    no_such(alias, "stop", runner.stop(alias));
    no_such(alias, "signal", runner.signal(alias, Signal::SIGTERM));
    no_such(alias, "wait", runner.wait(alias, Duration::ZERO));
    no_such(alias, "wait MAX", runner.wait(alias, Duration::MAX));
    no_such(alias, "terminate", runner.terminate(alias));
    no_such(alias, "terminate_within", runner.terminate_within(alias, Duration::ZERO));
    no_such(alias, "cpu_time", runner.cpu_time(alias));
    no_such(alias, "resize", runner.resize(alias, 0, 0));
    no_such(alias, "overage_left", runner.overage_left(alias));
    no_such(alias, "set_overage", runner.set_overage(alias, Duration::MAX));
    no_such(alias, "wait_ready", runner.wait_ready(alias, Duration::MAX));
    no_such(alias, "freeze", runner.freeze(alias));
    no_such(alias, "thaw", runner.thaw(alias));
    no_such(alias, "tree_usage", runner.tree_usage(alias));
    no_such(alias, "begin_turn", runner.begin_turn(Turn::new(Duration::from_secs(1)).bot(alias, "x\n")));
    assert_eq!(runner.pid(alias), None);
    assert_eq!(runner.exit_status(alias), None);
    assert_eq!(runner.usage(alias), None);
    assert!(runner.get_channel(alias).is_none());
    assert!(runner.get_stderr(alias).is_none());
    assert!(!runner.is_running(alias));
    assert!(!runner.pause(alias));
    assert!(!runner.resume(alias));
    assert!(runner.aliases().all(|a| a != alias));
}

#[test]
fn every_call_on_an_unknown_an_added_or_a_terminated_alias_is_refused_by_name() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    assert_not_taken(&mut runner, "ghost");
    assert!(matches!(runner.start("ghost"), Err(Error::UnknownApp(n)) if n == "ghost"));
    assert!(matches!(runner.ensure_running("ghost"), Err(Error::UnknownApp(n)) if n == "ghost"));
    runner.add("cat", App::new("cat"));
    assert_not_taken(&mut runner, "cat");
    runner.start("cat").unwrap();
    runner.terminate("cat").unwrap();
    assert_not_taken(&mut runner, "cat");
    assert!(runner.is_idle(), "nothing is left to give an event");
}

/// An app that ignores SIGTERM: a stop leaves it in its grace.
fn deaf(grace: Duration) -> App {
    App::new("sh -c \"trap '' TERM; echo up; exec sleep 1000\"").termination_grace(grace)
}

fn start_and_see_line(runner: &mut Runner, alias: &str) {
    runner.start(alias).unwrap();
    run_until(runner, |got| !output_of(got, alias).is_empty());
}

#[test]
fn every_call_on_an_alias_in_its_grace() {
    let _lock = counted();
    let mut runner = runner_with("deaf", deaf(Duration::from_secs(600)).restart(Restart::Always));
    start_and_see_line(&mut runner, "deaf");
    let pid = runner.pid("deaf").unwrap();
    runner.stop("deaf").unwrap();
    runner.stop("deaf").unwrap();
    assert!(runner.is_running("deaf"));
    assert!(matches!(runner.start("deaf"), Err(Error::ProcessExists(a)) if a == "deaf"));
    assert_eq!(runner.ensure_running("deaf").unwrap(), pid);
    assert_eq!(runner.wait("deaf", Duration::from_millis(1)).unwrap(), None);
    assert_eq!(runner.terminate_within("deaf", Duration::ZERO).unwrap(), None);
    assert!(runner.cpu_time("deaf").is_ok());
    runner.begin_turn(Turn::new(Duration::from_secs(600)).bot("deaf", "move\n")).unwrap();
    runner.signal("deaf", Signal::SIGKILL).unwrap();
    let seen = events_until(&mut runner, |seen| seen.iter().any(|s| s.starts_with("turn ended")));
    assert!(seen.contains(&"exited deaf Some(9)".to_string()), "{seen:?}");
    assert!(seen.contains(&"turn ended deaf=exited".to_string()), "{seen:?}");
    assert!(!seen.iter().any(|s| s.starts_with("restarted")), "a stopped alias is not restarted: {seen:?}");
    assert_eq!(runner.exit_status("deaf").unwrap().signal(), Some(9));
    assert!(runner.is_idle(), "no SIGKILL timer or restart left");
    assert_eq!(runner.terminate("deaf").unwrap().signal(), Some(9));
    assert!(!child_pids().contains(&pid));
}

#[test]
fn dropping_a_runner_in_a_stops_grace_ends_and_reaps_the_child() {
    let _lock = counted();
    let mut runner = runner_with("deaf", deaf(Duration::from_secs(1)));
    start_and_see_line(&mut runner, "deaf");
    let pid = runner.pid("deaf").unwrap();
    runner.stop("deaf").unwrap();
    drop(runner);
    assert!(!child_pids().contains(&pid), "pid {pid} is left");
}

#[test]
fn every_call_on_an_alias_whose_restart_is_pending() {
    let _lock = counted();
    let app = App::new("sh -c 'echo up; exit 3'")
        .restart(Restart::Always)
        .backoff(Duration::from_secs(600), Duration::from_secs(600));
    let mut runner = runner_with("crash", app);
    runner.start("crash").unwrap();
    run_until(&mut runner, |got| got.contains(&Got::Exited("crash".into(), Some(3))));
    assert!(!runner.is_running("crash"));
    assert!(!runner.is_idle(), "a restart is pending");
    assert!(matches!(runner.start("crash"), Err(Error::ProcessExists(_))));
    assert_eq!(runner.wait("crash", Duration::MAX).unwrap().and_then(|s| s.code()), Some(3));
    runner.signal("crash", Signal::SIGKILL).unwrap();
    assert!(runner.cpu_time("crash").is_ok());
    assert!(runner.usage("crash").is_some());
    runner.stop("crash").unwrap();
    assert!(runner.is_idle(), "a stop cancels the pending restart");
    assert_eq!(runner.terminate("crash").unwrap().code(), Some(3));
}

#[test]
fn a_stale_token_finds_nothing_once_its_slot_is_reused() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let (channel, _peer) = TestChannel::pair();
    let old = reactor.register(channel).unwrap();
    drop(reactor.unregister(old).unwrap());
    let (channel, mut peer) = TestChannel::pair();
    let new = reactor.register(channel).unwrap();
    assert_ne!(old, new);
    assert!(reactor.channel(old).is_none());
    assert!(!reactor.pause(old));
    assert!(!reactor.resume(old));
    assert!(reactor.remove_server(old).is_none());
    assert!(reactor.process(old).is_none());
    assert!(reactor.remove_process(old).is_none());
    assert!(!reactor.stop_process(old, Duration::ZERO).unwrap());
    assert!(reactor.unregister(old).is_none());
    peer.put(b"still here");
    let seen = poll_until(&mut reactor, |seen| data_of(seen, new) == b"still here");
    assert!(seen.iter().all(|s| !matches!(s, Seen::Data(t, _) | Seen::Closed(t) if *t == old)));
}

#[test]
fn a_channel_unregistered_in_its_own_event_keeps_its_other_lines() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut peer) = TestChannel::pair();
    let token = reactor.register(channel.line_buffered()).unwrap();
    peer.put(b"one\ntwo\nthree\n");
    let mut taken = None;
    let mut events = Vec::new();
    while taken.is_none() {
        reactor
            .poll_once(Some(Duration::from_secs(1)), |reactor, event| {
                events.push(own(event));
                taken = reactor.unregister(token);
                assert!(reactor.unregister(token).is_none());
            })
            .unwrap();
    }
    assert_eq!(events, [Seen::Data(token, b"one\n".to_vec())], "nothing after the unregister");
    let mut channel = taken.unwrap();
    assert_eq!(read_some(&mut channel).unwrap(), b"two\n");
    assert_eq!(read_some(&mut channel).unwrap(), b"three\n");
    assert!(reactor.is_empty());
}

#[test]
fn timers_of_zero_of_duration_max_and_by_the_thousand() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let never = reactor.set_timer(Duration::MAX);
    let far = reactor.next_deadline().unwrap();
    assert!(far > Instant::now() + Duration::from_secs(3600 * 24 * 365));
    let many: Vec<TimerId> = (0..5000).map(|_| reactor.set_timer(Duration::ZERO)).collect();
    let cancelled: Vec<TimerId> = many.iter().step_by(2).copied().collect();
    for id in &cancelled {
        assert!(reactor.cancel_timer(*id));
        assert!(!reactor.cancel_timer(*id), "cancelled twice");
    }
    let mut fired = Vec::new();
    while fired.len() < 2500 {
        let handed = reactor
            .poll_once(Some(Duration::MAX), |_, e| match e {
                ReactorEvent::Timer { id } => fired.push(id),
                other => panic!("{other:?}"),
            })
            .unwrap();
        assert!(handed > 0, "a poll with due timers waits for nothing else");
    }
    let expected: Vec<TimerId> = many.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(fired, expected, "in order, the cancelled ones left out");
    assert!(!reactor.cancel_timer(fired[0]), "fired already");
    assert_eq!(reactor.poll_once(Some(Duration::ZERO), |_, e| panic!("{e:?}")).unwrap(), 0);
    assert!(reactor.cancel_timer(never));
    assert!(reactor.is_idle());
    assert_eq!(reactor.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0, "nothing left to wait for");
}

#[test]
fn a_waker_outliving_its_reactor_wakes_nothing_and_does_not_panic() {
    let _lock = counted();
    let reactor = Reactor::new().unwrap();
    let waker = reactor.waker().unwrap();
    drop(reactor);
    let woke = std::thread::spawn(move || (0..3).map(|_| waker.wake().is_ok()).collect::<Vec<_>>());
    assert_eq!(woke.join().unwrap().len(), 3);
}

#[test]
fn the_same_fd_registered_twice_is_refused_and_the_first_keeps_working() {
    let _lock = counted();
    use std::os::fd::AsRawFd;
    let fds = open_fds();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut reactor = Reactor::new().unwrap();
    let first = reactor.register(Channel::from_borrowed_socket(ours.as_raw_fd()).unwrap()).unwrap();
    let again = reactor.register(Channel::from_borrowed_socket(ours.as_raw_fd()).unwrap());
    assert!(matches!(again, Err(Error::Io(_))), "{again:?}");
    assert_eq!(reactor.len(), 1, "nothing half-registered");
    (&theirs).write_all(b"first").unwrap();
    poll_until(&mut reactor, |seen| data_of(seen, first) == b"first");
    drop(reactor);
    drop((ours, theirs));
    assert_eq!(open_fds(), fds);
}

#[test]
fn dropping_a_reactor_ends_and_reaps_the_children_it_spawned() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let spawned = reactor.spawn(Spawn::new("sleep 1000")).unwrap();
    let pid = reactor.process(spawned.process).unwrap().pid();
    drop(reactor);
    assert!(!child_pids().contains(&pid), "pid {pid} is left running or unreaped");
}

#[test]
fn dropping_a_running_process_ends_and_reaps_it() {
    let _lock = counted();
    let child = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
    let process = Process::new(child).unwrap();
    let pid = process.pid();
    drop(process);
    assert!(!child_pids().contains(&pid), "pid {pid} is left running or unreaped");
}

#[test]
fn a_process_waited_for_ever_signalled_after_its_end_and_reaped() {
    let _lock = counted();
    let child = std::process::Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap();
    let mut process = Process::new(child).unwrap().group_leader(false);
    assert_eq!(process.wait_timeout(Duration::MAX).unwrap().and_then(|s| s.code()), Some(4));
    process.signal(Signal::SIGKILL).unwrap();
    process.signal_group(Signal::SIGKILL).unwrap();
    assert_eq!(process.wait_timeout(Duration::MAX).unwrap().and_then(|s| s.code()), Some(4));
    assert!(process.stop(Duration::MAX).is_ok());
    assert!(process.usage().is_some());
}

#[test]
fn channel_calls_after_close_and_of_nothing() {
    let _lock = counted();
    let (mut channel, mut peer) = TestChannel::pair();
    channel.write(b"").unwrap();
    channel.write_chunks(&[]).unwrap();
    channel.write_chunks(&[b"", b"a", b""]).unwrap();
    assert_eq!(peer.get(), b"a");
    assert_eq!(channel.read().unwrap(), b"");
    assert_eq!(channel.read_available().unwrap(), b"");
    channel.close_write();
    channel.close_write();
    assert!(matches!(channel.write(b""), Err(Error::EndpointClosed)));
    peer.put(b"late");
    channel.close();
    channel.close();
    assert_eq!(channel.read().unwrap(), b"late", "what had arrived is kept");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    assert!(matches!(channel.read_available(), Err(Error::EndpointClosed)));
    assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)));
    assert!(matches!(channel.write(b""), Err(Error::EndpointClosed)));
    assert!(channel.flush().is_ok());
    assert_eq!(channel.queued(), 0);
    assert!(channel.read_fd().is_none() && channel.write_fd().is_none());
}

/// Events of `alias` until its exit with code 0, with `handler` run on each.
fn events_of_two_runs(alias: &str) -> Vec<String> {
    let mut runner = Runner::new().unwrap();
    runner
        .add("crash", App::new("sh -c 'exit 3'").restart(Restart::OnFailure).max_restarts(0, Duration::MAX));
    runner.add("fine", App::new("sh -c 'echo new'"));
    runner.start_with("crash", Start::new().alias(alias)).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while !seen.iter().any(|s: &String| s.starts_with("exited") && s.ends_with("Some(0)")) {
        assert!(Instant::now() < deadline, "{seen:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |r, e| {
                if let Event::Exited { status, .. } = &e
                    && status.code() == Some(3)
                {
                    r.terminate(alias).unwrap();
                    r.start_with("fine", Start::new().alias(alias)).unwrap();
                }
                seen.push(match e {
                    Event::Exited { status, .. } => format!("exited {:?}", status.code()),
                    other => text(other),
                });
            })
            .unwrap();
    }
    seen
}

#[test]
fn an_empty_alias_gets_no_event_of_its_replaced_run() {
    let _lock = counted();
    for alias in ["crash", ""] {
        let seen = events_of_two_runs(alias);
        assert!(seen.contains(&"exited Some(3)".to_string()), "{alias:?}: {seen:?}");
        assert!(
            !seen.iter().any(|s| s.starts_with("gaveup")),
            "{alias:?}: the old run's GaveUp came: {seen:?}"
        );
    }
}

#[test]
fn an_argument_list_past_arg_max_is_a_start_error_naming_the_command() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    runner.add("echo", App::new("echo"));
    let (fds, children) = (open_fds(), child_pids());
    let many = Start::new().args(std::iter::repeat_n("xx", 400_000));
    let err = runner.start_with("echo", many).unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("echo") && message.contains("Argument list too long"), "{:.300}", message);
    assert!(message.len() < 4096, "the message is {} bytes long", message.len());
    let long = Start::new().args(["x".repeat(200_000)]);
    let err = runner.start_with("echo", long).unwrap_err();
    assert!(err.to_string().len() < 4096 && matches!(err, Error::Spawn { .. }), "{:.300}", err.to_string());
    assert_eq!((open_fds(), child_pids()), (fds, children));
    assert_eq!(runner.aliases().count(), 0);
}

/// Polls once with a handler that may panic; true if it did (caught).
fn poll_catching(runner: &mut Runner, handler: impl FnMut(&mut Runner, Event<'_>)) -> bool {
    let poll = || runner.poll_once(Some(Duration::from_millis(200)), handler).unwrap();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(poll)).is_err()
}

#[test]
fn a_panic_on_a_timer_loses_none_of_the_timers_due_with_it() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    let ids: Vec<TimerId> = (0..3).map(|_| runner.set_timer(Duration::ZERO)).collect();
    let mut fired = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while fired.len() < 3 {
        assert!(Instant::now() < deadline, "{fired:?}");
        poll_catching(&mut runner, |_, event| {
            if let Event::Timer { id } = event {
                fired.push(id);
                panic!("a hostile handler");
            }
        });
    }
    assert_eq!(fired, ids);
    assert!(runner.is_idle());
}

fn echo_bot() -> Runner {
    runner_with("bot", App::new("cat").buffering(procloop::Buffering::Line))
}

#[test]
fn a_panic_on_a_reply_or_on_turn_ended_leaves_the_bot_free_for_the_next_turn() {
    let _lock = counted();
    let mut runner = echo_bot();
    runner.start("bot").unwrap();
    for panic_on in ["reply", "turn ended"] {
        let turn = runner.begin_turn(Turn::new(Duration::from_secs(60)).bot("bot", "move\n")).unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while !seen.iter().any(|s: &String| s.starts_with("turn ended")) {
            assert!(Instant::now() < deadline, "{seen:?}");
            poll_catching(&mut runner, |_, event| {
                let (is_turn, text) = match &event {
                    Event::TurnEnded { turn: t, .. } => (*t == turn, text(event)),
                    _ => (true, text(event)),
                };
                assert!(is_turn);
                let panics = text.starts_with(panic_on);
                seen.push(text);
                assert!(!panics, "a hostile handler");
            });
        }
        assert_eq!(seen, ["reply bot move\n", "turn ended bot=replied"].map(|s| s.to_string()));
    }
}

#[test]
fn a_nested_poll_that_replaces_the_alias_being_handled_mixes_no_run_into_the_other() {
    let _lock = counted();
    let mut runner = runner_with("seq", App::new("seq 200").buffering(procloop::Buffering::Line));
    runner.add("new", App::new("echo new").buffering(procloop::Buffering::Line));
    runner.start("seq").unwrap();
    let mut old = Vec::new();
    let mut new = Vec::new();
    let mut replaced = false;
    let deadline = Instant::now() + DEADLINE;
    while new.last().map(String::as_str) != Some("exited") {
        assert!(Instant::now() < deadline, "{old:?} {new:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| {
                let line = text(event);
                let target = if replaced { &mut new } else { &mut old };
                target.push(line.trim_start_matches("data seq ").trim().to_string());
                if replaced || line != "data seq 10\n" {
                    return;
                }
                runner
                    .poll_once(Some(Duration::ZERO), |runner, event| {
                        old.push(text(event).trim_start_matches("data seq ").trim().to_string());
                        if !replaced {
                            runner.terminate("seq").unwrap();
                            runner.start_with("new", Start::new().alias("seq")).unwrap();
                            replaced = true;
                        }
                    })
                    .unwrap();
            })
            .unwrap();
        new.retain(|s| !s.starts_with("closed"));
        if new.last().is_some_and(|s| s.starts_with("exited")) {
            new.last_mut().unwrap().truncate(6);
        }
    }
    let expected: Vec<String> = (1..=11).map(|n| n.to_string()).collect();
    assert_eq!(old, expected, "the old run's lines stop at its terminate");
    assert_eq!(new, ["new", "exited"]);
}

#[test]
fn dropping_a_runner_mid_turn_with_a_frozen_bot_ends_and_reaps_both() {
    let _lock = counted();
    let mut runner = echo_bot();
    runner.add("mute", App::new("sleep 1000"));
    runner.start("bot").unwrap();
    runner.start("mute").unwrap();
    let pids = [runner.pid("bot").unwrap(), runner.pid("mute").unwrap()];
    let turn =
        Turn::new(Duration::from_secs(600)).bot("bot", "move\n").bot("mute", "move\n").freeze_between(true);
    runner.begin_turn(turn).unwrap();
    events_until(&mut runner, |seen| seen.iter().any(|s| s.starts_with("reply")));
    wait_for("the bot frozen", || pid_state(pids[0]) == Some('T'));
    drop(runner);
    for pid in pids {
        assert!(!child_pids().contains(&pid), "pid {pid} is left");
    }
}

/// Starts `app`, which must fail with an error for which `expected` holds
/// and whose message names `culprit`, leaving no child, fd or alias.
fn start_fails(app: App, culprit: &str, expected: impl FnOnce(&Error) -> bool) {
    let mut runner = Runner::new().unwrap();
    runner.add("app", app);
    let (fds, children) = (open_fds(), child_pids());
    let err = runner.start("app").unwrap_err();
    assert!(expected(&err), "wrong error: {err:?}");
    assert!(err.to_string().contains(culprit), "{err} does not name {culprit:?}");
    assert_eq!((open_fds(), child_pids()), (fds, children), "left behind by: {err}");
    assert_eq!(runner.aliases().count(), 0);
}

#[test]
fn settings_at_their_edges_are_start_errors_naming_them() {
    let _lock = counted();
    let setting = |e: &Error| matches!(e, Error::InvalidSetting { .. });
    let spawn = |e: &Error| matches!(e, Error::Spawn { .. });
    start_fails(App::new("true").user(u32::MAX, u32::MAX), "true", spawn);
    start_fails(App::new("true").cpu_affinity(&[usize::MAX]), "cpu_affinity", setting);
    start_fails(
        App::new("true").cpu_affinity(&[1000]),
        "cpu_affinity [1000] (only CPUs that are online",
        spawn,
    );
    start_fails(App::new("true").nice(i32::MIN), "nice", setting);
    start_fails(App::new("true").nice(i32::MAX), "nice", setting);
    start_fails(App::new("tr\0ue"), "NUL", setting);
    start_fails(App::new("true").env("K\0", "v"), "NUL", setting);
    let too_high = |e: &Error| matches!(e, Error::LimitTooHigh { .. });
    start_fails(App::new("true").limit(procloop::Limit::OpenFiles(u64::MAX)), "open", too_high);
}

#[test]
fn odd_aliases_are_aliases_like_any_other() {
    let _lock = counted();
    let mut runner = runner_with("echo", App::new("echo hi"));
    let odd = ["", " ", "a/b", "../..", "\n", "ünï\u{0}cødé", &"x".repeat(100_000)].map(String::from);
    for alias in &odd {
        runner.start_with("echo", Start::new().alias(alias.as_str())).unwrap();
    }
    let got = run_until(&mut runner, |got| {
        got.iter().filter(|g| matches!(g, Got::Exited(..))).count() == odd.len()
    });
    for alias in &odd {
        assert_eq!(output_of(&got, alias), b"hi\n", "{alias:?}");
        assert_eq!(runner.terminate(alias).unwrap().code(), Some(0));
    }
}

#[test]
fn an_extra_path_with_a_colon_or_a_nul_is_refused_by_name() {
    let _lock = counted();
    for path in ["/opt/a:b", "/opt/a\0b"] {
        let err = Runner::with_extra_paths(["/usr/games", path]).unwrap_err();
        assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("{path:?}")), "{err}");
    }
}

#[test]
fn resize_names_an_alias_without_a_terminal_and_takes_a_zero_size() {
    let _lock = counted();
    let mut runner = runner_with("sh", App::new("cat").pty(true));
    runner.add("cat", App::new("cat"));
    runner.start("sh").unwrap();
    runner.start("cat").unwrap();
    runner.resize("sh", 0, 0).unwrap();
    runner.resize("sh", u16::MAX, u16::MAX).unwrap();
    let err = runner.resize("cat", 24, 80).unwrap_err();
    assert!(err.to_string().contains("\"cat\""), "{err}");
}

#[test]
fn a_zero_cap_hands_one_event_a_poll() {
    let _lock = counted();
    let mut runner = Runner::new().unwrap();
    for _ in 0..3 {
        runner.set_timer(Duration::ZERO);
    }
    let mut handed = Vec::new();
    while handed.iter().sum::<usize>() < 3 {
        handed.push(runner.poll_once_max(Some(DEADLINE), 0, |_, _| {}).unwrap());
    }
    assert_eq!(handed, [1, 1, 1]);
}

#[test]
fn reactor_spawns_with_bad_settings_are_named_and_register_nothing() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let (fds, children) = (open_fds(), child_pids());
    let cases = [
        (Spawn::new(""), "empty command"),
        (Spawn::new("true").arg("a\0b"), "NUL"),
        (Spawn::new("true").env("A=B", "c"), "A=B"),
        (Spawn::new("true").env("", "c"), "empty"),
        (Spawn::new("true").cwd("/no/such/folder"), "/no/such/folder"),
        (Spawn::new("true").limit(procloop::Limit::CpuTime(Duration::ZERO)), "cpu"),
    ];
    for (spawn, culprit) in cases {
        let err = reactor.spawn(spawn).unwrap_err();
        assert!(err.to_string().contains(culprit), "{err} does not name {culprit:?}");
    }
    assert!(reactor.is_empty());
    assert_eq!((open_fds(), child_pids()), (fds, children));
}

#[test]
fn a_child_reaped_before_it_was_added_gives_an_unknown_exit_at_once() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let (channel, _peer) = TestChannel::pair();
    let stale = reactor.register(channel).unwrap();
    drop(reactor.unregister(stale));
    let token = reactor.add_process(child, &[stale]).unwrap();
    let seen = poll_until(&mut reactor, |seen| !seen.is_empty());
    assert_eq!(seen, [Seen::Exited(token, -1)]);
    assert!(reactor.is_idle());
}

#[test]
fn the_cpu_time_of_an_exit_not_seen_yet_is_known() {
    let _lock = counted();
    let mut runner = runner_with("true", App::new("true"));
    runner.start("true").unwrap();
    let pid = runner.pid("true").unwrap();
    wait_for("a zombie", || pid_state(pid) == Some('Z'));
    let cpu = runner.cpu_time("true");
    assert!(cpu.is_ok(), "{cpu:?}");
    assert!(!runner.is_running("true"));
    assert!(runner.cpu_time("true").is_ok());
    let seen = events_until(&mut runner, |seen| seen.iter().any(|s| s.starts_with("exited")));
    assert_eq!(seen.last().unwrap(), "exited true None");
    assert!(runner.cpu_time("true").is_ok());
}

#[test]
fn a_write_only_channel_with_nothing_to_write_leaves_the_loop_idle() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    reactor.register(Channel::from_pipe(None, None).unwrap()).unwrap();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let token = reactor.register(Channel::from_pipe(None, Some(writer.into())).unwrap()).unwrap();
    assert!(reactor.is_idle(), "neither can ever give an event");
    assert_eq!(reactor.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0);
    let bytes = random_bytes(300_000, 7);
    reactor.channel(token).unwrap().write(&bytes).unwrap();
    assert!(!reactor.is_idle(), "bytes wait to be written");
    let reading = std::thread::spawn(move || {
        let mut got = vec![0; 300_000];
        std::io::Read::read_exact(&mut reader, &mut got).map(|()| got)
    });
    let deadline = Instant::now() + DEADLINE;
    while !reactor.is_idle() {
        assert!(Instant::now() < deadline, "never flushed");
        reactor.poll_once(Some(Duration::from_millis(100)), |_, e| panic!("{e:?}")).unwrap();
    }
    assert_eq!(reading.join().unwrap().unwrap(), bytes);
    assert_eq!(reactor.poll_once(None, |_, e| panic!("{e:?}")).unwrap(), 0);
}

#[test]
fn pulled_events_of_a_channel_unregistered_mid_way_go_back_to_it() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut peer) = TestChannel::pair();
    let token = reactor.register(channel.line_buffered()).unwrap();
    let (other, mut other_peer) = TestChannel::pair();
    let other = reactor.register(other).unwrap();
    peer.put(b"one\ntwo\nthree\n");
    other_peer.put(b"x");
    let deadline = Instant::now() + DEADLINE;
    let mut first = None;
    while first.is_none() {
        assert!(Instant::now() < deadline);
        reactor.wait_events(Some(Duration::from_millis(100))).unwrap();
        assert!(reactor.wait_events(Some(Duration::ZERO)).unwrap() || first.is_none());
        while let Some(event) = reactor.next_event() {
            match own(event) {
                Seen::Data(t, d) if t == token => {
                    first = Some(d);
                    break;
                }
                Seen::Data(t, d) => assert_eq!((t, d), (other, b"x".to_vec())),
                seen => panic!("{seen:?}"),
            }
        }
    }
    assert_eq!(first.unwrap(), b"one\n");
    let mut channel = reactor.unregister(token).unwrap();
    while let Some(event) = reactor.next_event() {
        assert!(!matches!(own(event), Seen::Data(t, _) | Seen::Closed(t) if t == token));
    }
    assert_eq!(read_some(&mut channel).unwrap(), b"two\n");
    assert_eq!(read_some(&mut channel).unwrap(), b"three\n");
    assert!(reactor.next_event().is_none());
}

#[test]
fn a_panic_in_a_nested_poll_loses_no_line_and_repeats_none() {
    let _lock = counted();
    let mut runner = runner_with("seq", App::new("seq 40").buffering(procloop::Buffering::Line));
    runner.start("seq").unwrap();
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while lines.last().map(String::as_str) != Some("exited") {
        assert!(Instant::now() < deadline, "{lines:?}");
        poll_catching(&mut runner, |runner, event| {
            let line = text(event);
            let nested = line.starts_with("data");
            lines.push(line.trim_start_matches("data seq ").trim().chars().take(6).collect());
            if !nested {
                return;
            }
            runner
                .poll_once(Some(Duration::ZERO), |_, event| {
                    let line = text(event);
                    lines.push(line.trim_start_matches("data seq ").trim().chars().take(6).collect());
                    assert!(!line.ends_with("5\n"), "a hostile nested handler");
                })
                .unwrap();
        });
    }
    lines.retain(|l| l != "closed");
    let expected: Vec<String> = (1..=40).map(|n| n.to_string()).chain(["exited".into()]).collect();
    assert_eq!(lines, expected);
}

#[test]
fn a_pty_app_started_on_a_socket_is_a_socket_start() {
    let _lock = counted();
    let dir = TempDir::new("pty-socket");
    let sock = dir.path().join("s.sock");
    let socat = format!("socat UNIX-LISTEN:{} SYSTEM:cat", sock.display());
    let mut runner = runner_with("both", App::new(&socat).socket(&sock).pty(true));
    runner.add("pty", App::new(&socat).pty(true));
    let starts = [("both", "both", Start::new()), ("pty", "overridden", Start::new().socket(&sock))];
    for (app, alias, start) in starts {
        runner.start_with(app, start.alias(alias)).unwrap();
        let channel = runner.get_channel(alias).unwrap();
        assert!(!channel.is_terminal());
        channel.write(b"ping\n").unwrap();
        run_until(&mut runner, |got| output_of(got, alias) == b"ping\n");
        runner.terminate(alias).unwrap();
    }
}

#[test]
fn terminate_all_inside_a_handler_ends_every_batch_in_flight() {
    let _lock = counted();
    let mut runner = runner_with("a", App::new("seq 1000").buffering(procloop::Buffering::Line));
    runner.add("b", App::new("seq 1000").buffering(procloop::Buffering::Line));
    runner.start("a").unwrap();
    runner.start("b").unwrap();
    let user = runner.set_timer(Duration::from_secs(600));
    let mut after = Vec::new();
    let mut ended = false;
    let deadline = Instant::now() + DEADLINE;
    while !runner.is_idle() || !ended {
        assert!(Instant::now() < deadline, "{after:?}");
        runner
            .poll_once(Some(Duration::from_millis(100)), |runner, event| {
                if ended {
                    after.push(text(event));
                } else if matches!(event, Event::Data { .. }) {
                    runner.terminate_all();
                    ended = true;
                }
            })
            .unwrap();
        if ended && !runner.is_idle() {
            assert!(runner.cancel_timer(user), "the user's timer is theirs to cancel");
        }
    }
    assert!(after.is_empty(), "events after terminate_all: {:?}", &after[..after.len().min(5)]);
    assert_eq!(runner.aliases().count(), 0);
    assert!(child_pids().is_empty());
}

#[test]
fn dropping_a_reactor_does_not_wait_out_a_stops_endless_grace() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let deaf = Spawn::new("sh -c \"trap '' TERM; echo up; exec sleep 1000\"").stderr(procloop::Stderr::Null);
    let spawned = reactor.spawn(deaf).unwrap();
    poll_until(&mut reactor, |seen| data_of(seen, spawned.channel) == b"up\n");
    let pid = reactor.process(spawned.process).unwrap().pid();
    assert!(reactor.stop_process(spawned.process, Duration::MAX).unwrap());
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(reactor);
        done.send(()).unwrap();
    });
    if dropped.recv_timeout(DEADLINE).is_err() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
        panic!("the drop waits for the grace");
    }
    assert!(!child_pids().contains(&pid), "pid {pid} is left");
}

#[test]
fn a_config_key_given_twice_is_an_error_naming_it() {
    let _lock = counted();
    for (config, key) in [
        (r#"{"command": "a", "command": "b"}"#, "\"command\""),
        (r#"{"command": "a", "env": {"A": "1"}, "env": {"B": "2"}}"#, "\"env\""),
        (r#"{"command": "a", "limits": {"memory": 1, "memory": 2}}"#, "\"memory\""),
    ] {
        let err = serde_json::from_str::<App>(config).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("twice") && err.contains(key), "{config}: {err:?} does not name {key}");
    }
    let err = serde_json::from_str::<Start>(r#"{"alias": "a", "alias": "b"}"#).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("\"alias\""), "{err}");
}

#[test]
fn handlers_that_always_make_more_work_still_let_poll_once_return() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    reactor.set_timer(Duration::ZERO);
    let (channel, mut peer) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    peer.put(b"ping");
    let mut handed = 0usize;
    for _ in 0..3 {
        reactor
            .poll_once(Some(DEADLINE), |reactor, event| {
                handed += 1;
                assert!(handed < 100_000, "one poll_once never ends");
                match event {
                    ReactorEvent::Timer { .. } => drop(reactor.set_timer(Duration::ZERO)),
                    ReactorEvent::Data { .. } => reactor.channel(token).unwrap().write(b"pong").unwrap(),
                    other => panic!("{other:?}"),
                }
            })
            .unwrap();
        handed = 0;
        let echoed = peer.get();
        peer.put(&echoed);
    }
}

#[test]
fn a_listening_socket_is_refused_as_a_channel_by_its_fd() {
    use std::os::fd::AsRawFd;
    let _lock = counted();
    let dir = TempDir::new("listening");
    let listener = std::os::unix::net::UnixListener::bind(dir.path().join("l.sock")).unwrap();
    let fd = listener.as_raw_fd();
    match Channel::from_borrowed_socket(fd) {
        Err(Error::Io(e)) => {
            assert!(e.to_string().contains(&format!("fd {fd} is a listening socket")), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let (connected, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    assert!(Channel::from_borrowed_socket(connected.as_raw_fd()).is_ok());
}

#[test]
fn a_process_whose_outputs_are_no_channels_still_exits() {
    let _lock = counted();
    let mut reactor = Reactor::new().unwrap();
    let server = reactor.add_server(std::net::TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let (channel, _peer) = TestChannel::pair();
    let unrelated = reactor.register(channel).unwrap();
    let first = reactor.add_process(std::process::Command::new("true").spawn().unwrap(), &[]).unwrap();
    let outputs = [server, unrelated, first, server];
    let second = reactor.add_process(std::process::Command::new("true").spawn().unwrap(), &outputs).unwrap();
    let seen =
        poll_until(&mut reactor, |seen| seen.iter().filter(|s| matches!(s, Seen::Exited(..))).count() == 2);
    assert!(seen.contains(&Seen::Exited(first, 0)) && seen.contains(&Seen::Exited(second, 0)), "{seen:?}");
}

#[test]
fn a_timer_id_of_another_loop_cancels_nothing_here() {
    let _lock = counted();
    let mut theirs = Reactor::new().unwrap();
    let mut runner = runner_with(
        "crash",
        App::new("sh -c 'exit 3'").restart(Restart::OnFailure).max_restarts(1, Duration::MAX),
    );
    let ours = runner.set_timer(Duration::ZERO);
    let foreign: Vec<TimerId> = (0..64).map(|_| theirs.set_timer(Duration::ZERO)).collect();
    runner.start("crash").unwrap();
    run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Exited(..))));
    for id in &foreign {
        assert!(!runner.cancel_timer(*id), "{id:?} is the other loop's");
    }
    let got = run_until(&mut runner, |got| got.iter().any(|g| matches!(g, Got::Restarted(..))));
    assert!(got.contains(&Got::Timer(ours)) || !runner.cancel_timer(ours), "{got:?}");
    runner.terminate("crash").unwrap();
}

#[test]
fn a_token_of_another_reactor_finds_nothing_here() {
    let _lock = counted();
    let (mut a, mut b) = (Reactor::new().unwrap(), Reactor::new().unwrap());
    let (channel, _a_peer) = TestChannel::pair();
    let theirs = a.register(channel).unwrap();
    let (channel, _b_peer) = TestChannel::pair();
    let ours = b.register(channel).unwrap();
    assert_ne!(theirs, ours);
    assert!(b.channel(theirs).is_none());
    assert!(b.unregister(theirs).is_none());
    assert!(b.channel(ours).is_some());
}

#[test]
fn a_bot_with_an_empty_alias_plays_its_turns() {
    let _lock = counted();
    let mut runner = echo_bot();
    runner.start_with("bot", Start::new().alias("")).unwrap();
    for _ in 0..2 {
        runner.begin_turn(Turn::new(Duration::from_secs(60)).bot("", "move\n")).unwrap();
        let seen = events_until(&mut runner, |seen| seen.iter().any(|s| s.starts_with("turn ended")));
        assert_eq!(seen, ["reply  move\n", "turn ended =replied"]);
    }
}

#[test]
fn switching_buffering_in_a_handler_mid_batch_loses_and_repeats_nothing() {
    use procloop::Buffering::{Bytes, Line, WholeLines};
    let _lock = counted();
    let input: Vec<u8> = (0..200).flat_map(|n| format!("line {n}\n").into_bytes()).collect();
    for from in [Bytes, Line, WholeLines] {
        for to in [Bytes, Line, WholeLines] {
            let mut reactor = Reactor::new().unwrap();
            let (mut channel, mut peer) = TestChannel::pair();
            channel.set_buffering(from);
            let token = reactor.register(channel).unwrap();
            peer.put(&input);
            peer.close();
            let mut got = Vec::new();
            let mut switched = false;
            let deadline = Instant::now() + DEADLINE;
            let mut closed = false;
            while !closed {
                assert!(Instant::now() < deadline, "{from:?} to {to:?}: {} bytes", got.len());
                reactor
                    .poll_once(Some(Duration::from_millis(100)), |reactor, event| match event {
                        ReactorEvent::Data { data, .. } => {
                            got.extend_from_slice(data);
                            if !switched {
                                reactor.channel(token).unwrap().set_buffering(to);
                                switched = true;
                            }
                        }
                        ReactorEvent::Closed { .. } => closed = true,
                        other => panic!("{other:?}"),
                    })
                    .unwrap();
            }
            assert!(got == input, "{from:?} to {to:?}: {} bytes of {}", got.len(), input.len());
        }
    }
}

#[test]
fn an_empty_program_name_or_working_directory_is_named() {
    let _lock = counted();
    let setting = |e: &Error| matches!(e, Error::InvalidSetting { .. });
    start_fails(App::new("''"), "program \"\"", setting);
    start_fails(App::new("\"\" arg"), "program \"\"", setting);
    start_fails(App::new("echo").cwd(""), "working directory \"\": it is empty", setting);
    let mut reactor = Reactor::new().unwrap();
    let err = reactor.spawn(Spawn::new("''")).unwrap_err();
    assert!(setting(&err) && err.to_string().contains("program \"\""), "{err}");
    let err = reactor.spawn(Spawn::new("echo").cwd("")).unwrap_err();
    assert!(setting(&err) && err.to_string().contains("working directory \"\""), "{err}");
}

#[test]
fn one_borrowed_fd_as_both_ends_of_a_pipe_channel_is_flushed_by_the_loop() {
    use std::os::fd::AsRawFd;
    let _lock = counted();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = ours.as_raw_fd();
    let mut reactor = Reactor::new().unwrap();
    let token = reactor.register(Channel::from_borrowed_pipe(Some(fd), Some(fd)).unwrap()).unwrap();
    let bytes = random_bytes(2_000_000, 3);
    reactor.channel(token).unwrap().write(&bytes).unwrap();
    assert!(reactor.channel(token).unwrap().queued() > 0, "the socket took it all: no test");
    let reading = std::thread::spawn(move || {
        let mut got = vec![0; 2_000_000];
        (&theirs).read_exact(&mut got).map(|()| got)
    });
    let deadline = Instant::now() + DEADLINE;
    while reactor.channel(token).unwrap().queued() > 0 {
        assert!(Instant::now() < deadline, "never flushed");
        // The reader's end closes once it has read all.
        let closed = |e: ReactorEvent<'_>| assert!(matches!(e, ReactorEvent::Closed { .. }), "{e:?}");
        reactor.poll_once(Some(Duration::from_millis(100)), |_, e| closed(e)).unwrap();
    }
    assert!(reading.join().unwrap().unwrap() == bytes);
    drop(reactor);
    drop(ours);
}

#[test]
fn dropping_a_runner_while_a_start_connects_or_a_restart_waits_leaves_nothing() {
    let _lock = counted();
    let dir = TempDir::new("drop-states");
    let socket =
        App::new("sleep 1000").socket(dir.path().join("never.sock")).socket_wait(Duration::from_secs(600));
    let mut runner = runner_with("socket", socket);
    let crash =
        App::new("sh -c 'exit 3'").restart(Restart::Always).backoff(Duration::from_secs(600), Duration::MAX);
    runner.add("crash", crash);
    let fds = open_fds();
    let connecting = runner.start_with("socket", Start::new().nowait()).unwrap();
    runner.start("crash").unwrap();
    run_until(&mut runner, |got| got.contains(&Got::Exited("crash".into(), Some(3))));
    assert!(!runner.is_idle());
    drop(runner);
    assert!(!child_pids().contains(&connecting), "the connecting start is left");
    assert!(child_pids().is_empty(), "{:?}", child_pids());
    assert!(open_fds() < fds, "the Runner's own fds are gone too");
}
