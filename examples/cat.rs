//! The Python runner's stdio example: configure `cat`, start it, write, read back.
//!
//! ```text
//! cargo run --example cat
//! ```

use std::time::{Duration, Instant};

use procloop::{App, Runner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let mut runner = Runner::new()?;
    runner.update_config([("cat", App::new("cat"))]);
    runner.ensure_running("cat")?;
    let channel = runner.get_channel("cat").expect("just started");
    channel.write(b"hello, world")?;
    // Later: read() never blocks, so ask until the echo is there.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut echoed = Vec::new();
    while echoed.len() < 12 && Instant::now() < deadline {
        echoed.extend(channel.read()?);
    }
    if echoed.len() < 12 {
        return Err(format!("cat echoed {:?} in 5 s, not all of it", String::from_utf8_lossy(&echoed)).into());
    }
    println!("{}", String::from_utf8_lossy(&echoed));
    runner.terminate("cat")?;
    Ok(())
}
