//! A slot's engines started, a few slots at a time: `uci`, then the Hash
//! option and `isready`, each step within a limit that grows with the
//! machine's load; an engine that does not start fails its slot, named.

use std::time::Duration;

use procloop::{Charge, Outcome, Runner, Start, Turn, TurnReport};

use super::{Step, Tournament};

/// Slots whose engines start at once: the others wait, so that no
/// engine's start-up, slowed by the others', misses its limit.
const STARTING_AT_ONCE: usize = 4;
/// Wall time an engine has for each step of its start and for `isready`
/// on a machine with a core for each engine thinking: wall time, so that
/// an engine that never answers is given up on in that time (a CPU
/// clock's wall backstop was ten times as long). With more engines
/// thinking than cores it is that many times longer (`start_limit`).
const START_LIMIT: Duration = Duration::from_secs(15);

impl Tournament {
    /// Starts queued slots while fewer than `STARTING_AT_ONCE` start.
    pub(super) fn start_queued(&mut self, runner: &mut Runner) {
        while self.starting < STARTING_AT_ONCE
            && let Some(i) = self.queued.pop_front()
        {
            self.starting += 1;
            self.slots[i].starting = true;
            self.start_engines(runner, i, &[0, 1]);
        }
    }

    /// (Re)starts the slot's engines `which`, and sends them `uci`.
    pub(super) fn start_engines(&mut self, runner: &mut Runner, i: usize, which: &[usize]) {
        let mut turn = Turn::new(self.start_limit()).charge(Charge::Wall).reply_prefix("uciok");
        for &e in which {
            let alias = self.slots[i].aliases[e].clone();
            if runner.exit_status(&alias).is_some() {
                let _ = runner.terminate(&alias);
            }
            if let Err(error) = runner.start_with(&format!("engine{e}"), Start::new().alias(&alias)) {
                return self.fail(runner, i, format!("starting {}: {error}", self.opts.engines[e]));
            }
            self.slots[i].answers.restarted(e);
            turn = turn.bot(&alias, "uci\n");
        }
        self.begin_turn(runner, i, Step::Uci, turn, which.len());
    }

    /// The engines started said `uciok`: the Hash option, then `isready`.
    pub(super) fn uci_answered(&mut self, runner: &mut Runner, i: usize, report: &TurnReport) {
        let mut turn = Turn::new(self.start_limit()).charge(Charge::Wall).reply_prefix("readyok");
        let payload = match self.opts.hash {
            Some(mib) => format!("setoption name Hash value {mib}\nisready\n"),
            None => "isready\n".into(),
        };
        let mut bots = 0;
        for (alias, _) in report.iter() {
            turn = turn.bot(alias, payload.as_str());
            bots += 1;
        }
        self.begin_turn(runner, i, Step::Ready, turn, bots);
    }

    /// The engines started said `readyok`: the slot's next game, and the next
    /// queued slot's start.
    pub(super) fn ready_answered(&mut self, runner: &mut Runner, i: usize) {
        if std::mem::take(&mut self.slots[i].starting) {
            self.starting -= 1;
            self.start_queued(runner);
        }
        self.ready_game(runner, i);
    }

    /// An engine did not answer a start-up step: the slot fails, each such
    /// engine named.
    pub(super) fn not_started(&mut self, runner: &mut Runner, i: usize, report: &TurnReport) {
        let failed: Vec<String> = report
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Replied { .. }))
            .map(|(alias, outcome)| self.did_not_start(i, alias, outcome))
            .collect();
        self.fail(runner, i, format!("slot {i}: {}", failed.join("; ")));
    }

    /// The time a start-up step has now: `START_LIMIT`, times the engines
    /// thinking per core when they are more than the cores, so that a start
    /// on a loaded machine (256 engines on 2 cores) gets its share of time.
    pub(super) fn start_limit(&self) -> Duration {
        let load = (self.busy / self.cores).max(1);
        START_LIMIT.saturating_mul(u32::try_from(load).unwrap_or(u32::MAX))
    }

    /// Why engine `alias` of slot `i` did not start, its command named.
    fn did_not_start(&self, i: usize, alias: &str, outcome: Outcome) -> String {
        let e = (self.slots[i].aliases[1] == alias) as usize;
        let why = match outcome {
            Outcome::TimedOut => "did not answer in time",
            _ => "ended",
        };
        format!("{} did not start: it {why}", self.opts.engines[e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_on_a_loaded_machine_has_its_share_of_time() {
        let opts = crate::options::parse(["--nodes", "100"].map(String::from)).expect("good options");
        let mut t = Tournament::new(opts, "2026.12.06".into()).expect("no PGN to create");
        t.cores = 2;
        assert_eq!(t.start_limit(), START_LIMIT);
        t.busy = 3;
        assert_eq!(t.start_limit(), START_LIMIT, "no more engines per core than one");
        t.busy = 256;
        assert_eq!(t.start_limit(), START_LIMIT * 128);
    }
}
