//! Line framing does not depend on how the bytes were chunked: whatever the
//! cuts, `read()` in line mode gives the stream's lines, then the last
//! partial one at end of stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use procloop::Error;
use procloop::testing::TestChannel;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (stream, cuts) = input;
    let stream = &stream[..stream.len().min(4096)];
    let (channel, mut test) = TestChannel::pair();
    let mut channel = channel.line_buffered().with_input_capacity(1024);
    let mut lines = Vec::new();
    let mut rest = stream;
    for cut in cuts.iter().map(|c| *c as usize + 1) {
        let (chunk, tail) = rest.split_at(cut.min(rest.len()));
        test.put(chunk);
        rest = tail;
        while let Ok(line) = channel.read() {
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
    }
    test.put(rest);
    test.close();
    loop {
        match channel.read() {
            Ok(line) if line.is_empty() => std::thread::yield_now(),
            Ok(line) => lines.push(line),
            Err(Error::EndpointClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let expected: Vec<Vec<u8>> = stream
        .split_inclusive(|b| *b == b'\n')
        .flat_map(|line| line.chunks(1024).map(<[u8]>::to_vec).collect::<Vec<_>>())
        .collect();
    assert_eq!(lines, expected);
});
