//! The Runner's turns begun: each bot's payload written and its deadline
//! armed, with the per-turn state kept so that a reply costs an index, not
//! a search (`turn_outcomes.rs` gives each bot its outcome).
//!
//! A turn keeps one loop timer, set for the earliest deadline of the bots
//! that still owe a reply: bots with the same base and bank share it, so a
//! turn of a thousand bots arms one timer, not a thousand. It counts from
//! the last write, so it fires no earlier than any bot's deadline and at
//! most one write phase after the first bot's; a reply that comes between
//! is judged by the bot's own clock. No CPU clock is read under
//! `Charge::Wall`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use super::Runner;
use super::alias_hash::AliasHash;
use super::running::{OwnTimer, TimerPurpose};
use super::turn::{Charge, Outcome, Turn, TurnId};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::reactor::timers::TimerId;
use crate::reactor::token::Token;

#[derive(Debug, Default)]
pub(crate) struct Turns {
    next: u64,
    /// Unfinished turns, by a key that their members hold.
    pub(super) active: Slab<Active>,
    /// The unfinished turn each bot is in, and its place there.
    pub(super) members: HashMap<Arc<str>, Member, AliasHash>,
    /// What is left of each bot's overage bank, once a turn changed it.
    pub(super) banks: HashMap<Arc<str>, Duration, AliasHash>,
    /// Bots that a turn froze, to thaw when a later turn writes to them.
    pub(super) frozen: HashSet<Arc<str>, AliasHash>,
    /// The member [`is_reply`](Self::is_reply) found last, for the reply
    /// that follows it: one lookup a reply, not two.
    replying: Option<Member>,
    /// Where the reply [`is_reply`](Self::is_reply) found last starts in
    /// its piece: after the bytes read before the payload was written,
    /// which a pause can join to the answer in one piece (byte mode).
    reply_at: usize,
    /// The alias of the Runner's own timers and events that belong to no
    /// process, made once rather than allocated per turn.
    pub(super) no_alias: Arc<str>,
    /// The bots of the last turn that ended, emptied: the next turn's,
    /// so that a turn of many bots does not allocate their table anew.
    pub(super) spare: Vec<Bot>,
}

/// Where a bot of an unfinished turn is: the turn's key in
/// [`Turns::active`] and the bot's index in its `bots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Member {
    pub(super) turn: usize,
    pub(super) bot: usize,
}

#[derive(Debug)]
pub(super) struct Active {
    pub(super) id: TurnId,
    pub(super) base: Duration,
    pub(super) charge: Charge,
    pub(super) freeze: bool,
    /// What a reply line starts with; `None`: any line.
    pub(super) prefix: Option<Box<[u8]>>,
    pub(super) bots: Vec<Bot>,
    /// Bots without an outcome yet.
    pub(super) owed: usize,
    pub(super) harness_delay: Duration,
    /// When the last payload was written: each bot's `due` counts from here.
    pub(super) written: Instant,
    /// The turn's deadline timer, for the earliest `due` of the bots that owe.
    pub(super) timer: Option<TimerId>,
}

#[derive(Debug)]
pub(super) struct Bot {
    pub(super) alias: Arc<str>,
    /// When its payload was written.
    pub(super) started: Instant,
    /// Bytes of its output read before the payload was written but not
    /// handed yet (a turn begun by a handler while more of the bot's output
    /// was queued): they answer an earlier turn, so none is its reply.
    pub(super) stale: usize,
    /// What `read` had taken of its channel when the payload was written
    /// ([`Channel::taken`]): a `read` since took stale bytes first.
    pub(super) taken_at_write: u64,
    /// Its CPU clock then; read under `Charge::Cpu` only.
    pub(super) cpu_at_start: Option<Duration>,
    /// Its deadline and bank: what may be charged before it times out.
    pub(super) allowed: Duration,
    /// When the turn's timer must look at it (from `Active::written`): its
    /// deadline, or under `Charge::Cpu` when its CPU time could next run out.
    pub(super) due: Duration,
    /// Its app's bank, for a bot whose bank no turn has changed.
    pub(super) app_bank: Duration,
    pub(super) outcome: Option<Outcome>,
    /// Where its payload goes, found before anything is written; `None`
    /// if it has no channel or its process has ended.
    channel: Option<Token>,
}

impl Turns {
    /// Whether `data`, output of `alias` handed now, is the reply its turn
    /// waits for (one inlined check when no turn runs: it is asked for
    /// every line). `starts_line`: whether `data` starts a line (the piece
    /// before it ended with a newline); a piece that continues an
    /// over-long line is never a reply with a prefix, whatever it starts
    /// with. `taken` gives what `read` has taken of a channel so far.
    #[inline(always)]
    pub(super) fn is_reply(
        &mut self,
        alias: &str,
        (data, starts_line): (&[u8], bool),
        taken: impl Fn(Token) -> Option<u64>,
    ) -> bool {
        !self.members.is_empty() && self.member_replies(alias, (data, starts_line), taken)
    }

