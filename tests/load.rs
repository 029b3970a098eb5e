//! Many children through one loop.

mod util;

use std::collections::HashSet;

use procloop::{App, Buffering, Runner, Start, Transport};
use util::*;

fn echo_many(n: usize, transport: Transport) {
    init();
    let mut runner = Runner::new().unwrap();
    runner.add("cat", App::new("cat").buffering(Buffering::Line).transport(transport));
    for i in 0..n {
        runner.start_with("cat", Start::new().alias(i.to_string())).unwrap();
        runner.get_channel(&i.to_string()).unwrap().write(format!("line {i}\n").as_bytes()).unwrap();
    }
    let mut waiting: HashSet<usize> = (0..n).collect();
    let deadline = std::time::Instant::now() + DEADLINE * 3;
    while !waiting.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{} echoes missing", waiting.len());
        runner
            .poll_once(Some(std::time::Duration::from_millis(500)), |_, event| {
                if let procloop::Event::Data { alias, data } = event {
                    let i: usize = alias.parse().unwrap();
                    assert_eq!(data, format!("line {i}\n").as_bytes());
                    assert!(waiting.remove(&i), "{alias} echoed twice");
                }
            })
            .unwrap();
    }
}

#[test]
fn thousand_concurrent_cats_each_echo_their_line() {
    echo_many(1000, Transport::Pipes);
}

#[test]
fn thousand_concurrent_cats_over_socket_pairs() {
    echo_many(1000, Transport::SocketPair);
}
