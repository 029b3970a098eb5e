//! Turns under the cases a review of issue 21's rewrite hunted for: turns
//! that overlap over different bots, bots that exit, are stopped or
//! terminated mid-turn, a turn of bots all gone, freezing between turns with
//! a bot left out of the next one, and CPU charging of a bot that first
//! sleeps then spins.

mod util;

use std::time::{Duration, Instant};

use procloop::{App, Buffering, Charge, Event, Outcome, Runner, Start, Turn, TurnId, TurnReport};
use util::*;

/// Polls until every turn of `ids` has ended; the reports, in `ids`' order,
/// and the order in which the turns ended.
fn play_all(runner: &mut Runner, ids: &[TurnId]) -> (Vec<TurnReport>, Vec<TurnId>) {
    let deadline = Instant::now() + DEADLINE;
    let mut ended: Vec<(TurnId, TurnReport)> = Vec::new();
    while ended.len() < ids.len() {
        assert!(Instant::now() < deadline, "turns never ended; ended so far {ended:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| {
                if let Event::TurnEnded { turn, report } = event {
                    assert!(ended.iter().all(|(t, _)| *t != turn), "{turn:?} ended twice");
                    ended.push((turn, report.clone()));
                }
            })
            .unwrap();
    }
    let order = ended.iter().map(|(t, _)| *t).collect();
    let reports = ids.iter().map(|id| ended.iter().find(|(t, _)| t == id).unwrap().1.clone()).collect();
    (reports, order)
}

fn line_app(command: &str) -> App {
    App::new(command).buffering(Buffering::Line)
}

fn start(runner: &mut Runner, app: &str, alias: &str) {
    runner.start_with(app, Start::new().alias(alias)).unwrap();
}

fn replied(outcome: Option<Outcome>) -> bool {
    matches!(outcome, Some(Outcome::Replied { .. }))
}

/// A short turn that ends while a long one runs, and a third that takes
/// the ended one's place: each keeps its own deadline and its own bots.
#[test]
fn overlapping_turns_over_different_bots_each_keep_their_own_deadline() {
    let mut runner = runner_with("slow", line_app("sh -c 'read line; sleep 0.8; echo slow done; sleep 60'"));
    runner.start("slow").unwrap();
    runner.add("mute", line_app("sleep 60"));
    start(&mut runner, "mute", "mute");
    runner.add("cat", line_app("cat"));
    start(&mut runner, "cat", "cat");
    let long = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("slow", "go\n")).unwrap();
    let short = runner.begin_turn(Turn::new(Duration::from_millis(100)).bot("mute", "go\n")).unwrap();
    let (reports, order) = play_all(&mut runner, &[short]);
    assert_eq!(order, [short]);
    assert_eq!(reports[0].outcome("mute"), Some(Outcome::TimedOut));
    assert_eq!(reports[0].outcome("slow"), None, "a bot of another turn");
    // The short turn's place is free again: a third turn takes it while
    // the long one still runs.
    let third = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("cat", "hi\n")).unwrap();
    let (reports, _) = play_all(&mut runner, &[long, third]);
    assert!(replied(reports[0].outcome("slow")), "{:?}", reports[0]);
    assert!(replied(reports[1].outcome("cat")), "{:?}", reports[1]);
    assert_eq!(runner.next_deadline(), None, "an ended turn left its timer armed");
}

/// A bot that replies and then exits keeps its reply; its exit changes
/// nothing, and the other bot's turn goes on.
#[test]
fn a_bot_that_replies_then_exits_keeps_its_reply() {
    let mut runner = runner_with("once", line_app("sh -c 'read line; echo bye; exit 4'"));
    runner.start("once").unwrap();
    runner.add("later", line_app("sh -c 'read line; sleep 0.5; echo late; sleep 60'"));
    runner.start("later").unwrap();
    let id = runner
        .begin_turn(Turn::new(Duration::from_secs(10)).bot("once", "go\n").bot("later", "go\n"))
        .unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert!(replied(reports[0].outcome("once")), "{:?}", reports[0]);
    assert!(replied(reports[0].outcome("later")), "{:?}", reports[0]);
}

