//! Turns of a bot loop: replies, time-outs, exits, the overage bank, CPU
//! charging, freezing between turns, and bad turns refused whole.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Buffering, Charge, Error, Event, Outcome, Runner, Start, Turn, TurnId, TurnReport};
use util::*;

/// What a turn gave: each reply's (alias, data) and the report.
struct Played {
    replies: Vec<(String, Vec<u8>)>,
    data: Vec<(String, Vec<u8>)>,
    report: TurnReport,
}

fn play(runner: &mut Runner, turn: TurnId) -> Played {
    let deadline = Instant::now() + DEADLINE;
    let (mut replies, mut data, mut report) = (Vec::new(), Vec::new(), None);
    while report.is_none() {
        assert!(Instant::now() < deadline, "the turn never ended; replies {replies:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Reply { turn: t, alias, data: d, .. } if t == turn => {
                    replies.push((alias.into(), d.to_vec()))
                }
                Event::Data { alias, data: d } => data.push((alias.into(), d.to_vec())),
                Event::TurnEnded { turn: t, report: r } if t == turn => report = Some(r.clone()),
                _ => {}
            })
            .unwrap();
    }
    Played { replies, data, report: report.unwrap() }
}

fn bots(command: &str, aliases: &[&str]) -> Runner {
    let mut runner = runner_with("bot", App::new(command).buffering(Buffering::Line));
    for alias in aliases {
        runner.start_with("bot", Start::new().alias(*alias)).unwrap();
    }
    runner
}

fn replied(outcome: Option<Outcome>) -> bool {
    matches!(outcome, Some(Outcome::Replied { .. }))
}

#[test]
fn echo_bots_all_reply_with_their_own_data() {
    let mut runner = bots("cat", &["a", "b", "c"]);
    let turn = Turn::new(Duration::from_secs(10)).bot("a", "1\n").bot("b", "2\n").bot("c", "3\n");
    let id = runner.begin_turn(turn).unwrap();
    let mut played = play(&mut runner, id);
    played.replies.sort();
    assert_eq!(
        played.replies,
        [("a".into(), b"1\n".to_vec()), ("b".into(), b"2\n".to_vec()), ("c".into(), b"3\n".to_vec())]
    );
    assert!(played.report.iter().all(|(_, o)| replied(Some(o))), "{:?}", played.report);
}

#[test]
fn a_silent_bot_times_out_while_the_others_reply() {
    let mut runner = bots("cat", &["talker"]);
    runner.add("mute", App::new("sleep 60").buffering(Buffering::Line));
    runner.start("mute").unwrap();
    // The mute bot times out whatever the turn's length; 2 s leaves the
    // talker's echo room on a loaded machine.
    let id = runner
        .begin_turn(Turn::new(Duration::from_secs(2)).bot("talker", "hi\n").bot("mute", "hi\n"))
        .unwrap();
    let played = play(&mut runner, id);
    assert!(replied(played.report.outcome("talker")));
    assert_eq!(played.report.outcome("mute"), Some(Outcome::TimedOut));
    assert_eq!(runner.overage_left("mute").unwrap(), Duration::ZERO);
}

#[test]
fn the_bank_shrinks_by_the_overage_and_an_empty_bank_times_out() {
    let script = "while read line; do sleep \"$line\"; echo done; done";
    let app =
        App::new(format!("sh -c '{script}'")).buffering(Buffering::Line).overage(Duration::from_secs(3));
    let mut runner = runner_with("slow", app);
    runner.start("slow").unwrap();
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::from_secs(3));
    let base = Duration::from_millis(50);
    let id = runner.begin_turn(Turn::new(base).bot("slow", "0.3\n")).unwrap();
    let played = play(&mut runner, id);
    let Some(Outcome::Replied { elapsed, .. }) = played.report.outcome("slow") else {
        panic!("{:?}", played.report)
    };
    assert!(elapsed > base, "it went over");
    let left = runner.overage_left("slow").unwrap();
    assert_eq!(left, Duration::from_secs(3) - (elapsed - base), "the bank pays for the overage");
    let id = runner.begin_turn(Turn::new(base).bot("slow", "60\n")).unwrap();
    let played = play(&mut runner, id);
    assert_eq!(played.report.outcome("slow"), Some(Outcome::TimedOut));
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::ZERO);
}

