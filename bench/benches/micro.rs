//! Criterion micro-benchmarks: the idle cost of `poll_once`, line framing
//! through the reactor and through `Channel::read`, the input buffer on its
//! own, and `Runner::cpu_time` as an arena calls it every turn.
//!
//! ```text
//! cargo bench -p procloop-bench --bench micro
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use procloop::testing::TestChannel;
use procloop::{App, Reactor, ReactorEvent, Runner, Start};

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
fn input_buffer(c: &mut Criterion) {
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

/// `Runner::cpu_time` of running children: one call, and one turn of an
/// arena with 100 bots (a call for each). The bots sleep; a clock read costs
/// the same whatever the child does.
fn cpu_time(c: &mut Criterion) {
    let mut runner = Runner::new().unwrap();
    runner.add("bot", App::new("sleep 3600"));
    let aliases: Vec<String> = (0..100).map(|i| format!("bot-{i}")).collect();
    for alias in &aliases {
        runner.start_with("bot", Start::new().alias(alias)).unwrap();
    }
    let mut group = c.benchmark_group("Runner::cpu_time, 100 running bots");
    group.bench_function("one call", |b| b.iter(|| black_box(runner.cpu_time(black_box("bot-42")).unwrap())));
    group.throughput(Throughput::Elements(100));
    group.bench_function("one turn: a call per bot", |b| {
        b.iter(|| {
            for alias in &aliases {
                black_box(runner.cpu_time(alias).unwrap());
            }
        })
    });
    group.finish();
    assert_eq!(runner.aliases().filter(|a| runner.pid(a).is_some()).count(), 100);
}

criterion_group!(benches, idle_poll, line_framing, input_buffer, cpu_time);
criterion_main!(benches);
