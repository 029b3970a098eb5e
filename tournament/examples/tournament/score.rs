//! What the tournament keeps count of: results from engine 0's side, time
//! losses, crashes and illegal moves of each engine, and the moves played.

use std::io::Write;

use shakmaty::Color;

use crate::game::{Game, Termination};

pub struct Score {
    /// Each engine's name: its `id name`, or its command until it says.
    names: [String; 2],
    named: [bool; 2],
    /// Engine 0's wins, draws and losses.
    pub wins: u32,
    pub draws: u32,
    pub losses: u32,
    pub time_losses: [u32; 2],
    pub crashes: [u32; 2],
    pub illegal: [u32; 2],
    /// Moves played (plies), in every game.
    pub moves: u64,
    pub games: u32,
}

impl Score {
    pub fn new(commands: &[String; 2]) -> Score {
        Score {
            names: commands.clone(),
            named: [false; 2],
            wins: 0,
            draws: 0,
            losses: 0,
            time_losses: [0; 2],
            crashes: [0; 2],
            illegal: [0; 2],
            moves: 0,
            games: 0,
        }
    }

    /// Engine `e` said its name; two engines of one name are told apart.
    pub fn name(&mut self, e: usize, name: String) {
        if std::mem::replace(&mut self.named[e], true) {
            return;
        }
        self.names[e] = name;
        if self.named == [true; 2] && self.names[0] == self.names[1] {
            self.names[0] += " (1)";
            self.names[1] += " (2)";
        }
    }

    pub fn names(&self) -> &[String; 2] {
        &self.names
    }

    pub fn record(&mut self, game: &Game) {
        let Some(ending) = game.ending else { return };
        self.games += 1;
        let engine = |colour: Color| if colour == Color::White { game.white } else { 1 - game.white };
        match ending.winner.map(engine) {
            Some(0) => self.wins += 1,
            Some(_) => self.losses += 1,
            None => self.draws += 1,
        }
        let loser = ending.winner.map(|w| engine(!w));
        let tally = match ending.termination {
            Termination::TimeForfeit => Some(&mut self.time_losses),
            Termination::Abandoned => Some(&mut self.crashes),
            Termination::RulesInfraction => Some(&mut self.illegal),
            Termination::Normal | Termination::Adjudication => None,
        };
        if let (Some(tally), Some(loser)) = (tally, loser) {
            tally[loser] += 1;
        }
        // One write: stderr is unbuffered, and `eprintln!` writes each
        // piece of the line with a syscall of its own.
        let line = format!(
            "game {}: {} - {}: {} by {} after {} plies\n",
            game.round,
            self.names[game.white],
            self.names[1 - game.white],
            ending.result(),
            ending.reason,
            game.plies()
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
