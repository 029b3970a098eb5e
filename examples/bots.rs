//! A round-based game server: K bot processes get each turn's state and must
//! answer within a deadline the loop enforces with a timer. A late, wrong or
//! dead bot forfeits the turn; a crashing bot is restarted by its app's
//! restart policy. A results table at the end.
//!
//! ```text
//! cargo run --example bots -- [turns] [deadline-ms]
//! ```
//!
//! The bots are small shell scripts written to a temporary folder: each
//! reads `turn T A B` and must answer `T A+B`.

use std::collections::BTreeMap;
use std::time::Duration;

use procloop::{App, Buffering, Event, Restart, Runner, Start, Stderr};

const BOTS: &[(&str, &str)] = &[
    ("quick", r#"while read w t a b; do echo "$t $((a + b))"; done"#),
    ("sloppy", r#"while read w t a b; do [ $((t % 3)) = 0 ] && b=$((b + 1)); echo "$t $((a + b))"; done"#),
    // Late on even turns: it sleeps half again the deadline (SLOW is replaced).
    ("slow", r#"while read w t a b; do [ $((t % 2)) = 0 ] && sleep SLOW; echo "$t $((a + b))"; done"#),
    ("crashy", r#"while read w t a b; do [ "$t" = 3 ] && exit 1; echo "$t $((a + b))"; done"#),
    ("silent", r#"while read line; do :; done"#),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let turns: u32 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(8);
    let deadline_ms: u64 = std::env::args().nth(2).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let deadline = Duration::from_millis(deadline_ms);
    let dir = std::env::temp_dir().join(format!("procloop-bots-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut runner = Runner::new()?;
    for (name, script) in BOTS {
        let path = dir.join(format!("{name}.sh"));
        let script = script.replace("SLOW", &format!("{:.3}", deadline.as_secs_f64() * 1.5));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n"))?;
        let app = App::new(format!("sh {}", path.display()))
            .buffering(Buffering::Line)
            .stderr(Stderr::Null)
            .restart(Restart::OnFailure)
            .backoff(Duration::from_millis(10), Duration::from_millis(100))
            .max_restarts(3, Duration::from_secs(60));
        runner.add(*name, app);
        runner.start_with(name, Start::new())?;
    }
    let mut scores: BTreeMap<&str, (u32, u32, u32)> = BOTS.iter().map(|(n, _)| (*n, (0, 0, 0))).collect();
    for turn in 1..=turns {
        let (a, b) = (turn * 7 % 13, turn * 5 % 11);
        let answers = play_turn(&mut runner, turn, a, b, deadline)?;
        for (name, _) in BOTS {
            let entry = scores.get_mut(name).unwrap();
            match answers.get(name) {
                Some(answer) if *answer == a + b => entry.0 += 1,
                Some(_) => entry.1 += 1,
                None => entry.2 += 1,
            }
        }
    }
    println!("\n| bot    | right | wrong | forfeited |\n|--------|-------|-------|-----------|");
    for (name, (right, wrong, forfeited)) in &scores {
        println!("| {name:<6} | {right:>5} | {wrong:>5} | {forfeited:>9} |");
    }
    drop(runner);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// One turn: send the state to every bot, collect answers until all came
/// or the deadline's timer fires.
fn play_turn(
    runner: &mut Runner,
    turn: u32,
    a: u32,
    b: u32,
    deadline: Duration,
) -> procloop::Result<BTreeMap<&'static str, u32>> {
    let state = format!("turn {turn} {a} {b}\n");
    for (name, _) in BOTS {
        if let Some(channel) = runner.get_channel(name) {
            // A bot that is down or not reading forfeits; the game goes on.
            let _ = channel.write(state.as_bytes());
        }
    }
    let deadline = runner.set_timer(deadline);
    let mut answers = BTreeMap::new();
    let mut over = false;
    while !over && answers.len() < BOTS.len() {
        runner.poll_once(None, |_, event| match event {
            Event::Data { alias, data } => {
                let text = String::from_utf8_lossy(data);
                let mut words = text.split_whitespace().map(|w| w.parse::<u32>().ok());
                if let (Some(Some(t)), Some(Some(answer))) = (words.next(), words.next()) {
                    let name = BOTS.iter().map(|(n, _)| *n).find(|n| *n == alias).expect("our bot");
                    // A late answer to an earlier turn is ignored.
                    if t == turn {
                        answers.insert(name, answer);
                    }
                }
            }
            Event::Timer { id } if id == deadline => over = true,
            Event::Exited { alias, status } => println!("turn {turn}: {alias} exited ({status})"),
            Event::Restarted { alias, .. } => println!("turn {turn}: {alias} restarted"),
            Event::GaveUp { alias, .. } => println!("turn {turn}: {alias} gave up"),
            _ => {}
        })?;
    }
    runner.cancel_timer(deadline);
    println!("turn {turn}: {} of {} answered in time", answers.len(), BOTS.len());
    Ok(answers)
}
