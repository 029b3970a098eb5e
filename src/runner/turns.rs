//! The Runner's turns: each bot's payload written, its deadline on a loop
//! timer (its bank added), its first reply or its running out of time, and
//! the report once every bot of the turn has an outcome.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Runner;
use super::running::{OwnEvent, OwnEventKind, OwnTimer, TimerPurpose};
use super::turn::{Charge, Outcome, Turn, TurnId, TurnReport};
use crate::error::{Error, Result};
use crate::reactor::timers::TimerId;

/// Backstop of a CPU-charged deadline, in wall time: this many deadlines.
const CPU_BACKSTOP: u32 = 10;

#[derive(Debug, Default)]
pub(crate) struct Turns {
    next: u64,
    active: HashMap<TurnId, Active>,
    /// The unfinished turn each bot is in, and whether it still owes its outcome.
    members: HashMap<Arc<str>, (TurnId, bool)>,
    /// What is left of each bot's overage bank, once a turn touched it.
    banks: HashMap<Arc<str>, Duration>,
    /// Bots that a turn froze, to thaw when a later turn writes to them.
    frozen: HashSet<Arc<str>>,
}

#[derive(Debug)]
struct Active {
    base: Duration,
    charge: Charge,
    freeze: bool,
    /// What a reply line starts with; `None`: any line.
    prefix: Option<Box<[u8]>>,
    bots: Vec<Bot>,
    /// Bots without an outcome yet.
    owed: usize,
    harness_delay: Duration,
}

#[derive(Debug)]
struct Bot {
    alias: Arc<str>,
    started: Instant,
    cpu_at_start: Option<Duration>,
    /// Its deadline and bank: what may be charged before it times out.
    allowed: Duration,
    outcome: Option<Outcome>,
    timer: Option<TimerId>,
}

impl Turns {
    /// Whether `alias` waits for its reply in a turn (cheap when no turn runs).
    #[inline]
    pub(super) fn awaits(&self, alias: &str) -> bool {
        !self.members.is_empty() && self.members.get(alias).is_some_and(|(_, owed)| *owed)
    }

    /// Whether `data`, output of `alias`, is the reply its turn waits for
    /// (one inlined check when no turn runs: it is asked for every line).
    #[inline(always)]
    pub(super) fn is_reply(&self, alias: &str, data: &[u8]) -> bool {
        !self.members.is_empty() && self.member_replies(alias, data)
    }

    /// [`is_reply`](Self::is_reply) while some turn runs.
    #[inline(never)]
    fn member_replies(&self, alias: &str, data: &[u8]) -> bool {
        let Some((id, true)) = self.members.get(alias) else { return false };
        match self.active.get(id).and_then(|active| active.prefix.as_deref()) {
            None => true,
            Some(prefix) => starts_a_line(data, prefix),
        }
    }

    /// Whether a turn froze `alias`.
    pub(super) fn froze(&self, alias: &str) -> bool {
        self.frozen.contains(alias)
    }
}

