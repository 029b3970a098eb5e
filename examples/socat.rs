//! The Python runner's UNIX-socket example: `socat` serves `cat` on a socket, and the
//! runner connects to it once it appears.
//!
//! ```text
//! apt-get install -y socat
//! cargo run --example socat
//! ```

#[path = "common/failure.rs"]
mod failure;
use failure::Failure;

use std::path::Path;
use std::time::{Duration, Instant};

use procloop::{App, Event, Runner};

/// How long the echo may take.
const DEADLINE: Duration = Duration::from_secs(5);

fn main() -> Result<(), Failure> {
    env_logger::init();
    let dir = std::env::temp_dir().join(format!("procloop-socat-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The folder goes whatever happened: socat missing, or dead.
    let echoed = echo(&dir);
    std::fs::remove_dir_all(&dir)?;
    println!("{}", String::from_utf8_lossy(&echoed?));
    Ok(())
}

/// Starts socat in `dir`, sends it a line and returns its echo.
fn echo(dir: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut runner = Runner::new()?;
    runner.add("socat", App::new("socat SYSTEM:cat UNIX-LISTEN:socket").socket("socket").cwd(dir));
    runner.ensure_running("socat")?;
    match runner.get_channel("socat").expect("just started").write(b"hello, world") {
        // A socat that closed the socket at once may be gone before the write.
        Err(procloop::Error::EndpointClosed) => return Err("socat closed the socket before the line".into()),
        written => written?,
    }
    let deadline = Instant::now() + DEADLINE;
    let (mut echoed, mut ended) = (Vec::new(), None);
    while echoed.len() < 12 {
        if let Some(how) = ended {
            return Err(
                format!("socat {how} after {:?} of the echo", String::from_utf8_lossy(&echoed)).into()
            );
        }
        let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero());
        let left = left.ok_or(format!("no echo from socat in {DEADLINE:?}"))?;
        runner.poll_once(Some(left), |_, event| match event {
            Event::Data { data, .. } => echoed.extend_from_slice(data),
            Event::Closed { .. } => ended = Some("closed the socket".to_string()),
            Event::Exited { status, .. } => ended = Some(format!("exited ({status})")),
            _ => {}
        })?;
    }
    runner.terminate("socat")?;
    Ok(echoed)
}
