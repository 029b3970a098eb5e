//! The tournament as turns: each pair of engines (a slot) is started a
//! few slots at a time (uci, then isready: start.rs), readied for each game
//! (ucinewgame, isready), then asked for each move (position, go) as a
//! turn of one engine whose reply is its `bestmove` line.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use procloop::{Buffering, Charge, Event, Outcome, Runner, Turn, TurnId, TurnReport};

use crate::answers::Answers;
use crate::game::{Game, Termination};
use crate::options::Options;
use crate::score::Score;

// A child module: it sees the tournament's fields.
#[path = "start.rs"]
mod start;

/// Time a move has without a clock (`--nodes` alone).
const MOVE_LIMIT: Duration = Duration::from_secs(10);
/// The shortest turn deadline: a clock with no increment.
const LEAST_DEADLINE: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Not started yet: waits for its turn to start.
    Queued,
    Uci,
    Ready,
    NewGame,
    /// This engine (0 or 1) did not get ready and was stopped: the next
    /// game waits for its exit, then starts it again.
    Ending(usize),
    Move,
    /// No game left for it: its engines were asked to quit.
    Done,
    /// An engine could not be started.
    Failed,
}

struct Slot {
    /// Engine 0's alias and engine 1's.
    aliases: [String; 2],
    step: Step,
    game: Option<Game>,
    /// The move's `bestmove` line, until its turn's report.
    bestmove: Vec<u8>,
    /// Whether it counts among the slots starting at once.
    starting: bool,
    answers: Answers,
    /// The engine that said a `bestmove` it was not asked for in this
    /// game: it loses when the turn under way ends.
    breach: Option<usize>,
}

pub struct Tournament {
    opts: Options,
    slots: Vec<Slot>,
    turns: HashMap<TurnId, usize>,
    queued: VecDeque<usize>,
    starting: usize,
    rounds_given: usize,
    /// Engines in an unfinished turn.
    busy: usize,
    /// Turns ended so far, for `crate::pacing`.
    pub turns_ended: u64,
    pub score: Score,
    /// Written a game at a time, unbuffered: a run ended early keeps
    /// every game it finished.
    pgn: Option<std::fs::File>,
    date: String,
    time_control: String,
    /// The first error that stopped a slot, or the PGN file's.
    pub errors: Vec<String>,
    /// The signal that ended the tournament early, if one did.
    pub interrupted: Option<i32>,
    /// This machine's cores, for `start_limit`.
    cores: usize,
}

