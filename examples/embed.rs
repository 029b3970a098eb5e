//! The Runner inside someone else's loop: wait on its fd, then
//! `poll_once(Some(ZERO))`, never blocking in procloop.
//!
//! ```text
//! cargo run --example embed -- poll     # a game loop's frame with poll(2)
//! cargo run --example embed -- tokio    # tokio's AsyncFd
//! ```

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start};

const FRAME: Duration = Duration::from_millis(16);
const FRAMES: u32 = 30;

fn main() -> Result<(), Failure> {
    env_logger::init();
    let mode = std::env::args().nth(1).unwrap_or_else(|| "poll".into());
    let mut runner = Runner::new()?;
    runner.add("echo", App::new("cat").buffering(Buffering::Line));
    for name in ["left", "right"] {
        runner.start_with("echo", Start::new().alias(name))?;
    }
    let echoes = match mode.as_str() {
        "poll" => game_loop(&mut runner)?,
        "tokio" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(with_tokio(&mut runner))?,
        other => return Err(format!("unknown mode {other}: poll or tokio").into()),
    };
    println!("{mode}: {echoes} echoes");
    Ok(())
}

/// Sends one line to each child, so each frame has something to do.
fn send(runner: &mut Runner, frame: u32) -> Result<(), String> {
    for name in ["left", "right"] {
        let channel = runner.get_channel(name).expect("started");
        channel.write(format!("frame {frame}\n").as_bytes()).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Hands over what is ready without waiting; returns the echoes seen. A
/// child that ended is an error: its echoes would never come.
fn drain(runner: &mut Runner) -> Result<usize, Box<dyn std::error::Error>> {
    let (mut echoes, mut ended) = (0, None);
    runner.poll_once(Some(Duration::ZERO), |_, event| match event {
        Event::Data { alias, data } => {
            echoes += 1;
            log::info!("{alias}: {}", String::from_utf8_lossy(data).trim_end());
        }
        Event::Closed { alias } => ended = Some(format!("{alias} closed its output")),
        Event::Exited { alias, status } => ended = Some(format!("{alias} exited ({status})")),
        _ => {}
    })?;
    match ended {
        Some(ended) => Err(ended.into()),
        None => Ok(echoes),
    }
}

/// A game loop: 30 frames of 16 ms; each frame waits on the runner's fd
/// with poll(2) for what is left of the frame.
fn game_loop(runner: &mut Runner) -> Result<usize, Box<dyn std::error::Error>> {
    let mut echoes = 0;
    for frame in 0..FRAMES {
        let frame_end = Instant::now() + FRAME;
        send(runner, frame)?;
        while let Some(left) = frame_end.checked_duration_since(Instant::now()) {
            echoes += wait_and_drain(runner, left)?;
        }
    }
    // On a busy machine the last echoes can come after the last frame:
    // wait for them the same way, for 20 s at most.
    let end = Instant::now() + Duration::from_secs(20);
    while echoes < 2 * FRAMES as usize {
        let Some(left) = end.checked_duration_since(Instant::now()) else { break };
        echoes += wait_and_drain(runner, left)?;
    }
    Ok(echoes)
}

/// Waits on the runner's fd with poll(2) for `left` at most, then hands
/// over what is ready.
fn wait_and_drain(runner: &mut Runner, left: Duration) -> Result<usize, Box<dyn std::error::Error>> {
    let mut fds = [nix::poll::PollFd::new(runner.as_fd(), nix::poll::PollFlags::POLLIN)];
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))?;
    drain(runner)
}

/// tokio's AsyncFd over the runner's fd: readiness comes from tokio's
/// reactor, the events from procloop's.
async fn with_tokio(runner: &mut Runner) -> Result<usize, Box<dyn std::error::Error>> {
    let fd = runner.as_fd().try_clone_to_owned()?;
    // SAFETY: `fd` is an OwnedFd that the AsyncFd owns: it stays open and
    // the same fd for the AsyncFd's whole life.
    let async_fd = unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(|e| e.to_string())?;
    let mut echoes = 0;
    for frame in 0..FRAMES {
        send(runner, frame)?;
        let want = (frame as usize + 1) * 2;
        while echoes < want {
            let mut guard = async_fd.readable().await?;
            // Hand over all that is ready before waiting for the next edge.
            loop {
                let handed = drain(runner)?;
                echoes += handed;
                if handed == 0 {
                    break;
                }
            }
            guard.clear_ready();
        }
    }
    Ok(echoes)
}
