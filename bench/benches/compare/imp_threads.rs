//! std::process with a thread per pipe; and the plain limits (a read loop,
//! a pipe between two threads).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::frame::{self, Ledger, Role};
use crate::util::*;

pub fn run(scenario: &Scenario) -> Metrics {
    match scenario {
        Scenario::Spawn { n, in_flight, program } => spawn(*n, *in_flight, program),
        Scenario::Fanout { n } => fanout(*n),
        Scenario::Throughput { bytes } => throughput(*bytes),
        Scenario::PingPong { rounds } => ping_pong(*rounds),
        Scenario::Lines { n } => lines(*n),
        Scenario::Frame { n, faults } => frame(*n, *faults),
    }
}

fn spawn(n: usize, in_flight: usize, program: &str) -> Metrics {
    let timer = Timer::start();
    std::thread::scope(|s| {
        for worker in 0..in_flight {
            let share = n / in_flight + usize::from(worker < n % in_flight);
            s.spawn(move || {
                for _ in 0..share {
                    let mut child =
                        Command::new(program).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
                    assert!(child.wait().unwrap().success());
                }
            });
        }
    });
    Metrics::rate(n, timer.elapsed())
}

/// A thread per child reads its echo, then closes its stdin and reaps it,
/// while the main thread goes on spawning.
fn fanout(n: usize) -> Metrics {
    let timer = Timer::start();
    let mut threads = Vec::with_capacity(n);
    for i in 0..n {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.as_mut().unwrap().write_all(&fanout_line(i)).unwrap();
        let thread = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut line = Vec::new();
                BufReader::new(child.stdout.take().unwrap()).read_until(b'\n', &mut line).unwrap();
                assert_eq!(line, fanout_line(i));
                drop(child.stdin.take());
                assert!(child.wait().unwrap().success());
            })
            .unwrap();
        threads.push(thread);
    }
    threads.into_iter().for_each(|t| t.join().unwrap());
    Metrics::wall_ms(timer.elapsed())
}

fn throughput(total: usize) -> Metrics {
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let elapsed = pump(total, stdin, stdout);
    child.kill().unwrap();
    child.wait().unwrap();
    Metrics::gbps(total, elapsed)
}

/// Writes `total` bytes of the repeated chunk into `writer` from a second
/// thread while this one reads and checks them from `reader`; the time taken.
fn pump(total: usize, mut writer: impl Write + Send, mut reader: impl Read) -> std::time::Duration {
    let chunk = chunk();
    let timer = Timer::start();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut sent = 0;
            while sent < total {
                let n = CHUNK.min(total - sent);
                writer.write_all(&chunk[..n]).unwrap();
                sent += n;
            }
        });
        let mut buf = vec![0u8; CHUNK];
        let mut received = 0;
        while received < total {
            let n = reader.read(&mut buf).unwrap();
            assert!(n > 0);
            check_stream(&chunk, received, &buf[..n]);
            received += n;
        }
        timer.elapsed()
    })
}

fn ping_pong(rounds: usize) -> Metrics {
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut samples = Vec::with_capacity(rounds);
    let mut line = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        stdin.write_all(LINE).unwrap();
        line.clear();
        stdout.read_until(b'\n', &mut line).unwrap();
        assert_eq!(line, LINE);
        samples.push(start.elapsed());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Metrics::latencies(samples)
}

fn lines(n: usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let timer = Timer::start();
    let mut child = Command::new("seq").arg("1").arg(n.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut lines, mut bytes) = (0, 0);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).unwrap();
        if n == 0 {
            break;
        }
        lines += 1;
        bytes += n;
    }
    let elapsed = timer.elapsed();
    assert!(child.wait().unwrap().success());
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    Metrics::mlines(lines, elapsed)
}

/// What the frame loop hears from the other threads.
enum Msg {
    Line(usize, Vec<u8>),
    Exited(usize, ExitStatus),
    RestartDue(usize),
}

/// A bot of the frame scenario: the main thread writes its stdin; a thread
/// reads its stdout, line by line, then reaps it at end of stream.
struct Bot {
    stdin: ChildStdin,
    child: Arc<Mutex<Child>>,
}

