//! Criterion micro-benchmarks: the idle cost of `poll_once`, line framing
//! through the reactor and through `Channel::read`, and the input buffer
//! (the ring) on its own.
//!
//! ```text
//! cargo bench --bench micro
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use procloop::testing::TestChannel;
use procloop::{Reactor, ReactorEvent};

fn idle_poll(c: &mut Criterion) {
    let mut group = c.benchmark_group("poll_once(Some(ZERO)), idle channels");
    for n in [1, 100, 1000, 4000] {
        let mut reactor = Reactor::new().unwrap();
        let mut ends = Vec::with_capacity(n);
        for _ in 0..n {
            let (channel, test) = TestChannel::pair();
            reactor.register(channel).unwrap();
            ends.push(test);
        }
        // The first poll takes the registrations' initial readiness.
        reactor.poll_once(Some(Duration::ZERO), |_, _| {}).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                reactor
                    .poll_once(Some(Duration::ZERO), |_, e| {
                        black_box(e);
                    })
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// 64 KiB of 8-byte lines.
fn lines_block() -> Vec<u8> {
    (0..8192).flat_map(|i| format!("{:07}\n", i % 10_000_000).into_bytes()).collect()
}

fn line_framing(c: &mut Criterion) {
    let block = lines_block();
    let mut group = c.benchmark_group("line framing, 8192 lines of 8 bytes");
    group.throughput(Throughput::Elements(8192));
    group.bench_function("reactor events", |b| {
        let mut reactor = Reactor::new().unwrap();
        let (channel, mut test) = TestChannel::pair();
        reactor.register(channel.line_buffered()).unwrap();
        b.iter(|| {
            test.put(&block);
            let mut lines = 0;
            while lines < 8192 {
                reactor
                    .poll_once(Some(Duration::from_secs(1)), |_, e| {
                        if let ReactorEvent::Data { data, .. } = e {
                            black_box(data);
                            lines += 1;
                        }
                    })
                    .unwrap();
            }
        })
    });
    group.bench_function("Channel::read", |b| {
        let (channel, mut test) = TestChannel::pair();
        let mut channel = channel.line_buffered();
        b.iter(|| {
            test.put(&block);
            let mut lines = 0;
            while lines < 8192 {
                if !black_box(channel.read().unwrap()).is_empty() {
                    lines += 1;
                }
            }
        })
    });
    group.finish();
}

/// The input buffer: bytes read into it and taken out in byte mode, and
/// lines cut across reads, which leave a partial line behind to be moved
/// to the front.
fn ring_buffer(c: &mut Criterion) {
    let block = lines_block();
    let mut group = c.benchmark_group("input buffer, 64 KiB");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.bench_function("byte mode, Channel::read", |b| {
        let (mut channel, mut test) = TestChannel::pair();
        b.iter(|| {
            test.put(&block);
            let mut got = 0;
            while got < block.len() {
                got += black_box(channel.read().unwrap()).len();
            }
        })
    });
    group.bench_function("lines cut every 1,000 bytes, Channel::read", |b| {
        let (channel, mut test) = TestChannel::pair();
        let mut channel = channel.line_buffered();
        b.iter(|| {
            let mut lines = 0;
            for chunk in block.chunks(1000) {
                test.put(chunk);
                loop {
                    let line = channel.read().unwrap();
                    if line.is_empty() {
                        break;
                    }
                    black_box(line);
                    lines += 1;
                }
            }
            assert_eq!(lines, 8192);
        })
    });
    group.finish();
}

criterion_group!(benches, idle_poll, line_framing, ring_buffer);
criterion_main!(benches);
