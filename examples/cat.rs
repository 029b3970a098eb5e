//! The Python runner's stdio example: configure `cat`, start it, write, read back.
//!
//! ```text
//! cargo run --example cat
//! ```

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::time::{Duration, Instant};

use procloop::{App, Runner};

fn main() -> Result<(), Failure> {
    env_logger::init();
    let mut runner = Runner::new()?;
    runner.update_config([("cat", App::new("cat"))]);
    runner.ensure_running("cat")?;
    let channel = runner.get_channel("cat").expect("just started");
    channel.write(b"hello, world")?;
    // Later: read() never blocks. Wait until the fd is readable (poll(2),
    // or your own loop's), then read what is there, until the echo is whole.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut echoed = Vec::new();
    while echoed.len() < 12 {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        if let Some(fd) = channel.read_fd() {
            let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))?;
        }
        echoed.extend(channel.read()?);
    }
    if echoed.len() < 12 {
        return Err(format!("cat echoed {:?} in 5 s, not all of it", String::from_utf8_lossy(&echoed)).into());
    }
    println!("{}", String::from_utf8_lossy(&echoed));
    runner.terminate("cat")?;
    Ok(())
}