impl Bot {
    fn spawn(i: usize, role: Role, program: &str, tx: &Sender<Msg>) -> Bot {
        let mut child = Command::new(program)
            .args(role.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let child = Arc::new(Mutex::new(child));
        let (reaper, tx) = (child.clone(), tx.clone());
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = Vec::with_capacity(frame::LINE_LEN);
                    if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                        break;
                    }
                    if tx.send(Msg::Line(i, line)).is_err() {
                        return;
                    }
                }
                // End of stream: the bot is exiting; the lock is held only as long as that takes.
                let status = reaper.lock().unwrap().wait().unwrap();
                let _ = tx.send(Msg::Exited(i, status));
            })
            .unwrap();
        Bot { stdin, child }
    }

    /// SIGTERM now, SIGKILL after the grace from a thread of its own; the
    /// caller does not wait.
    fn stop(&self) {
        let mut child = self.child.lock().unwrap();
        if child.try_wait().unwrap().is_none() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        }
        drop(child);
        let child = self.child.clone();
        std::thread::spawn(move || {
            std::thread::sleep(frame::GRACE);
            // A no-op once reaped (std keeps the status), so never another's pid.
            child.lock().unwrap().kill().unwrap();
        });
    }
}

/// The frame scenario with a thread per bot's stdout: the main thread
/// writes the lines and takes replies from a channel with `recv_timeout`
/// up to the deadline; a restart is timed by a sleeping thread.
fn frame(n: usize, faults: bool) -> Metrics {
    let program = frame::bot_program();
    let (tx, rx) = mpsc::channel();
    let mut ledger = Ledger::new(n, faults);
    let mut bots: Vec<Bot> = (0..n).map(|i| Bot::spawn(i, ledger.role(i), &program, &tx)).collect();
    let handle = |bots: &mut Vec<Bot>, ledger: &mut Ledger, msg: Msg| match msg {
        Msg::Line(bot, line) => ledger.reply(bot, &line),
        Msg::Exited(bot, status) => {
            if let Some(delay) = ledger.exited(bot, status) {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = tx.send(Msg::RestartDue(bot));
                });
            }
        }
        Msg::RestartDue(bot) => {
            bots[bot] = Bot::spawn(bot, ledger.role(bot), &program, &tx);
            ledger.restarted(bot);
        }
    };
    let run_until = |bots: &mut Vec<Bot>, ledger: &mut Ledger, deadline: Instant, settle: bool| loop {
        if settle && ledger.settled() {
            return;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return };
        match rx.recv_timeout(left) {
            Ok(msg) => handle(bots, ledger, msg),
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        }
    };
    for turn in 0..Ledger::turns() {
        if let Some(bot) = ledger.begin_turn(turn) {
            bots[bot].stop();
        }
        let deadline = ledger.start() + frame::DEADLINE;
        for (i, bot) in bots.iter_mut().enumerate() {
            if let Some(line) = ledger.line(i) {
                bot.stdin.write_all(&line).unwrap();
            }
        }
        ledger.written();
        run_until(&mut bots, &mut ledger, deadline, false);
        ledger.end_turn();
    }
    run_until(&mut bots, &mut ledger, Instant::now() + frame::DRAIN, true);
    ledger.finish()
}

/// The plain limits: lines with a bare read loop and memchr; throughput
/// of a pipe between two threads, no child.
pub fn run_plain(scenario: &Scenario) -> Metrics {
    match scenario {
        Scenario::Lines { n } => plain_lines(*n),
        Scenario::Throughput { bytes } => plain_pipe(*bytes),
        _ => unreachable!(),
    }
}

fn plain_lines(n: usize) -> Metrics {
    let (want_lines, want_bytes) = seq_shape(n);
    let timer = Timer::start();
    let mut child = Command::new("seq").arg("1").arg(n.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; CHUNK];
    let (mut lines, mut bytes) = (0, 0);
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
        bytes += n;
    }
    let elapsed = timer.elapsed();
    assert!(child.wait().unwrap().success());
    assert_eq!((lines, bytes), (want_lines, want_bytes));
    Metrics::mlines(lines, elapsed)
}

fn plain_pipe(total: usize) -> Metrics {
    let (reader, writer) = std::io::pipe().unwrap();
    Metrics::gbps(total, pump(total, writer, reader))
}