/// A bot stopped mid-turn is Exited once its exit comes, and the same
/// alias started again takes part in the next turn.
#[test]
fn a_bot_stopped_mid_turn_is_exited_and_restarted_plays_again() {
    let mut runner =
        runner_with("bot", line_app("sh -c 'while read line; do sleep 0.2; echo \"$line\"; done'"));
    start(&mut runner, "bot", "stopped");
    start(&mut runner, "bot", "other");
    let turn = Turn::new(Duration::from_secs(10)).bot("stopped", "a\n").bot("other", "b\n");
    let id = runner.begin_turn(turn).unwrap();
    runner.stop("stopped").unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert_eq!(reports[0].outcome("stopped"), Some(Outcome::Exited));
    assert!(replied(reports[0].outcome("other")), "{:?}", reports[0]);
    runner.terminate("stopped").unwrap();
    start(&mut runner, "bot", "stopped");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("stopped", "c\n")).unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert!(replied(reports[0].outcome("stopped")), "{:?}", reports[0]);
}

/// A bot terminated mid-turn is Exited at once; its turn ends when the
/// others have replied, and a new run of the alias is a new bot.
#[test]
fn a_bot_terminated_mid_turn_is_exited_and_the_turn_goes_on() {
    let mut runner =
        runner_with("bot", line_app("sh -c 'while read line; do sleep 0.3; echo \"$line\"; done'"));
    start(&mut runner, "bot", "gone");
    start(&mut runner, "bot", "stays");
    let turn = Turn::new(Duration::from_secs(10)).bot("gone", "a\n").bot("stays", "b\n");
    let id = runner.begin_turn(turn).unwrap();
    runner.terminate("gone").unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert_eq!(reports[0].outcome("gone"), Some(Outcome::Exited));
    assert!(replied(reports[0].outcome("stays")), "{:?}", reports[0]);
    start(&mut runner, "bot", "gone");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "c\n")).unwrap();
    assert!(replied(play_all(&mut runner, &[id]).0[0].outcome("gone")));
}

/// A turn whose every bot ended before it began ends at once: `begin_turn`
/// returns its id, and the next poll hands its report without waiting.
#[test]
fn a_turn_of_bots_that_all_ended_ends_at_once() {
    let mut runner = runner_with("gone", line_app("true"));
    start(&mut runner, "gone", "g1");
    start(&mut runner, "gone", "g2");
    wait_for("both exits handed", || {
        runner.poll_once(Some(Duration::from_millis(50)), |_, _| {}).unwrap();
        runner.exit_status("g1").is_some() && runner.exit_status("g2").is_some()
    });
    let id = runner.begin_turn(Turn::new(Duration::from_secs(30)).bot("g1", "x\n").bot("g2", "x\n")).unwrap();
    let next = runner.next_deadline().expect("the report waits");
    assert!(next <= Instant::now(), "the report is due now, not at a deadline");
    let mut report = None;
    runner
        .poll_once(Some(Duration::from_secs(30)), |_, e| {
            if let Event::TurnEnded { turn, report: r } = e {
                assert_eq!(turn, id);
                report = Some(r.clone());
            }
        })
        .unwrap();
    let report = report.expect("the report on the first poll");
    assert!(report.iter().all(|(_, o)| o == Outcome::Exited), "{report:?}");
    assert_eq!(runner.next_deadline(), None, "no timer left for the ended turn");
    // Both are free for the next turn.
    let again = runner.begin_turn(Turn::new(Duration::from_secs(1)).bot("g1", "x\n").bot("g2", "x\n"));
    assert!(again.is_ok(), "{again:?}");
}

/// With freeze_between, a bot left out of the next turn stays frozen
/// while the one in it is thawed and replies.
#[test]
fn the_next_turn_thaws_its_own_bots_only() {
    let mut runner = runner_with("bot", line_app("cat"));
    start(&mut runner, "bot", "in");
    start(&mut runner, "bot", "out");
    let first = Turn::new(Duration::from_secs(10)).bot("in", "1\n").bot("out", "1\n").freeze_between(true);
    let id = runner.begin_turn(first).unwrap();
    play_all(&mut runner, &[id]);
    let (pin, pout) = (runner.pid("in").unwrap(), runner.pid("out").unwrap());
    wait_for("both stopped", || pid_state(pin) == Some('T') && pid_state(pout) == Some('T'));
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("in", "2\n")).unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert!(replied(reports[0].outcome("in")), "{:?}", reports[0]);
    assert_ne!(pid_state(pin), Some('T'), "the bot of the new turn runs");
    assert_eq!(pid_state(pout), Some('T'), "the bot left out stays frozen");
    // It is thawed by the turn that next names it, frozen or not by that turn.
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("out", "3\n")).unwrap();
    assert!(replied(play_all(&mut runner, &[id]).0[0].outcome("out")));
    runner.terminate("in").unwrap();
    runner.terminate("out").unwrap();
}