impl Runner {
    /// Begins a turn and returns at once: writes each bot's payload and
    /// arms its deadline. The loop then hands
    /// [`Event::Reply`](super::Event::Reply) for each bot's first reply (its
    /// first line in line mode, else its first read; its first line that
    /// starts with the turn's [`Turn::reply_prefix`], if it has one) and
    /// [`Event::TurnEnded`](super::Event::TurnEnded) once every bot has an
    /// outcome. Later output of a bot in the same turn comes as `Data`.
    /// Several turns may run at once over different bots.
    ///
    /// Errors, with nothing written to any bot: an empty turn, a zero
    /// deadline or a bot named twice ([`Error::InvalidSetting`]), an alias
    /// that is not taken ([`Error::NoSuchProcess`]), a bot in an unfinished
    /// turn ([`Error::TurnInProgress`]). A bot whose process has exited
    /// gets the outcome `Exited` at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Buffering, Event, Outcome, Runner, Turn};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("echo", App::new("cat").buffering(Buffering::Line));
    /// runner.start("echo")?;
    /// let turn = runner.begin_turn(Turn::new(Duration::from_secs(5)).bot("echo", "move\n"))?;
    /// let mut outcome = None;
    /// while outcome.is_none() {
    ///     runner.poll_once(Some(Duration::from_secs(5)), |_, event| match event {
    ///         Event::Reply { data, .. } => assert_eq!(data, b"move\n"),
    ///         Event::TurnEnded { turn: t, report } if t == turn => outcome = report.outcome("echo"),
    ///         _ => {}
    ///     })?;
    /// }
    /// assert!(matches!(outcome, Some(Outcome::Replied { .. })));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn begin_turn(&mut self, turn: Turn) -> Result<TurnId> {
        self.owned()?;
        self.check_turn(&turn)?;
        self.turns.next += 1;
        let id = TurnId(self.turns.next);
        let mut active = Active {
            base: turn.deadline,
            charge: turn.charge,
            freeze: turn.freeze_between,
            prefix: turn.reply_prefix,
            bots: Vec::with_capacity(turn.bots.len()),
            owed: turn.bots.len(),
            harness_delay: Duration::ZERO,
        };
        let mut exited = Vec::new();
        for (alias, payload) in turn.bots {
            let alias: Arc<str> = self.running.get_key_value(alias.as_str()).expect("checked").0.clone();
            self.turns.members.insert(alias.clone(), (id, true));
            if self.turns.frozen.remove(&alias) {
                self.thaw_bot(&alias);
            }
            let allowed = turn.deadline.saturating_add(self.bank_left(&alias));
            let written = self.get_channel(&alias).map(|channel| channel.write(&payload));
            let cpu_at_start = self.tree_cpu_time(&alias).ok();
            let mut bot = Bot {
                alias: alias.clone(),
                started: Instant::now(),
                cpu_at_start,
                allowed,
                outcome: None,
                timer: None,
            };
            match written {
                Some(Ok(())) if self.exit_status(&alias).is_none() => {
                    let run = self.running.get(&alias).map_or(0, |r| r.run);
                    let timer = self.reactor.set_timer(allowed);
                    self.own_timers
                        .insert(timer, OwnTimer { alias, run, kind: TimerPurpose::TurnDeadline(id) });
                    bot.timer = Some(timer);
                }
                other => {
                    if let Some(Err(e)) = other {
                        log::warn!("writing {alias}'s turn: {e}; its outcome is Exited");
                    }
                    exited.push(alias);
                }
            }
            active.bots.push(bot);
        }
        self.turns.active.insert(id, active);
        for alias in exited {
            self.settle_bot(&alias, Outcome::Exited);
        }
        Ok(id)
    }

    /// What is left of `alias`'s overage bank ([`App::overage`](crate::App::overage)):
    /// the time it may still go over its turns' deadlines, in all.
    pub fn overage_left(&self, alias: &str) -> Result<Duration> {
        if !self.running.contains_key(alias) {
            return Err(Error::NoSuchProcess(alias.to_string()));
        }
        Ok(self.bank_left(alias))
    }

    /// Sets what is left of `alias`'s overage bank: a chess clock set back
    /// to its base for a new game, or given its increment after a move. A
    /// turn that has begun keeps the deadline it was given.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("bot", App::new("cat").overage(Duration::from_secs(10)));
    /// runner.start("bot")?;
    /// let increment = Duration::from_millis(100);
    /// runner.set_overage("bot", runner.overage_left("bot")? + increment)?;
    /// assert_eq!(runner.overage_left("bot")?, Duration::from_millis(10_100));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn set_overage(&mut self, alias: &str, left: Duration) -> Result<()> {
        let Some(alias) = self.running.get_key_value(alias).map(|(alias, _)| alias.clone()) else {
            return Err(Error::NoSuchProcess(alias.to_string()));
        };
        self.turns.banks.insert(alias, left);
        Ok(())
    }

    fn bank_left(&self, alias: &str) -> Duration {
        match self.turns.banks.get(alias) {
            Some(left) => *left,
            None => self.running.get(alias).map_or(Duration::ZERO, |r| r.overage),
        }
    }

    /// Checks a turn before anything is written.
    fn check_turn(&self, turn: &Turn) -> Result<()> {
        if turn.bots.is_empty() {
            return Err(Error::InvalidSetting { setting: "a turn".into(), reason: "it names no bot" });
        }
        if turn.deadline.is_zero() {
            let setting = "the turn's deadline of 0 s".into();
            return Err(Error::InvalidSetting { setting, reason: "a bot needs some time to reply" });
        }
        let mut seen = HashSet::new();
        for (alias, _) in &turn.bots {
            if !seen.insert(alias.as_str()) {
                let setting = format!("bot {alias:?} of a turn");
                return Err(Error::InvalidSetting { setting, reason: "it is named twice" });
            }
            if !self.running.contains_key(alias.as_str()) {
                return Err(Error::NoSuchProcess(alias.clone()));
            }
            if self.turns.members.contains_key(alias.as_str()) {
                return Err(Error::TurnInProgress(alias.clone()));
            }
        }
        Ok(())
    }

    /// A bot's output came while it owes a reply: its outcome, and the
    /// time charged if it replied in time (then the data is its `Reply`).
    pub(super) fn turn_output(&mut self, alias: &Arc<str>) -> Option<(TurnId, Duration)> {
        let (id, bot) = self.owing_bot(alias)?;
        let charge = self.turns.active.get(&id)?.charge;
        let cpu =
            self.tree_cpu_time(alias).ok().zip(bot.cpu_at_start).map(|(now, then)| now.saturating_sub(then));
        let elapsed = match charge {
            Charge::Cpu => cpu.unwrap_or_else(|| bot.started.elapsed()),
            _ => bot.started.elapsed(),
        };
        let delay = self.reactor.woke_at().elapsed();
        if let Some(active) = self.turns.active.get_mut(&id) {
            active.harness_delay = active.harness_delay.max(delay);
        }
        if elapsed > bot.allowed {
            self.settle_bot(alias, Outcome::TimedOut);
            return None;
        }
        self.settle_bot(alias, Outcome::Replied { elapsed, cpu });
        Some((id, elapsed))
    }

    /// A bot's deadline timer fired: it timed out, unless CPU charging
    /// says it has time left (then the timer is set again).
    pub(super) fn turn_deadline(&mut self, alias: &Arc<str>, id: TurnId) {
        let Some((owed_id, bot)) = self.owing_bot(alias).filter(|(t, _)| *t == id) else { return };
        let Some(active) = self.turns.active.get(&owed_id) else { return };
        if active.charge == Charge::Cpu {
            let used = self
                .tree_cpu_time(alias)
                .ok()
                .zip(bot.cpu_at_start)
                .map(|(now, then)| now.saturating_sub(then));
            let backstop = bot.allowed.saturating_mul(CPU_BACKSTOP);
            let wall = bot.started.elapsed();
            if let Some(used) = used.filter(|used| *used < bot.allowed && wall < backstop) {
                let next = (bot.allowed - used).min(backstop - wall);
                let run = self.running.get(alias).map_or(0, |r| r.run);
                let timer = self.reactor.set_timer(next);
                self.own_timers.insert(
                    timer,
                    OwnTimer { alias: alias.clone(), run, kind: TimerPurpose::TurnDeadline(id) },
                );
                return;
            }
        }
        self.settle_bot(alias, Outcome::TimedOut);
    }

    /// A bot in a turn ended, or its alias was stopped or freed, before it replied.
    pub(super) fn turn_exit(&mut self, alias: &str) {
        if self.turns.awaits(alias) {
            self.settle_bot(alias, Outcome::Exited);
        }
    }

    /// The turn `alias` owes a reply in, with a copy of its bookkeeping.
    fn owing_bot(&self, alias: &str) -> Option<(TurnId, BotView)> {
        let (id, owed) = *self.turns.members.get(alias)?;
        let bot = self.turns.active.get(&id)?.bots.iter().find(|b| &*b.alias == alias)?;
        owed.then_some((
            id,
            BotView { started: bot.started, cpu_at_start: bot.cpu_at_start, allowed: bot.allowed },
        ))
    }

    /// Gives a bot its outcome: charges its bank, freezes it if the turn
    /// says so, and ends the turn if it was the last.
    fn settle_bot(&mut self, alias: &str, outcome: Outcome) {
        let Some((alias, (id, owed))) = self.turns.members.get_key_value(alias).map(|(a, m)| (a.clone(), *m))
        else {
            return;
        };
        if !owed {
            return;
        }
        self.turns.members.insert(alias.clone(), (id, false));
        let Some(active) = self.turns.active.get_mut(&id) else { return };
        let (base, freeze) = (active.base, active.freeze);
        let Some(bot) = active.bots.iter_mut().find(|b| b.alias == alias) else { return };
        bot.outcome = Some(outcome);
        let timer = bot.timer.take();
        active.owed -= 1;
        let finished = active.owed == 0;
        if let Some(timer) = timer {
            self.reactor.cancel_timer(timer);
            self.own_timers.remove(&timer);
        }
        let bank = self.bank_left(&alias);
        let left = match outcome {
            Outcome::Replied { elapsed, .. } => bank.saturating_sub(elapsed.saturating_sub(base)),
            Outcome::TimedOut => Duration::ZERO,
            Outcome::Exited => bank,
        };
        self.turns.banks.insert(alias.clone(), left);
        if freeze && outcome != Outcome::Exited {
            self.freeze_bot(&alias);
        }
        if finished {
            self.end_turn(id);
        }
    }

    /// Every bot has an outcome: the turn's members are free, and its
    /// report waits to be handed over.
    fn end_turn(&mut self, id: TurnId) {
        let Some(active) = self.turns.active.remove(&id) else { return };
        for bot in &active.bots {
            self.turns.members.remove(&bot.alias);
        }
        let outcomes = active
            .bots
            .into_iter()
            .map(|b| (b.alias.to_string(), b.outcome.unwrap_or(Outcome::Exited)))
            .collect();
        let report = TurnReport { outcomes, harness_delay: active.harness_delay };
        self.own_events.push_back(OwnEvent {
            alias: Arc::from(""),
            run: 0,
            kind: OwnEventKind::TurnEnded(id, Box::new(report)),
        });
    }

    /// Stops a bot from running between turns.
    fn freeze_bot(&mut self, alias: &Arc<str>) {
        if let Err(e) = self.freeze(alias) {
            log::warn!("freezing {alias} between turns: {e}");
            return;
        }
        self.turns.frozen.insert(alias.clone());
    }

    /// Lets a bot run again.
    pub(super) fn thaw_bot(&mut self, alias: &str) {
        self.turns.frozen.remove(alias);
        if let Err(e) = self.thaw(alias) {
            log::warn!("thawing {alias}: {e}");
        }
    }

    /// Forgets an alias that was freed: its turn, if it owed a reply, and its bank.
    pub(super) fn turn_forget(&mut self, alias: &str) {
        self.turn_exit(alias);
        self.turns.banks.remove(alias);
        self.turns.frozen.remove(alias);
    }
}

/// What the deadline and reply checks need of a bot.
#[derive(Clone, Copy, Debug)]
struct BotView {
    started: Instant,
    cpu_at_start: Option<Duration>,
    allowed: Duration,
}

/// Whether `data` starts with `prefix`, or holds a line that does.
fn starts_a_line(data: &[u8], prefix: &[u8]) -> bool {
    data.starts_with(prefix) || memchr::memchr_iter(b'\n', data).any(|at| data[at + 1..].starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::starts_a_line;

    #[test]
    fn a_prefix_matches_at_the_start_of_any_line_of_a_piece() {
        assert!(starts_a_line(b"bestmove e2e4\n", b"bestmove"));
        assert!(starts_a_line(b"info depth 1\nbestmove e2e4\n", b"bestmove"));
        assert!(!starts_a_line(b"info string no bestmove\n", b"bestmove"));
        assert!(!starts_a_line(b"info depth 1\n", b"bestmove"));
        assert!(!starts_a_line(b"info\n", b"bestmove"), "a piece ending in a newline");
    }
}
