//! A forked copy of a Runner owns nothing: in the child of a `fork()` every
//! call that would touch the parent's children or fds is refused with
//! `Error::ForkedCopy`, and the parent's child runs on, its output still
//! reaching the parent. (One test: the fork is made with no other test
//! running in this process.)

mod util;

use std::os::fd::AsFd;
use std::time::Duration;

use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use procloop::testing::TestChannel;
use procloop::{App, Error, Runner, Signal};
use util::*;

fn refused<T>(result: procloop::Result<T>, owner: u32) -> bool {
    matches!(result, Err(Error::ForkedCopy { owner: o }) if o == owner)
}

/// What the forked child does with its copy: each check that fails gives
/// its number as the exit code, 0 when all hold.
fn in_forked_child(mut runner: Runner, owner: u32) -> i32 {
    let checks = [
        refused(runner.signal("cat", Signal::SIGKILL), owner),
        refused(runner.poll_once(Some(Duration::ZERO), |_, _| {}), owner),
        refused(runner.stop("cat"), owner),
        refused(runner.wait("cat", Duration::ZERO), owner),
        refused(runner.terminate_within("cat", Duration::ZERO), owner),
        refused(runner.terminate("cat"), owner),
        refused(runner.start_with("cat", procloop::Start::new().alias("second")), owner),
        refused(runner.cpu_time("cat"), owner),
        refused(runner.waker(), owner),
        refused(runner.reactor().register(TestChannel::pair().0), owner),
        runner.get_channel("cat").is_none(),
        !runner.is_running("cat"),
        !runner.pause("cat"),
    ];
    runner.stop_all();
    runner.terminate_all();
    drop(runner);
    checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
}

#[test]
fn a_forked_copy_refuses_and_leaves_the_parents_child_alone() {
    // No logger: the copy's drop may log, and must take no lock for it.
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat"));
    runner.start("cat").unwrap();
    let pid = runner.pid("cat").unwrap();
    let cat = runner.get_channel("cat").unwrap();
    cat.write(b"before\n").unwrap();
    // The echo waits in the pipe at the fork: the copy could steal it.
    let fd = cat.read_fd().unwrap();
    let ready =
        poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(ready, 1, "cat echoes");
    let owner = std::process::id();

    // SAFETY: the child only uses its copy of the Runner (no lock another
    // thread could hold: the harness's main thread only waits for this one)
    // and leaves by _exit, running nothing of the harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        let code = in_forked_child(runner, owner);
        // SAFETY: ends the forked child at once, as a forked child must.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked, into a local.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the forked child ended by itself");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "check number {} failed in the forked child",
        libc::WEXITSTATUS(status)
    );

    assert!(runner.is_running("cat") && pid_exists(pid), "the parent's cat runs on");
    runner.get_channel("cat").unwrap().write(b"after\n").unwrap();
    let got = run_until(&mut runner, |got| output_of(got, "cat").len() >= 13);
    assert_eq!(output_of(&got, "cat"), b"before\nafter\n", "no byte was taken by the copy");
    assert!(runner.terminate("cat").is_ok());
}
