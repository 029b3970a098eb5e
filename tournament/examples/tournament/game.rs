//! One game of chess by the rules: only legal moves, its end (mate,
//! stalemate, repetition, 50 moves, dead position, a move limit, time,
//! a crash, an illegal move) and its PGN.

use std::fmt::Write;

use shakmaty::san::SanPlus;
use shakmaty::uci::UciMove;
use shakmaty::zobrist::{Zobrist64, ZobristHash};
use shakmaty::{Chess, Color, EnPassantMode, Position};

/// How a game ended, as PGN's `Termination` tag names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    Normal,
    Adjudication,
    TimeForfeit,
    Abandoned,
    RulesInfraction,
}

impl Termination {
    fn tag(self) -> &'static str {
        match self {
            Termination::Normal => "normal",
            Termination::Adjudication => "adjudication",
            Termination::TimeForfeit => "time forfeit",
            Termination::Abandoned => "abandoned",
            Termination::RulesInfraction => "rules infraction",
        }
    }
}

/// The end of a game: the winner (`None`: a draw), how, and why in words.
#[derive(Clone, Copy, Debug)]
pub struct Ending {
    pub winner: Option<Color>,
    pub termination: Termination,
    pub reason: &'static str,
}

impl Ending {
    pub fn result(&self) -> &'static str {
        match self.winner {
            Some(Color::White) => "1-0",
            Some(Color::Black) => "0-1",
            None => "1/2-1/2",
        }
    }
}

pub struct Game {
    pub round: usize,
    /// Which engine (0 or 1) plays White.
    pub white: usize,
    pos: Chess,
    /// The moves so far as UCI speaks them, each followed by a space.
    uci: String,
    /// The movetext so far, in SAN with move numbers.
    movetext: String,
    /// The positions since the last capture or pawn move, for repetitions.
    since_irreversible: Vec<Zobrist64>,
    plies: usize,
    pub ending: Option<Ending>,
}

impl Game {
    pub fn new(round: usize, white: usize) -> Game {
        let pos = Chess::default();
        let start = pos.zobrist_hash(EnPassantMode::Legal);
        Game {
            round,
            white,
            pos,
            uci: String::new(),
            movetext: String::new(),
            since_irreversible: vec![start],
            plies: 0,
            ending: None,
        }
    }

    /// The side to move.
    pub fn turn(&self) -> Color {
        self.pos.turn()
    }

    /// The engine (0 or 1) to move.
    pub fn engine_to_move(&self) -> usize {
        if self.turn() == Color::White { self.white } else { 1 - self.white }
    }

    pub fn plies(&self) -> usize {
        self.plies
    }

    /// The UCI `position` command for the position now, followed by `go`.
    pub fn position_and(&self, go: &str) -> String {
        let mut command = String::with_capacity(32 + self.uci.len() + go.len());
        command.push_str("position startpos");
        if !self.uci.is_empty() {
            command.push_str(" moves ");
            command.push_str(self.uci.trim_end());
        }
        command.push('\n');
        command.push_str(go);
        command
    }

    /// Plays the engine's `bestmove` line; an illegal or unreadable move
    /// loses. Returns the game's end, if this was its last move.
    pub fn play(&mut self, bestmove: &[u8], max_plies: usize) -> Option<Ending> {
        let word = bestmove.split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty() && *w != b"bestmove");
        let legal =
            word.and_then(|w| UciMove::from_ascii(w).ok()).and_then(|uci| uci.to_move(&self.pos).ok());
        let Some(m) = legal else {
            return self.forfeit(Termination::RulesInfraction, "an illegal move");
        };
        let irreversible = self.pos.is_irreversible(&m);
        if self.pos.turn() == Color::White {
            let _ = write!(self.movetext, "{}. ", self.plies / 2 + 1);
        }
        let _ = write!(self.uci, "{} ", m.to_uci(self.pos.castles().mode()));
        let san = SanPlus::from_move_and_play_unchecked(&mut self.pos, &m);
        let _ = write!(self.movetext, "{san} ");
        self.plies += 1;
        if irreversible {
            self.since_irreversible.clear();
        }
        self.since_irreversible.push(self.pos.zobrist_hash(EnPassantMode::Legal));
        self.ending = self.rules_ending(max_plies);
        self.ending
    }

    /// The end the rules give the position now, if any.
    fn rules_ending(&self, max_plies: usize) -> Option<Ending> {
        let draw = |termination, reason| Some(Ending { winner: None, termination, reason });
        if self.pos.is_checkmate() {
            let winner = Some(!self.pos.turn());
            return Some(Ending { winner, termination: Termination::Normal, reason: "checkmate" });
        }
        if self.pos.is_stalemate() {
            return draw(Termination::Normal, "stalemate");
        }
        if self.pos.is_insufficient_material() {
            return draw(Termination::Normal, "insufficient material");
        }
        let now = self.since_irreversible.last();
        if self.since_irreversible.iter().filter(|h| Some(*h) == now).count() >= 3 {
            return draw(Termination::Normal, "threefold repetition");
        }
        if self.pos.halfmoves() >= 100 {
            return draw(Termination::Normal, "the 50-move rule");
        }
        if max_plies > 0 && self.plies >= max_plies {
            return draw(Termination::Adjudication, "the move limit");
        }
        None
    }

    /// The side to move loses (`how`, `reason`).
    pub fn forfeit(&mut self, how: Termination, reason: &'static str) -> Option<Ending> {
        self.lose(self.pos.turn(), how, reason)
    }

    /// `loser` loses (`how`, `reason`); on time, against a side that could
    /// not mate, it draws instead.
    pub fn lose(&mut self, loser: Color, how: Termination, reason: &'static str) -> Option<Ending> {
        let winner = !loser;
        let ending = if how == Termination::TimeForfeit && self.pos.has_insufficient_material(winner) {
            Ending { winner: None, termination: how, reason: "time, against a side that cannot mate" }
        } else {
            Ending { winner: Some(winner), termination: how, reason }
        };
        self.ending = Some(ending);
        self.ending
    }

    /// The game in PGN, `names` being the engines' (0 and 1).
    pub fn pgn(&self, names: &[String; 2], date: &str, time_control: &str) -> String {
        let ending = self.ending.expect("a finished game");
        let (white, black) = (&names[self.white], &names[1 - self.white]);
        let mut pgn = String::with_capacity(400 + self.movetext.len());
        let tags = [
            ("Event", "procloop tournament"),
            ("Site", "?"),
            ("Date", date),
            ("Round", &self.round.to_string()),
            ("White", white),
            ("Black", black),
            ("Result", ending.result()),
            ("Termination", ending.termination.tag()),
            ("TimeControl", time_control),
            ("PlyCount", &self.plies.to_string()),
        ];
        for (tag, value) in tags {
            let value = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(pgn, "[{tag} \"{value}\"]");
        }
        pgn.push('\n');
        let mut line = 0;
        for word in self.movetext.split_whitespace().chain([ending.result()]) {
            if line > 0 && line + 1 + word.len() > 79 {
                pgn.push('\n');
                line = 0;
            } else if line > 0 {
                pgn.push(' ');
                line += 1;
            }
            pgn.push_str(word);
            line += word.len();
        }
        pgn.push_str("\n\n");
        pgn
    }
}