#[test]
fn a_bot_that_exits_mid_turn_is_exited() {
    let mut runner = bots("cat", &["stays"]);
    runner.add("quitter", App::new("sh -c 'read line; exit 3'").buffering(Buffering::Line));
    runner.start("quitter").unwrap();
    let id = runner
        .begin_turn(Turn::new(Duration::from_secs(10)).bot("stays", "x\n").bot("quitter", "x\n"))
        .unwrap();
    let played = play(&mut runner, id);
    assert_eq!(played.report.outcome("quitter"), Some(Outcome::Exited));
    assert!(replied(played.report.outcome("stays")));
}

#[test]
fn a_sleeping_bot_replies_in_cpu_time_past_a_wall_deadline() {
    let mut runner = bots("sh -c 'read line; sleep 0.5; echo late but idle'", &["sleeper"]);
    let turn = Turn::new(Duration::from_millis(100)).bot("sleeper", "go\n").charge(Charge::Cpu);
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    let Some(Outcome::Replied { elapsed, cpu }) = played.report.outcome("sleeper") else {
        panic!("{:?}", played.report)
    };
    assert_eq!(Some(elapsed), cpu, "under Cpu the time charged is CPU time");
    assert_eq!(played.replies, [("sleeper".into(), b"late but idle\n".to_vec())]);
}

#[test]
fn a_second_line_in_the_same_turn_is_data() {
    let mut runner = bots("sh -c 'read line; echo first; echo second; sleep 60'", &["chatty"]);
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("chatty", "go\n")).unwrap();
    let mut played = play(&mut runner, id);
    assert_eq!(played.replies, [("chatty".into(), b"first\n".to_vec())]);
    let deadline = Instant::now() + DEADLINE;
    while played.data.is_empty() {
        assert!(Instant::now() < deadline);
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, e| {
                if let Event::Data { alias, data } = e {
                    played.data.push((alias.into(), data.to_vec()));
                }
            })
            .unwrap();
    }
    assert_eq!(played.data, [("chatty".into(), b"second\n".to_vec())]);
}

#[test]
fn a_spinner_frozen_between_turns_gains_no_cpu() {
    let spin = "python3 -c 'import sys\nsys.stdin.readline()\nprint(\"ok\", flush=True)\nwhile True: pass'";
    let mut runner = bots(spin, &["spinner"]);
    let turn = Turn::new(Duration::from_secs(10)).bot("spinner", "go\n").freeze_between(true);
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    assert!(replied(played.report.outcome("spinner")));
    // Frozen: its CPU clock stands still while the loop runs on.
    let before = runner.cpu_time("spinner").unwrap();
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        runner.poll_once(Some(Duration::from_millis(50)), |_, _| {}).unwrap();
    }
    let frozen_for = runner.cpu_time("spinner").unwrap() - before;
    assert!(frozen_for < Duration::from_millis(20), "it ran {frozen_for:?} while frozen");
    // A later turn thaws it; a frozen bot can still be terminated.
    let id = runner.begin_turn(Turn::new(Duration::from_millis(100)).bot("spinner", "again\n")).unwrap();
    play(&mut runner, id);
    runner.terminate("spinner").unwrap();
}

