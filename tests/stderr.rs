//! stderr: inherit, null, merge into the channel, or capture on its own.

mod util;

use procloop::{App, Buffering, Runner, Stderr};
use util::*;

const BOTH: &str = "sh -c 'echo out; echo err >&2'";

fn run(stderr: Stderr) -> (Vec<Got>, Runner) {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("both", App::new(BOTH).stderr(stderr).buffering(Buffering::Line));
    runner.start("both").unwrap();
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Exited(..))));
    (got, runner)
}

#[test]
fn merge_puts_stderr_in_the_channel() {
    let (got, _) = run(Stderr::Merge);
    let out = String::from_utf8(output_of(&got, "both")).unwrap();
    assert!(out.len() == 8 && out.contains("out\n") && out.contains("err\n"), "{out}");
}

#[test]
fn null_discards_stderr() {
    let (got, _) = run(Stderr::Null);
    assert_eq!(output_of(&got, "both"), b"out\n");
    assert!(!got.iter().any(|g| matches!(g, Got::Stderr(..))));
}

#[test]
fn capture_hands_stderr_as_its_own_events_before_exit() {
    let (got, mut runner) = run(Stderr::Capture);
    assert_eq!(output_of(&got, "both"), b"out\n");
    let err = got.iter().position(|g| *g == Got::Stderr("both".into(), b"err\n".to_vec())).expect("stderr");
    let exited = got.iter().position(|g| matches!(g, Got::Exited(..))).unwrap();
    assert!(err < exited, "{got:?}");
    let stderr = runner.get_stderr("both").unwrap();
    assert!(stderr.write(b"x").is_err(), "read-only");
}

#[test]
fn capture_is_readable_without_the_loop() {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("both", App::new(BOTH).stderr(Stderr::Capture));
    runner.start("both").unwrap();
    assert_eq!(read_to_end(runner.get_stderr("both").unwrap()), b"err\n");
    assert_eq!(read_to_end(runner.get_channel("both").unwrap()), b"out\n");
    assert!(runner.get_stderr("nobody").is_none());
}
