//! A turn of a bot loop, as the user describes it ([`Turn`]) and as the
//! loop reports it ([`TurnReport`], [`Outcome`]).

use std::sync::Arc;
use std::time::Duration;

/// One turn: a payload for each bot, and the time each has to reply.
///
/// [`Runner::begin_turn`](crate::Runner::begin_turn) writes each payload,
/// arms each bot's deadline and returns at once; the loop then hands
/// [`Event::Reply`](crate::Event::Reply) for each bot's first reply and
/// [`Event::TurnEnded`](crate::Event::TurnEnded) once every bot has an
/// [`Outcome`].
///
/// ```
/// use std::time::Duration;
/// use procloop::{Charge, Turn};
///
/// let turn = Turn::new(Duration::from_millis(100))
///     .bot("white", "position startpos\ngo nodes 2000\n")
///     .bot("black", "position startpos moves e2e4\ngo nodes 2000\n")
///     .charge(Charge::Cpu)
///     .freeze_between(true);
/// # let _ = turn;
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Turn does nothing until it is given to begin_turn"]
pub struct Turn {
    pub(crate) deadline: Duration,
    /// The bots' aliases one after another, so that naming a bot allocates
    /// nothing of its own (a turn is built every frame).
    aliases: String,
    /// Each bot's alias (where it ends in `aliases`) and payload.
    pub(crate) bots: Vec<(usize, Vec<u8>)>,
    pub(crate) charge: Charge,
    pub(crate) freeze_between: bool,
    pub(crate) reply_prefix: Option<Box<[u8]>>,
}

impl Turn {
    /// A turn in which each bot has `deadline` (plus what is left of its
    /// overage bank, [`App::overage`](crate::App::overage)) to reply.
    pub fn new(deadline: Duration) -> Turn {
        Turn {
            deadline,
            aliases: String::new(),
            bots: Vec::new(),
            charge: Charge::Wall,
            freeze_between: false,
            reply_prefix: None,
        }
    }

    /// Adds the bot `alias`, to which `payload` is written when the turn begins.
    pub fn bot(mut self, alias: &str, payload: impl Into<Vec<u8>>) -> Turn {
        self.aliases.push_str(alias);
        self.bots.push((self.aliases.len(), payload.into()));
        self
    }

    /// The alias of the `i`th bot named.
    pub(crate) fn alias(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.bots[i - 1].0 };
        &self.aliases[start..self.bots[i].0]
    }

    /// How a bot's time is counted (default [`Charge::Wall`]).
    pub fn charge(mut self, charge: Charge) -> Turn {
        self.charge = charge;
        self
    }

    /// Freezes each bot once it has replied or run out of time, so that no
    /// bot thinks on the others' time; a later turn that writes to it thaws
    /// it first. A frozen bot can still be stopped and terminated.
    pub fn freeze_between(mut self, on: bool) -> Turn {
        self.freeze_between = on;
        self
    }

    /// Makes each bot's reply its first line that starts with `prefix`:
    /// the lines before it come as [`Event::Data`](crate::Event::Data), and
    /// its clock runs until the reply. A UCI engine, which prints `info`
    /// lines while it thinks, replies with `bestmove`:
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::Turn;
    ///
    /// let turn = Turn::new(Duration::from_secs(1))
    ///     .bot("white", "position startpos\ngo nodes 2000\n")
    ///     .reply_prefix("bestmove");
    /// # let _ = turn;
    /// ```
    ///
    /// Without line buffering, the reply is the first piece read that holds
    /// a line starting with `prefix` (the whole piece). An empty prefix is
    /// the default: the first line is the reply.
    ///
    /// Only the start of a line counts: a line longer than the channel's
    /// input capacity comes in pieces, and a piece that continues it is
    /// never the reply, whatever it starts with.
    pub fn reply_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Turn {
        let prefix = prefix.into();
        self.reply_prefix = (!prefix.is_empty()).then(|| prefix.into_boxed_slice());
        self
    }
}

/// How a bot's time in a turn is counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Charge {
    /// Wall-clock time from the write to the reply (the default). No CPU
    /// clock is read: [`Outcome::Replied`]'s `cpu` is `None`.
    #[default]
    Wall,
    /// The bot's CPU time in the turn (its process's CPU clock; with a
    /// cgroup, its whole tree's), with ten
    /// times its deadline in wall time as a backstop: a harness under load
    /// never costs a bot its turn. Its deadline here is all it may use:
    /// the turn's deadline plus what is left of its bank (else a bank
    /// larger than ten deadlines could never be spent). A bot with several threads may use its
    /// CPU time faster than the clock runs, and is then timed out up to
    /// that much later.
    Cpu,
}

/// Names one turn: `Copy`, `Eq`, `Hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TurnId(pub(crate) u64);

/// How one bot's turn went.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It replied in time.
    Replied {
        /// The time charged: wall time under [`Charge::Wall`], CPU time
        /// under [`Charge::Cpu`].
        elapsed: Duration,
        /// Its CPU time in this turn, under [`Charge::Cpu`] (where the
        /// clock can be read). `None` under [`Charge::Wall`]: the loop
        /// reads no CPU clock there (two system calls a bot and turn);
        /// [`Runner::cpu_time`](crate::Runner::cpu_time) reads it on demand.
        cpu: Option<Duration>,
    },
    /// It did not reply within its deadline and what was left of its bank
    /// (which is now empty).
    TimedOut,
    /// It ended (or was stopped or terminated) before replying.
    Exited,
}

/// What a finished turn gives: each bot's [`Outcome`], and how late the
/// harness itself was.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnReport {
    pub(crate) outcomes: Vec<(Arc<str>, Outcome)>,
    pub(crate) harness_delay: Duration,
}

impl TurnReport {
    /// The outcome of `alias`; `None` if it was not in the turn.
    pub fn outcome(&self, alias: &str) -> Option<Outcome> {
        self.outcomes.iter().find(|(a, _)| &**a == alias).map(|(_, o)| *o)
    }

    /// Each bot and its outcome, in the order the turn named them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Outcome)> {
        self.outcomes.iter().map(|(alias, outcome)| (&**alias, *outcome))
    }

    /// The most any reply sat readable before the loop handed it over
    /// (from the wake-up of the wait that saw it readable): the harness's
    /// own delay, not charged to the bot.
    pub fn harness_delay(&self) -> Duration {
        self.harness_delay
    }
}
