//! Each bot of a turn gets its outcome (its reply, its running out of
//! time, its exit), its bank is charged, and the turn ends with its report
//! once every bot has one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Runner;
use super::running::{OwnEvent, OwnEventKind};
use super::turn::{Charge, Outcome, TurnId, TurnReport};
use super::turns::{Member, bank_of};

/// Backstop of a CPU-charged deadline, in wall time: this many deadlines.
const CPU_BACKSTOP: u32 = 10;

impl Runner {
    /// A bot's output came while it owes a reply: its outcome, and the
    /// time charged if it replied in time (then the data is its `Reply`).
    pub(super) fn turn_output(&mut self, alias: &str) -> Option<(TurnId, Duration)> {
        let member = self.turns.replier(alias)?;
        let active = &self.turns.active[member.turn];
        let (id, charge) = (active.id, active.charge);
        let bot = &active.bots[member.bot];
        let (started, cpu_at_start, allowed) = (bot.started, bot.cpu_at_start, bot.allowed);
        let cpu = match charge {
            Charge::Cpu => self.cpu_used(alias, cpu_at_start),
            _ => None,
        };
        let now = Instant::now();
        let elapsed = cpu.unwrap_or_else(|| now.saturating_duration_since(started));
        let delay = self.reactor.woke_at().map_or(Duration::ZERO, |woke| now.saturating_duration_since(woke));
        let active = &mut self.turns.active[member.turn];
        active.harness_delay = active.harness_delay.max(delay);
        if elapsed > allowed {
            self.settle_bot(member, Outcome::TimedOut);
            return None;
        }
        self.settle_bot(member, Outcome::Replied { elapsed, cpu });
        Some((id, elapsed))
    }

    /// The turn's timer fired: each bot whose deadline has passed times
    /// out, unless CPU charging says it has time left (then it is looked
    /// at again later); the timer is set again for the bots still owing.
    pub(super) fn turn_deadline(&mut self, id: TurnId, key: usize) {
        let Some(active) = self.turns.active.get_mut(key).filter(|a| a.id == id) else { return };
        active.timer = None;
        let (count, since) = (active.bots.len(), active.written.elapsed());
        for bot in 0..count {
            let Some(active) = self.turns.active.get(key).filter(|a| a.id == id) else { return };
            let b = &active.bots[bot];
            if b.outcome.is_some() || b.due > since {
                continue;
            }
            let cpu = active.charge == Charge::Cpu;
            if let Some(later) = cpu.then(|| self.cpu_time_left(Member { turn: key, bot })).flatten() {
                self.turns.active[key].bots[bot].due = since + later;
                continue;
            }
            self.settle_bot(Member { turn: key, bot }, Outcome::TimedOut);
        }
        self.arm_turn_timer(key);
    }

    /// Under CPU charging, how long until a bot past its deadline in wall
    /// time could have used up its CPU time (or reach the backstop);
    /// `None` if it is out of time.
    fn cpu_time_left(&self, member: Member) -> Option<Duration> {
        let bot = &self.turns.active[member.turn].bots[member.bot];
        let used = self.cpu_used(&bot.alias, bot.cpu_at_start)?;
        let backstop = bot.allowed.saturating_mul(CPU_BACKSTOP);
        let wall = bot.started.elapsed();
        (used < bot.allowed && wall < backstop).then(|| (bot.allowed - used).min(backstop - wall))
    }

    /// The CPU time `alias` used since `then`, where its clock can be read.
    fn cpu_used(&self, alias: &str, then: Option<Duration>) -> Option<Duration> {
        let now = self.tree_cpu_time(alias).ok()?;
        Some(now.saturating_sub(then?))
    }

    /// A bot in a turn ended, or its alias was stopped or freed, before it replied.
    pub(super) fn turn_exit(&mut self, alias: &str) {
        if let Some(member) = self.turns.owing(alias) {
            self.settle_bot(member, Outcome::Exited);
        }
    }

    /// Gives a bot its outcome: charges its bank, freezes it if the turn
    /// says so, and ends the turn if it was the last.
    pub(super) fn settle_bot(&mut self, member: Member, outcome: Outcome) {
        let turns = &mut self.turns;
        let Some(active) = turns.active.get_mut(member.turn) else { return };
        let (base, freeze) = (active.base, active.freeze);
        let bot = &mut active.bots[member.bot];
        if bot.outcome.is_some() {
            return;
        }
        bot.outcome = Some(outcome);
        active.owed -= 1;
        let finished = active.owed == 0;
        let bank = bank_of(&turns.banks, &bot.alias, bot.app_bank);
        let left = match outcome {
            Outcome::Replied { elapsed, .. } => bank.saturating_sub(elapsed.saturating_sub(base)),
            Outcome::TimedOut => Duration::ZERO,
            Outcome::Exited => bank,
        };
        if left != bank {
            turns.banks.insert(bot.alias.clone(), left);
        }
        if freeze && outcome != Outcome::Exited {
            let alias = bot.alias.clone();
            self.freeze_bot(&alias);
        }
        if finished {
            self.end_turn(member.turn);
        }
    }

    /// Every bot has an outcome: the turn's timer is cancelled, its
    /// members are free, and its report waits to be handed over.
    fn end_turn(&mut self, key: usize) {
        let mut active = self.turns.active.remove(key);
        if let Some(timer) = active.timer {
            self.reactor.cancel_timer(timer);
            self.own_timers.remove(&timer);
        }
        let mut outcomes = Vec::with_capacity(active.bots.len());
        // By reference: moving each bot out of the table copies all of it.
        for (i, bot) in active.bots.iter().enumerate() {
            // A bot freed mid-turn may be in a later turn under its alias:
            // that membership is put back (rare; one lookup for the rest).
            if let Some((alias, other)) = self.turns.members.remove_entry(&bot.alias)
                && other != (Member { turn: key, bot: i })
            {
                self.turns.members.insert(alias, other);
            }
            outcomes.push((bot.alias.clone(), bot.outcome.unwrap_or(Outcome::Exited)));
        }
        active.bots.clear();
        if active.bots.capacity() > self.turns.spare.capacity() {
            self.turns.spare = active.bots;
        }
        let report = TurnReport { outcomes, harness_delay: active.harness_delay };
        self.own_events.push_back(OwnEvent {
            alias: self.turns.no_alias.clone(),
            run: 0,
            kind: OwnEventKind::TurnEnded(active.id, Box::new(report)),
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

    /// Every process is ended at once (`terminate_all`, which cancels the
    /// turns' timers): each bot that owes a reply is Exited, so that its
    /// turn ends with its report, and no bank or freeze is kept.
    pub(super) fn forget_all_turns(&mut self) {
        let owing: Vec<Arc<str>> = self.turns.members.keys().cloned().collect();
        owing.iter().for_each(|alias| self.turn_exit(alias));
        self.turns.banks.clear();
        self.turns.frozen.clear();
    }

    /// Forgets an alias that was freed: its turn, if it owed a reply (the
    /// alias is free for another turn at once), and its bank.
    pub(super) fn turn_forget(&mut self, alias: &str) {
        self.turn_exit(alias);
        self.turns.members.remove(alias);
        self.turns.banks.remove(alias);
        self.turns.frozen.remove(alias);
    }
}
