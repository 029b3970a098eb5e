//! Promises on the paths a hostile tester walked: idle means idle once
//! every child is spent, a closed channel leaves the loop whichever handle
//! closed it, `close()` hands over what had arrived, and a prompt without
//! a newline can be read in line mode.

mod util;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use procloop::testing::TestChannel;
use procloop::{App, Buffering, Channel, Event, Reactor, Runner, Start};
use util::*;

/// Polls until `alias`'s exit was handed over.
fn until_exited(runner: &mut Runner, alias: &str) -> Vec<Got> {
    run_until(runner, |got| got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == alias)))
}

#[test]
fn idle_means_idle_once_every_exited_child_was_handed_over() {
    let mut runner = runner_with("echo", App::new("echo hi"));
    runner.start_with("echo", Start::new().alias("a")).unwrap();
    runner.start_with("echo", Start::new().alias("b")).unwrap();
    let mut got = until_exited(&mut runner, "a");
    if !got.iter().any(|g| matches!(g, Got::Exited(a, _) if a == "b")) {
        got.extend(until_exited(&mut runner, "b"));
    }
    assert!(runner.aliases().count() == 2, "both aliases stay taken");
    // Nothing can produce an event any more: a wait without a timeout
    // returns at once (a thread bounds the test should it hang).
    let (done, waited) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let idle = runner.is_idle();
        let handed = runner.poll_once(None, |_, e| panic!("an event from a spent runner: {e:?}"));
        done.send((idle, handed.unwrap())).unwrap();
        runner
    });
    let (idle, handed) = waited.recv_timeout(DEADLINE).expect("poll_once(None) returns at once");
    assert!(idle && handed == 0);
    let mut runner = handle.join().unwrap();
    assert_eq!(runner.get_channel("a").unwrap().read().ok(), None, "the spent channel is still readable");
}

#[test]
fn idle_after_stop_all() {
    let mut runner = runner_with("sleep", App::new("sleep 60"));
    for alias in ["x", "y", "z"] {
        runner.start_with("sleep", Start::new().alias(alias)).unwrap();
    }
    assert!(!runner.is_idle());
    runner.stop_all();
    let deadline = Instant::now() + DEADLINE;
    while !runner.is_idle() {
        assert!(Instant::now() < deadline, "never idle after stop_all");
        runner.poll_once(Some(Duration::from_millis(200)), |_, _| {}).unwrap();
    }
}

#[test]
fn not_idle_while_a_timer_or_a_live_channel_can_fire() {
    let mut runner = runner_with("echo", App::new("echo hi"));
    runner.start("echo").unwrap();
    until_exited(&mut runner, "echo");
    let timer = runner.set_timer(Duration::from_millis(20));
    assert!(!runner.is_idle(), "a timer can still fire");
    let mut fired = false;
    while !fired {
        runner.poll_once(None, |_, e| fired |= matches!(e, Event::Timer { id } if id == timer)).unwrap();
    }
    assert!(runner.is_idle());
    let (channel, _peer) = TestChannel::pair();
    runner.reactor().register(channel).unwrap();
    assert!(!runner.is_idle(), "a channel of the user's own can still fire");
}

#[test]
fn a_closed_borrowed_channel_leaves_the_loop() {
    init();
    let (read_end, write_end) = std::io::pipe().unwrap();
    let mut reactor = Reactor::new().unwrap();
    let borrowed = || Channel::from_borrowed_pipe(Some(read_end.as_raw_fd()), None).unwrap();
    let token = reactor.register(borrowed()).unwrap();
    reactor.channel(token).unwrap().close();
    reactor.unregister(token).expect("still registered until unregistered");
    let again = reactor.register(borrowed()).expect("the fd left the poll when its channel closed");
    // Closing through the handle, with no unregister, frees the fd too.
    reactor.channel(again).unwrap().close();
    let third = reactor.register(borrowed()).expect("closing alone takes the fd out of the poll");
    drop(write_end);
    poll_until(&mut reactor, |seen| seen.contains(&Seen::Closed(third)));
}

#[test]
fn close_hands_over_what_had_arrived() {
    init();
    let mut reactor = Reactor::new().unwrap();
    let (channel, mut peer) = TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    peer.put(b"arrived before the close");
    reactor.channel(token).unwrap().close();
    let seen = poll_until(&mut reactor, |seen| seen.contains(&Seen::Closed(token)));
    assert_eq!(data_of(&seen, token), b"arrived before the close");
    assert_eq!(seen.last(), Some(&Seen::Closed(token)), "the data comes before Closed");
}

#[test]
fn close_keeps_what_had_arrived_for_read() {
    init();
    let (mut channel, mut peer) = TestChannel::pair();
    peer.put(b"unread");
    channel.close();
    assert_eq!(channel.read().unwrap(), b"unread");
    assert!(channel.read().is_err());
}

#[test]
fn a_prompt_is_visible_in_line_mode() {
    let app = App::new("python3 -i -q").pty(true).buffering(Buffering::Line).env("PYTHONSTARTUP", "");
    let mut runner = runner_with("python", app);
    runner.start("python").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while !seen.ends_with(b">>> ") {
        assert!(Instant::now() < deadline, "no prompt; seen {:?}", String::from_utf8_lossy(&seen));
        runner
            .poll_once(Some(Duration::from_millis(50)), |_, e| {
                if let Event::Data { data, .. } = e {
                    seen.extend_from_slice(data);
                }
            })
            .unwrap();
        seen.extend(runner.get_channel("python").unwrap().read_available().unwrap());
    }
    runner.get_channel("python").unwrap().write(b"print(6 * 7)\n").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "python").windows(2).any(|w| w == b"42"));
    assert!(!got.is_empty());
    runner.terminate("python").unwrap();
}

#[test]
fn read_available_takes_a_partial_line_and_keeps_line_mode() {
    init();
    let (channel, mut peer) = TestChannel::pair();
    let mut channel = channel.line_buffered();
    peer.put(b"one\ntw");
    assert_eq!(channel.read().unwrap(), b"one\n");
    assert_eq!(channel.read().unwrap(), b"", "half a line is not a line");
    assert_eq!(channel.read_available().unwrap(), b"tw");
    peer.put(b"o\nthree\n");
    assert_eq!(channel.read().unwrap(), b"o\n");
    assert_eq!(channel.read_available().unwrap(), b"three\n");
}