#[test]
fn bad_turns_are_refused_whole_and_write_nothing() {
    let mut runner = bots("cat", &["a", "b"]);
    let cases: Vec<(Turn, &str)> = vec![
        (Turn::new(Duration::from_secs(1)), "names no bot"),
        (Turn::new(Duration::ZERO).bot("a", "bad\n"), "0 s"),
        (
            Turn::new(Duration::from_secs(1)).bot("a", "bad\n").bot("b", "bad\n").bot("a", "bad\n"),
            "named twice",
        ),
        (Turn::new(Duration::from_secs(1)).bot("a", "bad\n").bot("nobody", "bad\n"), "nobody"),
    ];
    for (turn, names) in cases {
        let err = runner.begin_turn(turn).unwrap_err();
        assert!(err.to_string().contains(names), "{err} should name {names:?}");
    }
    let first = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("a", "good\n")).unwrap();
    let err = runner
        .begin_turn(Turn::new(Duration::from_secs(10)).bot("b", "bad\n").bot("a", "bad\n"))
        .unwrap_err();
    assert!(matches!(&err, Error::TurnInProgress(alias) if alias == "a"), "{err}");
    let played = play(&mut runner, first);
    assert_eq!(played.replies, [("a".into(), b"good\n".to_vec())], "nothing of a refused turn was written");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("b", "good\n")).unwrap();
    assert_eq!(play(&mut runner, id).replies, [("b".into(), b"good\n".to_vec())]);
    assert!(matches!(runner.overage_left("nobody"), Err(Error::NoSuchProcess(_))));
}

#[test]
fn a_reply_prefix_makes_the_earlier_lines_data() {
    let engine = "sh -c 'read line; echo info depth 1; echo info depth 2; echo bestmove e2e4; sleep 60'";
    let mut runner = bots(engine, &["engine"]);
    let turn = Turn::new(Duration::from_secs(10)).bot("engine", "go\n").reply_prefix("bestmove");
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    assert_eq!(played.replies, [("engine".into(), b"bestmove e2e4\n".to_vec())]);
    let info = [("engine".into(), b"info depth 1\n".to_vec()), ("engine".into(), b"info depth 2\n".to_vec())];
    assert_eq!(played.data, info, "the lines before the reply, in order, before the turn ended");
    assert!(replied(played.report.outcome("engine")));
}

#[test]
fn under_a_reply_prefix_the_clock_runs_until_the_matching_line() {
    // It speaks at once, but never the line the turn waits for.
    let mut runner = bots("sh -c 'read line; echo info thinking; sleep 60'", &["engine"]);
    let turn = Turn::new(Duration::from_millis(200)).bot("engine", "go\n").reply_prefix("bestmove");
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    assert!(played.replies.is_empty(), "{:?}", played.replies);
    assert_eq!(played.data, [("engine".into(), b"info thinking\n".to_vec())]);
    assert_eq!(played.report.outcome("engine"), Some(Outcome::TimedOut));
}

#[test]
fn time_put_in_the_bank_lets_a_slow_reply_through() {
    let script = "while read line; do sleep \"$line\"; echo done; done";
    let mut runner = runner_with("slow", App::new(format!("sh -c '{script}'")).buffering(Buffering::Line));
    runner.start("slow").unwrap();
    runner.set_overage("slow", Duration::from_secs(5)).unwrap();
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::from_secs(5));
    let base = Duration::from_millis(50);
    let id = runner.begin_turn(Turn::new(base).bot("slow", "0.3\n")).unwrap();
    let played = play(&mut runner, id);
    let Some(Outcome::Replied { elapsed, .. }) = played.report.outcome("slow") else {
        panic!("without the time put in it would have timed out: {:?}", played.report)
    };
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::from_secs(5) - (elapsed - base));
    runner.set_overage("slow", Duration::ZERO).unwrap();
    let id = runner.begin_turn(Turn::new(base).bot("slow", "0.3\n")).unwrap();
    assert_eq!(play(&mut runner, id).report.outcome("slow"), Some(Outcome::TimedOut), "an emptied bank");
    assert!(matches!(runner.set_overage("nobody", base), Err(Error::NoSuchProcess(_))));
}

