//! tokio::process, on a current-thread or a multi-thread runtime.

use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

use crate::frame::{self, Ledger, Role};
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
            Scenario::Frame { n, faults } => frame(*n, *faults).await,
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

/// What the frame loop hears from the bots' tasks.
enum Msg {
    Line(usize, Vec<u8>),
    Exited(usize, ExitStatus),
    RestartDue(usize),
}

/// A bot of the frame scenario: the loop writes its stdin; a task of its
/// own reads its stdout line by line, stops it when told (SIGTERM, SIGKILL
/// after the grace) and reaps it at end of stream.
struct Bot {
    stdin: ChildStdin,
    stop: Option<oneshot::Sender<()>>,
}

impl Bot {
    fn spawn(i: usize, role: Role, program: &str, tx: &mpsc::UnboundedSender<Msg>) -> Bot {
        let mut child = Command::new(program)
            .args(role.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (stop, mut stop_rx) = oneshot::channel::<()>();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut line = Vec::with_capacity(frame::LINE_LEN);
            let kill = tokio::time::sleep(std::time::Duration::ZERO);
            tokio::pin!(kill);
            let (mut stop_open, mut kill_armed) = (true, false);
            loop {
                tokio::select! {
                    // Cancel-safe: what a cancelled read took stays in `line`.
                    read = stdout.read_until(b'\n', &mut line) => {
                        if read.unwrap() == 0 {
                            break;
                        }
                        let full = std::mem::replace(&mut line, Vec::with_capacity(frame::LINE_LEN));
                        if tx.send(Msg::Line(i, full)).is_err() {
                            return;
                        }
                    }
                    stop = &mut stop_rx, if stop_open => {
                        stop_open = false;
                        if stop.is_ok() {
                            let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
                            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
                            kill.as_mut().reset(tokio::time::Instant::now() + frame::GRACE);
                            kill_armed = true;
                        }
                    }
                    () = &mut kill, if kill_armed => {
                        kill_armed = false;
                        child.start_kill().unwrap();
                    }
                }
            }
            let status = child.wait().await.unwrap();
            let _ = tx.send(Msg::Exited(i, status));
        });
        Bot { stdin, stop: Some(stop) }
    }
}

/// The frame scenario on tokio: one task per bot, replies through an
/// unbounded channel to the loop, which waits on it and on a sleep until
/// the deadline; a restart is timed by a sleeping task.
async fn frame(n: usize, faults: bool) -> Metrics {
    let mut frame = TokioFrame::new(n, faults);
    for turn in 0..Ledger::turns() {
        frame.turn(turn).await;
    }
    frame.drain().await;
    frame.finish()
}

/// The frame loop's state, so that its turns may be run a few at a time
/// (`frame_pair.rs`); made and driven inside a tokio runtime.
pub struct TokioFrame {
    program: String,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    ledger: Ledger,
    bots: Vec<Bot>,
    msgs: Vec<Msg>,
}

impl TokioFrame {
    /// The bots started (their reading tasks spawned on the current runtime).
    pub fn new(n: usize, faults: bool) -> TokioFrame {
        let program = frame::bot_program();
        let (tx, rx) = mpsc::unbounded_channel();
        let ledger = Ledger::new(n, faults);
        let bots: Vec<Bot> = (0..n).map(|i| Bot::spawn(i, ledger.role(i), &program, &tx)).collect();
        TokioFrame { program, tx, rx, ledger, bots, msgs: Vec::with_capacity(1024) }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Line(bot, line) => self.ledger.reply(bot, &line),
            Msg::Exited(bot, status) => {
                if let Some(delay) = self.ledger.exited(bot, status) {
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(Msg::RestartDue(bot));
                    });
                }
            }
            Msg::RestartDue(bot) => {
                self.bots[bot] = Bot::spawn(bot, self.ledger.role(bot), &self.program, &self.tx);
                self.ledger.restarted(bot);
            }
        }
    }

    /// Hands over what the bots' tasks sent, waiting for some first.
    async fn receive(&mut self) {
        let mut msgs = std::mem::take(&mut self.msgs);
        self.rx.recv_many(&mut msgs, 1024).await;
        for msg in msgs.drain(..) {
            self.handle(msg);
        }
        self.msgs = msgs;
    }

    /// One turn: the lines written, then replies until the deadline.
    pub async fn turn(&mut self, turn: u32) {
        if let Some(bot) = self.ledger.begin_turn(turn) {
            self.bots[bot].stop.take().unwrap().send(()).unwrap();
        }
        let deadline = tokio::time::sleep_until((self.ledger.start() + frame::DEADLINE).into());
        tokio::pin!(deadline);
        for (i, bot) in self.bots.iter_mut().enumerate() {
            if let Some(line) = self.ledger.line(i) {
                bot.stdin.write_all(&line).await.unwrap();
            }
        }
        self.ledger.written();
        loop {
            tokio::select! {
                biased;
                () = &mut deadline => break,
                () = self.receive() => {}
            }
        }
        self.ledger.end_turn();
    }

    /// After the last turn: late replies (and the faults' exits) until settled.
    pub async fn drain(&mut self) {
        let drain = tokio::time::sleep(frame::DRAIN);
        tokio::pin!(drain);
        while !self.ledger.settled() {
            tokio::select! {
                () = &mut drain => break,
                () = self.receive() => {}
            }
        }
    }

    /// The latency of each measured turn so far.
    pub fn samples(&self) -> &[std::time::Duration] {
        self.ledger.samples()
    }

    pub fn finish(self) -> Metrics {
        self.ledger.finish()
    }
}
