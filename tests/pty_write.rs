//! Writing to a `pty` app whose program is gone: the terminal's master side
//! takes writes until its buffer fills even then, so the channel says
//! `EndpointClosed` itself, from the end of stream it read or a hang-up.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Error, Event, Runner};
use util::DEADLINE;

/// One test, so no other test's fork in this process holds a copy of the
/// terminal's slave side (till it execs) when the program exits: then the
/// terminal would not hang up at once.
#[test]
fn a_terminal_whose_program_exited_is_endpoint_closed() {
    after_the_exit_event();
    without_a_loop();
}

fn after_the_exit_event() {
    let mut runner = Runner::new().unwrap();
    runner.add("true", App::new("true").pty(true));
    runner.start("true").unwrap();
    let mut exited = false;
    let deadline = Instant::now() + DEADLINE;
    while !exited {
        assert!(Instant::now() < deadline, "no exit before the deadline");
        runner
            .poll_once(Some(Duration::from_millis(100)), |_, event| {
                exited |= matches!(event, Event::Exited { .. });
            })
            .unwrap();
    }
    let channel = runner.get_channel("true").expect("the alias stays taken until terminate");
    assert!(matches!(channel.write(b"anyone there?\n"), Err(Error::EndpointClosed)));
    assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)), "and stays so");
    assert_eq!(channel.queued(), 0);
}

fn without_a_loop() {
    let mut runner = Runner::new().unwrap();
    runner.add("true", App::new("true").pty(true));
    runner.start("true").unwrap();
    let deadline = Instant::now() + DEADLINE;
    while runner.is_running("true") {
        assert!(Instant::now() < deadline, "no exit before the deadline");
        std::thread::yield_now();
    }
    let channel = runner.get_channel("true").unwrap();
    let mut result = Ok(());
    // Without the check, writes go through until the terminal's buffer
    // fills, then queue until QueueFull: never EndpointClosed.
    for _ in 0..100 {
        result = channel.write(&[b'x'; 1024]);
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(Error::EndpointClosed)), "{result:?}");
}
