//! Ping-pong side by side in one process: round trips through `cat` of the
//! Runner's loop, the mio loop of `imp_mio.rs`, and that loop writing with
//! `pwritev2(RWF_NOSIGNAL)` as procloop does (the mio loop's plain `write`
//! relies on SIGPIPE being ignored; procloop promises no SIGPIPE whatever
//! its host does with it). The three alternate in blocks, in rotated order,
//! so that the VM's slow and fast stretches fall on all alike; separate
//! processes (`--one`) differ by more than the gap between them.
//!
//! ```text
//! taskset -c 0 target/release/deps/compare-* --pair-pingpong 200 500
//! ```
//!
//! One `PAIR` line: for procloop ÷ each mio loop and for the two mio loops,
//! the median and quartiles over blocks of the ratio of their times, then
//! each side's mean round trip.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use procloop::{App, Buffering, Runner};

use crate::util::LINE;

/// `pwritev2`'s flag that spares the writer SIGPIPE (Linux 6.18).
const RWF_NOSIGNAL: nix::libc::c_int = 0x100;

/// `blocks` blocks of `rounds` round trips a side; prints one `PAIR` line.
pub fn run(blocks: usize, rounds: usize) {
    let mut mio_write = MioSide::new(false);
    let mut mio_nosignal = MioSide::new(true);
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat").buffering(Buffering::Line));
    runner.start("cat").unwrap();
    let mut times = [Duration::ZERO; 3];
    let mut ratios = [Vec::with_capacity(blocks), Vec::with_capacity(blocks), Vec::with_capacity(blocks)];
    for block in 0..blocks {
        let mut block_times = [Duration::ZERO; 3];
        for side in (0..3).map(|i| (i + block) % 3) {
            block_times[side] = match side {
                0 => procloop_round_trips(&mut runner, rounds),
                1 => mio_write.round_trips(rounds),
                _ => mio_nosignal.round_trips(rounds),
            };
        }
        let [procloop, mio_write, mio_nosignal] = block_times.map(|t| t.as_secs_f64());
        for (ratio, value) in
            ratios.iter_mut().zip([procloop / mio_write, procloop / mio_nosignal, mio_nosignal / mio_write])
        {
            ratio.push(value);
        }
        for (total, time) in times.iter_mut().zip(block_times) {
            *total += time;
        }
    }
    let per_rt = |total: Duration| total.as_secs_f64() * 1e6 / (blocks * rounds) as f64;
    let [vs_write, vs_nosignal, nosignal_vs_write] = ratios.map(quartiles);
    println!(
        "PAIR procloop/mio-write {vs_write}; procloop/mio-nosignal {vs_nosignal}; \
         mio-nosignal/mio-write {nosignal_vs_write}; \
         round trip: procloop {:.3} us, mio-write {:.3} us, mio-nosignal {:.3} us",
        per_rt(times[0]),
        per_rt(times[1]),
        per_rt(times[2])
    );
}

/// "median M (q1 A, q3 B)" of `ratios`.
fn quartiles(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: usize| ratios[(ratios.len() * q / 4).min(ratios.len() - 1)];
    format!("median {:.4} (q1 {:.4}, q3 {:.4})", at(2), at(1), at(3))
}

/// As `imp_procloop.rs`'s ping-pong.
fn procloop_round_trips(runner: &mut Runner, rounds: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        crate::imp_procloop::round_trip(runner);
    }
    start.elapsed()
}

/// The mio loop's cat, as in `imp_mio.rs`; `nosignal` writes with
/// `pwritev2(RWF_NOSIGNAL)` instead of `write`.
struct MioSide {
    poll: Poll,
    events: Events,
    child: Child,
    nosignal: bool,
}

impl MioSide {
    fn new(nosignal: bool) -> MioSide {
        let poll = Poll::new().unwrap();
        let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        for (fd, token, interest) in [
            (child.stdin.as_ref().unwrap().as_raw_fd(), 0, Interest::WRITABLE),
            (child.stdout.as_ref().unwrap().as_raw_fd(), 1, Interest::READABLE),
        ] {
            // SAFETY: F_SETFL on an fd the child handle owns.
            assert_eq!(unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFL, nix::libc::O_NONBLOCK) }, 0);
            poll.registry().register(&mut SourceFd(&fd), Token(token), interest).unwrap();
        }
        MioSide { poll, events: Events::with_capacity(64), child, nosignal }
    }

    fn round_trips(&mut self, rounds: usize) -> Duration {
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        for _ in 0..rounds {
            self.write_line();
            let mut got = 0;
            while got < LINE.len() {
                match self.child.stdout.as_mut().unwrap().read(&mut buf[got..]) {
                    Ok(k) => got += k,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        self.poll.poll(&mut self.events, None).unwrap()
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(&buf[..got], LINE);
        }
        start.elapsed()
    }

    fn write_line(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        if !self.nosignal {
            return stdin.write_all(LINE).unwrap();
        }
        let iov = nix::libc::iovec { iov_base: LINE.as_ptr().cast_mut().cast(), iov_len: LINE.len() };
        // SAFETY: `iov` describes LINE, which the kernel only reads; the fd is open.
        let written = unsafe { nix::libc::pwritev2(stdin.as_raw_fd(), &iov, 1, -1, RWF_NOSIGNAL) };
        assert_eq!(written, LINE.len() as isize, "{}", std::io::Error::last_os_error());
    }
}

impl Drop for MioSide {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
