//! fd exhaustion: a start that hits the fd limit fails with a clear error,
//! leaks nothing, and the runner keeps working. One test: the limit is
//! process-wide.

mod util;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use procloop::testing::open_fds;
use procloop::{App, Error, Runner, Start};
use util::*;

#[test]
fn starts_past_the_fd_limit_fail_cleanly_and_the_runner_goes_on() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat"));
    runner.start_with("cat", Start::new().alias("first")).unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let fds = open_fds();
    let children = child_pids();
    setrlimit(Resource::RLIMIT_NOFILE, fds as u64 + 2, hard).unwrap();
    let mut failures = 0;
    for i in 0..3 {
        match runner.start_with("cat", Start::new().alias(format!("more-{i}"))) {
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                let message = e.to_string();
                assert!(matches!(e, Error::Io(_) | Error::Spawn { .. }), "{e:?}");
                assert!(message.contains("Too many open files"), "{message}");
            }
        }
    }
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    assert_eq!(failures, 3);
    assert_eq!(open_fds(), fds, "nothing leaked");
    assert_eq!(child_pids(), children, "nothing left running");
    let channel = runner.get_channel("first").unwrap();
    channel.write(b"alive").unwrap();
    assert_eq!(read_exactly(channel, 5), b"alive");
    runner.start_with("cat", Start::new().alias("after")).unwrap();
}