#[test]
fn many_bots_each_get_their_own_reply_and_the_report_keeps_their_order() {
    let aliases: Vec<String> = (0..40).map(|i| format!("bot{i}")).collect();
    let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let mut runner = bots("cat", &names);
    // Backwards, so that the report's order is the turn's, not the starts'.
    let mut turn = Turn::new(Duration::from_secs(10));
    for alias in names.iter().rev() {
        turn = turn.bot(alias, format!("{alias} moves\n"));
    }
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    assert_eq!(played.replies.len(), names.len());
    for (alias, data) in &played.replies {
        assert_eq!(data, format!("{alias} moves\n").as_bytes(), "{alias} got another bot's reply");
    }
    let order: Vec<&str> = played.report.iter().map(|(alias, _)| alias).collect();
    assert_eq!(order, names.iter().rev().copied().collect::<Vec<_>>());
    assert!(played.report.iter().all(|(_, o)| replied(Some(o))), "{:?}", played.report);
    assert_eq!(runner.next_deadline(), None, "the ended turn left a timer armed");
}

#[test]
fn under_wall_charge_no_cpu_time_is_read() {
    let mut runner = bots("cat", &["a"]);
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("a", "x\n")).unwrap();
    let Some(Outcome::Replied { cpu, .. }) = play(&mut runner, id).report.outcome("a") else { panic!() };
    assert_eq!(cpu, None, "Charge::Wall reads no CPU clock");
    let turn = Turn::new(Duration::from_secs(10)).bot("a", "x\n").charge(Charge::Cpu);
    let id = runner.begin_turn(turn).unwrap();
    let Some(Outcome::Replied { cpu, .. }) = play(&mut runner, id).report.outcome("a") else { panic!() };
    assert!(cpu.is_some(), "Charge::Cpu reads it");
}

#[test]
fn bots_with_different_banks_each_keep_their_own_deadline() {
    let mut runner = bots("sleep 60", &["mute"]);
    let slow = "sh -c 'read line; sleep 0.3; echo done; sleep 60'";
    runner.add("slow", App::new(slow).buffering(Buffering::Line).overage(Duration::from_secs(5)));
    runner.start("slow").unwrap();
    runner.add(
        "banked mute",
        App::new("sleep 60").buffering(Buffering::Line).overage(Duration::from_millis(200)),
    );
    runner.start("banked mute").unwrap();
    let base = Duration::from_millis(50);
    let turn = Turn::new(base).bot("mute", "go\n").bot("slow", "go\n").bot("banked mute", "go\n");
    let id = runner.begin_turn(turn).unwrap();
    let played = play(&mut runner, id);
    assert_eq!(
        played.replies,
        [("slow".into(), b"done\n".to_vec())],
        "the first deadline did not end the turn"
    );
    assert_eq!(played.report.outcome("mute"), Some(Outcome::TimedOut));
    assert_eq!(played.report.outcome("banked mute"), Some(Outcome::TimedOut));
    let Some(Outcome::Replied { elapsed, .. }) = played.report.outcome("slow") else { panic!() };
    assert!(elapsed > base);
    assert_eq!(runner.overage_left("banked mute").unwrap(), Duration::ZERO);
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::from_secs(5) - (elapsed - base));
}

#[test]
fn a_spinner_under_cpu_charge_times_out() {
    let spin = "python3 -c 'import sys\nsys.stdin.readline()\nwhile True: pass'";
    let mut runner = bots(spin, &["spinner"]);
    let turn = Turn::new(Duration::from_millis(100)).bot("spinner", "go\n").charge(Charge::Cpu);
    let id = runner.begin_turn(turn).unwrap();
    assert_eq!(play(&mut runner, id).report.outcome("spinner"), Some(Outcome::TimedOut));
    runner.terminate("spinner").unwrap();
}

#[test]
fn a_bot_that_already_ended_is_exited_at_once() {
    let mut runner = bots("cat", &["alive"]);
    start_and_see_exit(&mut runner, "gone", App::new("true").buffering(Buffering::Line));
    let id =
        runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "x\n").bot("alive", "x\n")).unwrap();
    let played = play(&mut runner, id);
    assert_eq!(played.report.outcome("gone"), Some(Outcome::Exited));
    assert!(replied(played.report.outcome("alive")));
}