impl Tournament {
    /// `Err` names a PGN file that cannot be made.
    pub fn new(opts: Options, date: String) -> Result<Tournament, String> {
        let pgn = match &opts.pgn {
            // Appended to, as chess tools do: an earlier run's games stay.
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("--pgn {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let time_control = match opts.tc {
            Some(tc) => format!("{}+{}", tc.base.as_secs_f64(), tc.increment.as_secs_f64()),
            None => "-".into(),
        };
        let slots = (0..opts.concurrency.min(opts.games))
            .map(|i| Slot {
                aliases: [format!("a{i}"), format!("b{i}")],
                step: Step::Queued,
                game: None,
                bestmove: Vec::new(),
                starting: false,
                answers: Answers::default(),
                breach: None,
            })
            .collect::<Vec<_>>();
        let queued = (0..slots.len()).collect();
        let score = Score::new(&opts.engines);
        Ok(Tournament {
            opts,
            slots,
            turns: HashMap::new(),
            queued,
            starting: 0,
            rounds_given: 0,
            busy: 0,
            turns_ended: 0,
            score,
            pgn,
            date,
            time_control,
            errors: Vec::new(),
            interrupted: None,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Adds the engines' apps and starts the first slots.
    pub fn begin(&mut self, runner: &mut Runner) {
        for (i, command) in self.opts.engines.iter().enumerate() {
            // A process group of its own: a Ctrl-C at the terminal reaches
            // the harness alone, which ends the engines itself.
            let mut app = procloop::App::new(command.clone()).buffering(Buffering::Line).setpgrp(true);
            if let Some(tc) = self.opts.tc {
                app = app.overage(tc.base);
            }
            runner.add(format!("engine{i}"), app);
        }
        self.start_queued(runner);
    }

    /// Whether the loop may let replies wait (see `crate::pacing`): only
    /// without a clock. A wall clock would charge the wait to the engines,
    /// and even a CPU clock has a wall backstop (ten times what is left),
    /// which a nap could push an engine low on time past.
    pub fn may_nap(&self) -> bool {
        self.opts.tc.is_none()
    }

    /// Engines in an unfinished turn.
    pub fn busy_engines(&self) -> usize {
        self.busy
    }

    /// Whether every slot is done or failed.
    pub fn over(&self) -> bool {
        self.slots.iter().all(|s| matches!(s.step, Step::Done | Step::Failed))
    }

    pub fn on_event(&mut self, runner: &mut Runner, event: Event<'_>) {
        match event {
            Event::Reply { turn, alias, data, .. } => {
                if let Some(slot) = self.turns.get(&turn).map(|&i| &mut self.slots[i])
                    && slot.step == Step::Move
                {
                    slot.bestmove.clear();
                    slot.bestmove.extend_from_slice(data);
                }
                self.count_bestmove(alias, data);
            }
            Event::Data { alias, data } if data.starts_with(b"bestmove") => self.count_bestmove(alias, data),
            Event::Data { alias, data } if data.starts_with(b"id name ") => {
                let name = String::from_utf8_lossy(&data[8..]).trim().to_string();
                self.score.name(alias.starts_with('b') as usize, name);
            }
            // It can never reply again: it is ended, and loses as a crash.
            Event::Closed { alias } => {
                let _ = runner.stop(alias);
            }
            Event::Exited { alias, .. } => {
                let awaited = |s: &Slot| matches!(s.step, Step::Ending(e) if s.aliases[e] == alias);
                if let Some(i) = slot_of(alias).filter(|&i| self.slots.get(i).is_some_and(awaited)) {
                    self.ready_game(runner, i);
                }
            }
            Event::TurnEnded { turn, report } => {
                if let Some(i) = self.turns.remove(&turn) {
                    self.turns_ended += 1;
                    self.busy = self.busy.saturating_sub(report.iter().count());
                    self.turn_ended(runner, i, report);
                }
            }
            _ => {}
        }
    }

    /// Counts a `bestmove` line of engine `alias` (an alias names its
    /// slot: "a3" is engine 0 of slot 3); one too many is a breach.
    fn count_bestmove(&mut self, alias: &str, data: &[u8]) {
        if !data.starts_with(b"bestmove") {
            return;
        }
        let e = alias.starts_with('b') as usize;
        let Some(slot) = slot_of(alias).and_then(|i| self.slots.get_mut(i)) else { return };
        if slot.answers.answered(e) && slot.game.is_some() {
            slot.breach.get_or_insert(e);
        }
    }

    /// Begins `turn` (of `bots` engines) for slot `i`, now at `step`.
    fn begin_turn(&mut self, runner: &mut Runner, i: usize, step: Step, turn: Turn, bots: usize) {
        match runner.begin_turn(turn) {
            Ok(id) => {
                self.turns.insert(id, i);
                self.busy += bots;
                self.slots[i].step = step;
            }
            Err(error) => self.fail(runner, i, format!("slot {i}: {error}")),
        }
    }

    fn turn_ended(&mut self, runner: &mut Runner, i: usize, report: &TurnReport) {
        let all_replied = report.iter().all(|(_, o)| matches!(o, Outcome::Replied { .. }));
        match self.slots[i].step {
            Step::Uci if all_replied => self.uci_answered(runner, i, report),
            Step::Ready if all_replied => self.ready_answered(runner, i),
            Step::Uci | Step::Ready => self.not_started(runner, i, report),
            Step::NewGame => self.new_game_ready(runner, i, report),
            Step::Move => self.moved(runner, i, report),
            Step::Queued | Step::Ending(_) | Step::Done | Step::Failed => {}
        }
    }

    /// Gives the slot its next game (restarting an engine that ended in
    /// the last one), or asks its engines to quit.
    fn ready_game(&mut self, runner: &mut Runner, i: usize) {
        if self.rounds_given == self.opts.games {
            return self.quit(runner, i, Step::Done);
        }
        let gone: Vec<usize> =
            (0..2).filter(|&e| runner.exit_status(&self.slots[i].aliases[e]).is_some()).collect();
        if !gone.is_empty() {
            return self.start_engines(runner, i, &gone);
        }
        self.rounds_given += 1;
        let round = self.rounds_given;
        self.slots[i].game = Some(Game::new(round, (round + 1) % 2));
        let mut turn = Turn::new(self.start_limit()).charge(Charge::Wall).reply_prefix("readyok");
        for alias in &self.slots[i].aliases {
            turn = turn.bot(alias, "ucinewgame\nisready\n");
        }
        self.begin_turn(runner, i, Step::NewGame, turn, 2);
    }

    fn new_game_ready(&mut self, runner: &mut Runner, i: usize, report: &TurnReport) {
        let slot = &mut self.slots[i];
        let game = slot.game.as_mut().expect("a game");
        for (e, alias) in slot.aliases.iter().enumerate() {
            if !matches!(report.outcome(alias), Some(Outcome::Replied { .. })) {
                let colour = if e == game.white { shakmaty::Color::White } else { shakmaty::Color::Black };
                game.lose(colour, Termination::Abandoned, "the engine did not get ready");
                // Hung: it is ended, and the next game waits for its exit
                // (SIGKILL at the grace at most) to start it again.
                if runner.exit_status(alias).is_none() && runner.stop(alias).is_ok() {
                    self.record_game(i);
                    self.slots[i].step = Step::Ending(e);
                    return;
                }
                return self.finish_game(runner, i);
            }
            if let Some(tc) = self.opts.tc {
                let _ = runner.set_overage(alias, tc.base);
            }
        }
        self.ask_move(runner, i);
    }

    /// A move's turn: `position` and `go` for the engine to move.
    fn ask_move(&mut self, runner: &mut Runner, i: usize) {
        let slot = &self.slots[i];
        let game = slot.game.as_ref().expect("a game");
        let mover = &slot.aliases[game.engine_to_move()];
        // One allocation a move: the payload, which the turn takes.
        let mut payload = game.position(80);
        payload.push_str("go");
        let mut deadline = MOVE_LIMIT;
        if let Some(tc) = self.opts.tc {
            let white = &slot.aliases[game.white];
            let black = &slot.aliases[1 - game.white];
            let ms = |alias: &str| runner.overage_left(alias).unwrap_or_default().as_millis();
            let inc = tc.increment.as_millis();
            let _ = write!(payload, " wtime {} btime {} winc {inc} binc {inc}", ms(white), ms(black));
            deadline = tc.increment.max(LEAST_DEADLINE);
        }
        if let Some(nodes) = self.opts.nodes {
            let _ = write!(payload, " nodes {nodes}");
        }
        payload.push('\n');
        let turn = Turn::new(deadline).bot(mover, payload).reply_prefix("bestmove").charge(self.opts.charge);
        let e = game.engine_to_move();
        self.slots[i].answers.asked(e);
        self.begin_turn(runner, i, Step::Move, turn, 1);
    }

    fn moved(&mut self, runner: &mut Runner, i: usize, report: &TurnReport) {
        let max_plies = self.opts.max_plies;
        let slot = &mut self.slots[i];
        let game = slot.game.as_mut().expect("a game");
        let mover = &slot.aliases[game.engine_to_move()];
        if let Some(e) = slot.breach.take() {
            let colour = if e == game.white { shakmaty::Color::White } else { shakmaty::Color::Black };
            game.lose(colour, Termination::RulesInfraction, "a bestmove it was not asked for");
            return self.finish_game(runner, i);
        }
        let ending = match report.outcome(mover) {
            Some(Outcome::Replied { elapsed, .. }) => {
                if let Some(tc) = self.opts.tc {
                    // A Fischer clock: the increment the move did not spend.
                    let left = runner.overage_left(mover).unwrap_or_default();
                    let _ = runner.set_overage(mover, left + tc.increment.saturating_sub(elapsed));
                }
                self.score.moves += 1;
                game.play(&slot.bestmove, max_plies)
            }
            Some(Outcome::TimedOut) => {
                // It may think on: its bestmove comes before the next readyok.
                let _ = runner.get_channel(mover).map(|c| c.write(b"stop\n"));
                game.forfeit(Termination::TimeForfeit, "time")
            }
            _ => game.forfeit(Termination::Abandoned, "the engine ended"),
        };
        match ending {
            Some(_) => self.finish_game(runner, i),
            None => self.ask_move(runner, i),
        }
    }

    fn finish_game(&mut self, runner: &mut Runner, i: usize) {
        self.record_game(i);
        self.ready_game(runner, i);
    }

    /// Counts slot `i`'s finished game and writes it to the PGN.
    fn record_game(&mut self, i: usize) {
        let game = self.slots[i].game.take().expect("a game");
        self.slots[i].breach = None;
        self.score.record(&game);
        if let Some(pgn) = self.pgn.as_mut() {
            let text = game.pgn(self.score.names(), &self.date, &self.time_control);
            if let Err(error) = pgn.write_all(text.as_bytes()) {
                self.errors.push(format!("writing the PGN: {error}"));
                self.pgn = None;
            }
        }
    }

    fn fail(&mut self, runner: &mut Runner, i: usize, error: String) {
        let _ = writeln!(std::io::stderr(), "{error}");
        self.errors.push(error);
        if std::mem::take(&mut self.slots[i].starting) {
            self.starting -= 1;
        }
        self.quit(runner, i, Step::Failed);
        self.start_queued(runner);
    }

    /// Asks the slot's engines to quit; `Runner::stop_all` ends any that do not.
    fn quit(&mut self, runner: &mut Runner, i: usize, step: Step) {
        for alias in &self.slots[i].aliases {
            if let Some(channel) = runner.get_channel(alias) {
                let _ = channel.write(b"quit\n");
            }
        }
        self.slots[i].step = step;
    }

    /// Ends the tournament early (`signal` came): the games under way are
    /// dropped unfinished, and every engine is asked to quit.
    pub fn interrupt(&mut self, runner: &mut Runner, signal: i32) {
        self.interrupted = Some(signal);
        for i in 0..self.slots.len() {
            self.slots[i].game = None;
            self.quit(runner, i, Step::Done);
        }
        self.turns.clear();
    }

    /// The options it plays by.
    pub fn options(&self) -> &Options {
        &self.opts
    }
}

/// The slot an alias belongs to: "a3" and "b3" are slot 3's.
fn slot_of(alias: &str) -> Option<usize> {
    alias.get(1..)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tournament(args: &[&str]) -> Tournament {
        let opts = crate::options::parse(args.iter().map(|a| a.to_string())).expect("good options");
        Tournament::new(opts, "2026.12.06".into()).expect("no PGN to create")
    }

    #[test]
    fn only_a_tournament_without_a_clock_naps() {
        assert!(tournament(&["--nodes", "100"]).may_nap());
        assert!(!tournament(&["--tc", "1+0.1"]).may_nap());
        assert!(!tournament(&["--tc", "1+0.1", "--charge", "cpu"]).may_nap());
        assert!(!tournament(&["--tc", "1+0.1", "--nodes", "100", "--charge", "wall"]).may_nap());
    }
}
