//! tokio::process, on a current-thread or a multi-thread runtime.

use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::util::*;

pub fn run(scenario: &Scenario, multi_thread: bool) -> Metrics {
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
    .unwrap();
    runtime.block_on(async {
        match scenario {
            Scenario::Spawn { n, in_flight, program } => spawn(*n, *in_flight, program).await,
            Scenario::Fanout { n } => fanout(*n).await,
            Scenario::Throughput { bytes } => throughput(*bytes).await,
            Scenario::PingPong { rounds } => ping_pong(*rounds).await,
            Scenario::Lines { n } => lines(*n).await,
        }
    })
}

async fn spawn(n: usize, in_flight: usize, program: &str) -> Metrics {
    let timer = Timer::start();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..in_flight {
        let program = program.to_string();
        let share = n / in_flight + usize::from(worker < n % in_flight);
        tasks.spawn(async move {
            for _ in 0..share {
                let mut child =
                    Command::new(&program).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
                assert!(child.wait().await.unwrap().success());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    Metrics::rate(n, timer.elapsed())
}

async fn fanout(n: usize) -> Metrics {
    let timer = Timer::start();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        tasks.spawn(async move {
            stdin.write_all(&fanout_line(i)).await.unwrap();
            let mut line = Vec::new();
            stdout.read_until(b'\n', &mut line).await.unwrap();
            assert_eq!(line, fanout_line(i));
            drop(stdin);
            assert!(child.wait().await.unwrap().success());
        });
        // Let the tasks run between spawns, as the single-threaded loops do.
        tokio::task::yield_now().await;
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    Metrics::wall_ms(timer.elapsed())
}

async fn throughput(total: usize) -> Metrics {
    let chunk = chunk();
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let timer = Timer::start();
    let writer_chunk = chunk.clone();
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        while sent < total {
            let n = CHUNK.min(total - sent);
            stdin.write_all(&writer_chunk[..n]).await.unwrap();
            sent += n;
        }
    });
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0;
    while received < total {
        let n = stdout.read(&mut buf).await.unwrap();
        assert!(n > 0);
        check_stream(&chunk, received, &buf[..n]);
        received += n;
    }
    let elapsed = timer.elapsed();
    writer.await.unwrap();
    child.kill().await.unwrap();
    Metrics::gbps(total, elapsed)
}

async fn ping_pong(rounds: usize) -> Metrics {
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut samples = Vec::with_capacity(rounds);
    let mut line = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        stdin.write_all(LINE).await.unwrap();
        line.clear();
        stdout.read_until(b'\n', &mut line).await.unwrap();
        assert_eq!(line, LINE);
        samples.push(start.elapsed());
    }
    child.kill().await.unwrap();
    Metrics::latencies(samples)
}

async fn lines(n: usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let timer = Timer::start();
    let mut child = Command::new("seq").arg("1").arg(n.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut lines, mut bytes) = (0, 0);
    while let Some(line) = reader.next_line().await.unwrap() {
        lines += 1;
        bytes += line.len() + 1;
    }
    let elapsed = timer.elapsed();
    assert!(child.wait().await.unwrap().success());
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    Metrics::mlines(lines, elapsed)
}