    /// [`is_reply`](Self::is_reply) while some turn runs.
    #[inline(never)]
    fn member_replies(
        &mut self,
        alias: &str,
        (data, starts_line): (&[u8], bool),
        taken: impl Fn(Token) -> Option<u64>,
    ) -> bool {
        let Some(member) = self.owing(alias) else { return false };
        self.replying = None;
        let active = &mut self.active[member.turn];
        let bot = &mut active.bots[member.bot];
        if bot.stale > 0
            && let Some(now) = bot.channel.and_then(taken)
        {
            // A `read` of the channel since the write took the stale bytes
            // first (they are in front of its buffer): none of them comes here.
            let read = usize::try_from(now.saturating_sub(bot.taken_at_write)).unwrap_or(usize::MAX);
            (bot.stale, bot.taken_at_write) = (bot.stale.saturating_sub(read), now);
        }
        let at = std::mem::take(&mut bot.stale);
        if at >= data.len() {
            bot.stale = at - data.len();
            return false;
        }
        let reply = match active.prefix.as_deref() {
            None => true,
            Some(prefix) => {
                let starts_line = if at > 0 { data[at - 1] == b'\n' } else { starts_line };
                starts_a_line(&data[at..], starts_line, prefix)
            }
        };
        if reply {
            self.replying = Some(member);
            self.reply_at = at;
        }
        reply
    }

    /// Where the reply that [`is_reply`](Self::is_reply) just found starts
    /// in its piece (the bytes before it answer an earlier turn).
    pub(super) fn take_reply_at(&mut self) -> usize {
        std::mem::take(&mut self.reply_at)
    }

    /// Where `alias` is, if it owes a reply: the member that
    /// [`is_reply`](Self::is_reply) just found, if it is `alias`'s.
    pub(super) fn replier(&mut self, alias: &str) -> Option<Member> {
        let found = self.replying.take().filter(|m| {
            let bot = self.active.get(m.turn).map(|active| &active.bots[m.bot]);
            bot.is_some_and(|bot| bot.outcome.is_none() && same_alias(&bot.alias, alias))
        });
        found.or_else(|| self.owing(alias))
    }

    /// Where `alias` is, if it owes a reply in an unfinished turn.
    #[inline]
    pub(super) fn owing(&self, alias: &str) -> Option<Member> {
        if self.members.is_empty() {
            return None;
        }
        let member = *self.members.get(alias)?;
        let active = self.active.get(member.turn)?;
        active.bots[member.bot].outcome.is_none().then_some(member)
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
    /// outcome. Later output of a bot in the same turn comes as `Data`, and
    /// so does output it wrote before the payload that was read but not
    /// handed yet (a turn begun by a handler while the bot's last answer
    /// was still being handed). Several turns may run at once over
    /// different bots.
    ///
    /// Errors, with nothing written to any bot: an empty turn, a zero
    /// deadline, a bot named twice or one whose channel is in
    /// [`Buffering::WholeLines`](crate::Buffering::WholeLines) mode (a
    /// reply is one line: it needs `Line`, or `Bytes` for a first read)
    /// ([`Error::InvalidSetting`]), an alias
    /// that is not taken ([`Error::NoSuchProcess`]), a bot in an unfinished
    /// turn ([`Error::TurnInProgress`]), a socket app's bot that has not
    /// connected ([`Error::NotConnected`]), a bot whose write queue has no
    /// room for its payload (it reads none of its input:
    /// [`Error::QueueFull`], naming it). A bot whose process has exited
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
        check_turn(&turn)?;
        let key = self.turns.active.vacant_key();
        let mut bots = self.enrol(&turn, key)?;
        self.turns.next += 1;
        let id = TurnId(self.turns.next);
        let mut exited = Vec::new();
        // SIGPIPE's disposition asked once for all the payloads, not once
        // a write: no code of the host runs between them (but a logger).
        let _sigpipe = crate::sys::SigpipeQuery::begin();
        // Only the writes and the clock between the writes: a bot written
        // to later waits for the work done for the ones before it.
        for (i, ((_, payload), bot)) in turn.bots.iter().zip(&mut bots).enumerate() {
            if !self.write_payload(bot, payload, &turn) {
                exited.push(i);
            }
        }
        let active = Active {
            id,
            base: turn.deadline,
            charge: turn.charge,
            freeze: turn.freeze_between,
            prefix: turn.reply_prefix,
            owed: bots.len(),
            bots,
            harness_delay: Duration::ZERO,
            written: Instant::now(),
            timer: None,
        };
        let inserted = self.turns.active.insert(active);
        debug_assert_eq!(inserted, key, "the key its members were given");
        for bot in exited {
            self.settle_bot(Member { turn: key, bot }, Outcome::Exited);
        }
        self.arm_turn_timer(key);
        Ok(id)
    }