/// Under Charge::Cpu a bot that sleeps past its deadline in wall time and
/// then spins is timed out once its CPU time runs out, not at the wall
/// deadline; on a machine too loaded to give it that CPU time, at the
/// backstop (ten deadlines of wall time).
#[test]
fn a_bot_that_sleeps_then_spins_times_out_under_cpu_charge() {
    let spin = "python3 -c 'import sys, time\nsys.stdin.readline()\ntime.sleep(0.3)\nwhile True: pass'";
    let mut runner = runner_with("spinner", line_app(spin));
    runner.start("spinner").unwrap();
    let deadline = Duration::from_millis(100);
    let turn = Turn::new(deadline).bot("spinner", "go\n").charge(Charge::Cpu);
    let began = Instant::now();
    let id = runner.begin_turn(turn).unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    let wall = began.elapsed();
    assert_eq!(reports[0].outcome("spinner"), Some(Outcome::TimedOut));
    let used = runner.cpu_time("spinner").unwrap();
    assert!(wall >= Duration::from_millis(300), "timed out while it slept, after {wall:?}");
    assert!(
        used >= deadline || wall >= deadline * 10,
        "timed out after only {used:?} of CPU time and {wall:?} of wall time"
    );
    runner.terminate("spinner").unwrap();
}

/// Under Charge::Cpu the wall backstop is ten times all a bot may use
/// (deadline and bank): a bot that waits past both in wall time, and past
/// ten bare deadlines, using almost no CPU, still replies in time.
#[test]
fn the_cpu_backstop_counts_the_bank() {
    let app = line_app("sh -c 'read line; sleep 1.3; echo done'").overage(Duration::from_secs(1));
    let mut runner = runner_with("waiter", app);
    runner.start("waiter").unwrap();
    let deadline = Duration::from_millis(50);
    let turn = Turn::new(deadline).bot("waiter", "go\n").charge(Charge::Cpu);
    let began = Instant::now();
    let id = runner.begin_turn(turn).unwrap();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert!(began.elapsed() > deadline + Duration::from_secs(1), "it waited past deadline and bank");
    assert!(replied(reports[0].outcome("waiter")), "{:?}", reports[0]);
    runner.terminate("waiter").unwrap();
}

/// A bank used up to zero by one turn leaves the next turn its base
/// deadline only; a reply within it keeps the bank at zero.
#[test]
fn an_emptied_bank_leaves_the_base_deadline() {
    let app = line_app("sh -c 'while read line; do sleep \"$line\"; echo done; done'")
        .overage(Duration::from_millis(1));
    let mut runner = runner_with("slow", app);
    runner.start("slow").unwrap();
    let id = runner.begin_turn(Turn::new(Duration::from_millis(50)).bot("slow", "0.4\n")).unwrap();
    assert_eq!(play_all(&mut runner, &[id]).0[0].outcome("slow"), Some(Outcome::TimedOut));
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::ZERO);
    // Its late "done" of the last turn must not count for this one: drain it.
    let got = run_until(&mut runner, |g| g.iter().any(|e| matches!(e, Got::Data(_, d) if d == b"done\n")));
    assert!(!got.is_empty());
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("slow", "0\n")).unwrap();
    assert!(replied(play_all(&mut runner, &[id]).0[0].outcome("slow")));
    assert_eq!(runner.overage_left("slow").unwrap(), Duration::ZERO);
}

