//! The Python runner's UNIX-socket example: `socat` serves `cat` on a socket, and the
//! runner connects to it once it appears.
//!
//! ```text
//! apt-get install -y socat
//! cargo run --example socat
//! ```

use std::time::Duration;

use procloop::{App, Event, Runner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let dir = std::env::temp_dir().join(format!("procloop-socat-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut runner = Runner::new()?;
    runner.add("socat", App::new("socat SYSTEM:cat UNIX-LISTEN:socket").socket("socket").cwd(&dir));
    runner.ensure_running("socat")?;
    runner.get_channel("socat").expect("just started").write(b"hello, world")?;
    let mut echoed = Vec::new();
    while echoed.len() < 12 {
        runner.poll_once(Some(Duration::from_secs(5)), |_, event| {
            if let Event::Data { data, .. } = event {
                echoed.extend_from_slice(data);
            }
        })?;
    }
    println!("{}", String::from_utf8_lossy(&echoed));
    runner.terminate("socat")?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