    /// Thaws `bot` if a turn froze it, arms its deadline and writes its
    /// payload; false if it cannot get one (its process has ended).
    fn write_payload(&mut self, bot: &mut Bot, payload: &[u8], turn: &Turn) -> bool {
        if !self.turns.frozen.is_empty() && self.turns.frozen.contains(&bot.alias) {
            self.thaw_bot(&bot.alias);
        }
        bot.allowed = turn.deadline.saturating_add(self.turns.bank(&bot.alias, bot.app_bank));
        bot.due = bot.allowed;
        if turn.charge == Charge::Cpu {
            bot.cpu_at_start = self.tree_cpu_time(&bot.alias).ok();
        }
        let channel = bot.channel.and_then(|t| self.reactor.channel(t));
        // Writing took back what was queued of the channel: all that it
        // holds now was read before the write.
        let written = channel.map(|channel| (channel.write(payload), read_before(channel), channel.taken()));
        bot.started = Instant::now();
        let Some((written, stale, taken)) = written else { return false };
        (bot.stale, bot.taken_at_write) = (stale, taken);
        match written {
            Ok(()) => true,
            Err(e) => {
                log::warn!("writing {}'s turn: {e}; its outcome is Exited", bot.alias);
                false
            }
        }
    }

    /// Makes each bot of `turn` a member of the turn to be kept at `key`,
    /// and finds what writing to it needs; on an error, no bot is a member.
    fn enrol(&mut self, turn: &Turn, key: usize) -> Result<Vec<Bot>> {
        let mut bots = std::mem::take(&mut self.turns.spare);
        bots.reserve(turn.bots.len());
        // Each bot's own start is taken when its payload is written.
        let now = Instant::now();
        for i in 0..turn.bots.len() {
            // Each bot is made in its place in the table (a bot moved is copied).
            let bot = (turn.alias(i), turn.bots[i].1.len());
            if let Err(e) = self.enrol_bot(bot, Member { turn: key, bot: i }, now, &mut bots) {
                for bot in &bots {
                    self.turns.members.remove(&bot.alias);
                }
                return Err(e);
            }
        }
        Ok(bots)
    }

    /// Makes `alias` a member, and adds it to `bots`; its payload is
    /// `payload` bytes long.
    fn enrol_bot(
        &mut self,
        (alias, payload): (&str, usize),
        member: Member,
        now: Instant,
        bots: &mut Vec<Bot>,
    ) -> Result<()> {
        let (alias, running) =
            self.running.get_key_value(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        // A socket app whose process lives but which has no connection yet
        // would get no payload: not `Exited`, an error.
        if running.channel.is_none() && running.process.is_some() {
            return Err(Error::NotConnected(alias.to_string()));
        }
        if running.channel.and_then(|t| self.reactor.buffering_of(t)) == Some(crate::Buffering::WholeLines) {
            let setting = format!("bot {alias:?} of a turn, buffering WholeLines");
            return Err(Error::InvalidSetting { setting, reason: "a turn needs Buffering::Line (or Bytes)" });
        }
        let channel = running.channel.filter(|_| running.status().is_none());
        // A payload its queue cannot take is refused before any bot gets
        // one: a turn is begun whole or not at all.
        if let Some(channel) = channel.and_then(|t| self.reactor.channel(t)) {
            channel.check_room(payload).map_err(|e| name_bot(e, alias))?;
        }
        match self.turns.members.entry(alias.clone()) {
            Entry::Occupied(taken) if taken.get().turn == member.turn => {
                let setting = format!("bot {alias:?} of a turn");
                Err(Error::InvalidSetting { setting, reason: "it is named twice" })
            }
            Entry::Occupied(_) => Err(Error::TurnInProgress(alias.to_string())),
            Entry::Vacant(free) => {
                free.insert(member);
                bots.push(Bot {
                    alias: alias.clone(),
                    started: now,
                    stale: 0,
                    taken_at_write: 0,
                    cpu_at_start: None,
                    allowed: Duration::ZERO,
                    due: Duration::ZERO,
                    app_bank: running.overage,
                    outcome: None,
                    channel,
                });
                Ok(())
            }
        }
    }

    /// Sets the turn's timer for the earliest `due` of its bots that owe,
    /// if it has none.
    pub(super) fn arm_turn_timer(&mut self, key: usize) {
        let Some(active) = self.turns.active.get_mut(key).filter(|a| a.timer.is_none()) else { return };
        let Some(due) = active.bots.iter().filter(|b| b.outcome.is_none()).map(|b| b.due).min() else {
            return;
        };
        let after = due.saturating_sub(active.written.elapsed());
        let timer = self.reactor.set_timer(after);
        active.timer = Some(timer);
        let kind = TimerPurpose::TurnDeadline(active.id, key);
        let alias = self.turns.no_alias.clone();
        self.own_timers.insert(timer, OwnTimer { alias, run: 0, kind });
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
        let app_bank = self.running.get(alias).map_or(Duration::ZERO, |r| r.overage);
        self.turns.bank(alias, app_bank)
    }
}

impl Turns {
    /// What is left of `alias`'s bank, `app_bank` if no turn changed it.
    pub(super) fn bank(&self, alias: &str, app_bank: Duration) -> Duration {
        bank_of(&self.banks, alias, app_bank)
    }
}

/// [`Turns::bank`] from the map of banks alone, for a caller that holds
/// another part of the turns.
pub(super) fn bank_of(
    banks: &HashMap<Arc<str>, Duration, AliasHash>,
    alias: &str,
    app_bank: Duration,
) -> Duration {
    if banks.is_empty() {
        return app_bank;
    }
    banks.get(alias).copied().unwrap_or(app_bank)
}

/// `error`, naming `alias` if it is a full queue's.
fn name_bot(error: Error, alias: &str) -> Error {
    match error {
        Error::QueueFull { queued, requested, limit, .. } => {
            Error::QueueFull { alias: Some(alias.to_string()), queued, requested, limit }
        }
        other => other,
    }
}

/// Checks a turn's shape before anything is looked up or written.
fn check_turn(turn: &Turn) -> Result<()> {
    if turn.bots.is_empty() {
        return Err(Error::InvalidSetting { setting: "a turn".into(), reason: "it names no bot" });
    }
    if turn.deadline.is_zero() {
        let setting = "the turn's deadline of 0 s".into();
        return Err(Error::InvalidSetting { setting, reason: "a bot needs some time to reply" });
    }
    Ok(())
}

/// How many bytes `channel` holds that were read before a write to it
/// (its output taken back, or gathered while paused): in line mode not a
/// partial last line, which ends with what the bot writes next (a prompt
/// and its answer are one line).
fn read_before(channel: &Channel) -> usize {
    let bytes = channel.buffered_bytes();
    if !channel.is_line_buffered() {
        return bytes.len();
    }
    memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1)
}