/// A bot's lines read before a turn's payload was written are not that
/// turn's reply: a handler that begins the next turn on a reply, while the
/// bot's extra line of the last turn waits in the same batch, gets that
/// line as `Data` and the next turn's own answer as its `Reply`.
#[test]
fn a_line_read_before_the_turn_began_is_not_its_reply() {
    // Its answer and the extra line in one write, so in one batch.
    let bot =
        "python3 -c 'import os, sys\nfor line in sys.stdin: os.write(1, line.encode() + b\"extra\\n\")'";
    let mut runner = runner_with("bot", line_app(bot));
    runner.start("bot").unwrap();
    let first = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("bot", "one\n")).unwrap();
    let mut second = None;
    let mut replies: Vec<(TurnId, Vec<u8>)> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while replies.len() < 2 {
        assert!(Instant::now() < deadline, "replies so far {replies:?}");
        runner
            .poll_once(Some(Duration::from_millis(200)), |runner, event| {
                if let Event::Reply { turn, data, .. } = event {
                    replies.push((turn, data.to_vec()));
                    if turn == first {
                        let turn = Turn::new(Duration::from_secs(10)).bot("bot", "two\n");
                        second = Some(runner.begin_turn(turn).unwrap());
                    }
                }
            })
            .unwrap();
    }
    assert_eq!(replies, [(first, b"one\n".to_vec()), (second.unwrap(), b"two\n".to_vec())]);
    runner.terminate("bot").unwrap();
}

/// A partial line the bot printed before the turn (a prompt) ends with
/// its answer: that line is still the reply.
#[test]
fn a_prompt_printed_before_the_turn_is_part_of_the_reply() {
    let mut runner = runner_with("bot", line_app("sh -c 'printf \"> \"; read line; echo move; sleep 60'"));
    runner.start("bot").unwrap();
    wait_for("the prompt buffered", || {
        runner.poll_once(Some(Duration::from_millis(50)), |_, e| panic!("{e:?}")).unwrap();
        runner.get_channel("bot").unwrap().buffered() == 2
    });
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("bot", "go\n")).unwrap();
    let mut reply = None;
    let mut report = None;
    let deadline = Instant::now() + DEADLINE;
    while report.is_none() {
        assert!(Instant::now() < deadline);
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, e| match e {
                Event::Reply { data, .. } => reply = Some(data.to_vec()),
                Event::TurnEnded { report: r, .. } => report = Some(r.clone()),
                _ => {}
            })
            .unwrap();
    }
    assert_eq!(reply.as_deref(), Some(&b"> move\n"[..]));
    assert!(replied(report.unwrap().outcome("bot")));
    let _ = id;
    runner.terminate("bot").unwrap();
}

/// terminate_all in the middle of a turn: its bots are Exited and the turn
/// ends with its report, and the aliases started again play the next turn.
#[test]
fn terminate_all_mid_turn_ends_the_turn_and_frees_its_bots() {
    let mut runner = runner_with("bot", line_app("sh -c 'read line; sleep 60'"));
    start(&mut runner, "bot", "a");
    start(&mut runner, "bot", "b");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(30)).bot("a", "x\n").bot("b", "x\n")).unwrap();
    runner.terminate_all();
    let (reports, _) = play_all(&mut runner, &[id]);
    assert!(reports[0].iter().all(|(_, o)| o == Outcome::Exited), "{:?}", reports[0]);
    runner.add("cat", line_app("cat"));
    start(&mut runner, "cat", "a");
    let id = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("a", "y\n"));
    let id = id.expect("a bot of a turn that terminate_all ended is free");
    assert!(replied(play_all(&mut runner, &[id]).0[0].outcome("a")));
}

/// An alias freed by terminate mid-turn is free: a new run under it plays
/// a turn of its own while the old turn still waits for its other bot,
/// and the old turn's end leaves the new one be.
#[test]
fn an_alias_terminated_mid_turn_plays_again_before_that_turn_ends() {
    let mut runner = runner_with("bot", line_app("sh -c 'read line; sleep 0.8; echo slow; sleep 60'"));
    start(&mut runner, "bot", "gone");
    start(&mut runner, "bot", "slow");
    let old =
        runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "a\n").bot("slow", "b\n")).unwrap();
    runner.terminate("gone").unwrap();
    runner.add("cat", line_app("sh -c 'read line; sleep 1.5; echo \"$line\"; sleep 60'"));
    start(&mut runner, "cat", "gone");
    let new = runner.begin_turn(Turn::new(Duration::from_secs(10)).bot("gone", "c\n"));
    let new = new.expect("the freed alias is in no turn");
    // The old turn ends first (its bot sleeps less, and began first).
    let (reports, _) = play_all(&mut runner, &[old, new]);
    assert_eq!(reports[0].outcome("gone"), Some(Outcome::Exited));
    assert!(replied(reports[0].outcome("slow")), "{:?}", reports[0]);
    assert!(
        replied(reports[1].outcome("gone")),
        "the old turn's end took the new one's bot: {:?}",
        reports[1]
    );
}