/// Whether `a` is `b`: the same `Arc` as a rule (the alias the loop hands
/// is the one the turn holds), else the same text.
fn same_alias(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// Whether `data` holds a line that starts with `prefix`: its first
/// bytes if they start a line (`starts_line`), or a line after a newline.
fn starts_a_line(data: &[u8], starts_line: bool, prefix: &[u8]) -> bool {
    (starts_line && data.starts_with(prefix))
        || memchr::memchr_iter(b'\n', data).any(|at| data[at + 1..].starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::starts_a_line;

    /// The payloads of a turn ask SIGPIPE's disposition once, not once a
    /// bot (and not at all where the kernel spares a pipe's writer SIGPIPE).
    #[test]
    fn a_turn_asks_sigpipe_s_disposition_once_for_all_its_writes() {
        use crate::runner::{App, Buffering, Runner, Turn};
        use crate::sys::signals::tests::QUERIES;
        let mut runner = Runner::new().unwrap();
        runner.add("cat", App::new("cat").buffering(Buffering::Line));
        let mut turn = Turn::new(std::time::Duration::from_secs(10));
        for i in 0..5 {
            let alias = format!("cat{i}");
            runner.start_with("cat", crate::runner::Start::new().alias(alias.as_str())).unwrap();
            turn = turn.bot(&alias, "move\n");
        }
        let before = QUERIES.get();
        runner.begin_turn(turn).unwrap();
        let expected = usize::from(!crate::sys::nosignal_supported());
        assert_eq!(QUERIES.get() - before, expected);
        runner.terminate_all();
    }

    #[test]
    fn a_prefix_matches_at_the_start_of_any_line_of_a_piece() {
        assert!(starts_a_line(b"bestmove e2e4\n", true, b"bestmove"));
        assert!(starts_a_line(b"info depth 1\nbestmove e2e4\n", true, b"bestmove"));
        assert!(!starts_a_line(b"info string no bestmove\n", true, b"bestmove"));
        assert!(!starts_a_line(b"info depth 1\n", true, b"bestmove"));
        assert!(!starts_a_line(b"info\n", true, b"bestmove"), "a piece ending in a newline");
    }

    #[test]
    fn a_prefix_at_the_start_of_a_continued_line_does_not_match() {
        assert!(!starts_a_line(b"bestmove e2e4\n", false, b"bestmove"));
        assert!(starts_a_line(b"e4\nbestmove e2e4\n", false, b"bestmove"), "a line after the newline");
    }
}
