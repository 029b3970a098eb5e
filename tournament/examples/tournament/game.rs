//! One game of chess by the rules: only legal moves, its end (mate,
//! stalemate, repetition, 50 moves, dead position, a move limit, time,
//! a crash, an illegal move) and its PGN.

use std::fmt::Write;

use shakmaty::san::{San, Suffix};
use shakmaty::uci::UciMove;
use shakmaty::zobrist::{Zobrist64, ZobristHash};
use shakmaty::{Chess, Color, EnPassantMode, MoveList, Position};

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
    /// The legal moves in `pos`: generated once a move, for the move's
    /// check, its SAN, and the end of the game.
    legal: MoveList,
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
            legal: pos.legal_moves(),
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

    /// The UCI `position` command for the position now, its line ended,
    /// with room for `more` bytes after it (the `go` line).
    pub fn position(&self, more: usize) -> String {
        let mut command = String::with_capacity(32 + self.uci.len() + more);
        command.push_str("position startpos");
        if !self.uci.is_empty() {
            command.push_str(" moves ");
            command.push_str(self.uci.trim_end());
        }
        command.push('\n');
        command
    }

    /// Plays the engine's `bestmove` line; an illegal or unreadable move
    /// loses. Returns the game's end, if this was its last move.
    pub fn play(&mut self, bestmove: &[u8], max_plies: usize) -> Option<Ending> {
        let word = bestmove.split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty() && *w != b"bestmove");
        let mode = self.pos.castles().mode();
        let uci = word.and_then(|w| UciMove::from_ascii(w).ok());
        // Found among the legal moves as the engine wrote it, or else as
        // shakmaty reads it (castling as king takes rook, say).
        let found = |uci: UciMove| match self.legal.iter().find(|m| m.to_uci(mode) == uci) {
            Some(m) => Some(m.clone()),
            None => uci.to_move(&self.pos).ok(),
        };
        let Some(m) = uci.and_then(found) else {
            return self.forfeit(Termination::RulesInfraction, "an illegal move");
        };
        let irreversible = self.pos.is_irreversible(&m);
        if self.pos.turn() == Color::White {
            let _ = write!(self.movetext, "{}. ", self.plies / 2 + 1);
        }
        m.to_uci(mode).append_to_string(&mut self.uci);
        self.uci.push(' ');
        San::disambiguate(&m, &self.legal).append_to_string(&mut self.movetext);
        self.pos.play_unchecked(&m);
        self.legal = self.pos.legal_moves();
        let check = self.pos.is_check();
        match (check, self.legal.is_empty()) {
            (true, true) => self.movetext.push(Suffix::Checkmate.char()),
            (true, false) => self.movetext.push(Suffix::Check.char()),
            _ => {}
        }
        self.movetext.push(' ');
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
        if self.legal.is_empty() && self.pos.is_check() {
            let winner = Some(!self.pos.turn());
            return Some(Ending { winner, termination: Termination::Normal, reason: "checkmate" });
        }
        if self.legal.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A game after `moves` (UCI, each a `bestmove` line); the last ending.
    fn played(moves: &str) -> (Game, Option<Ending>) {
        let mut game = Game::new(1, 0);
        let mut ending = None;
        for m in moves.split_whitespace() {
            assert!(ending.is_none(), "{m} after the end");
            ending = game.play(format!("bestmove {m} ponder a7a6").as_bytes(), 0);
        }
        (game, ending)
    }

    #[test]
    fn a_mate_ends_the_game_and_gets_its_sign() {
        let (game, ending) = played("f2f3 e7e5 g2g4 d8h4");
        let ending = ending.expect("mate");
        assert_eq!((ending.winner, ending.reason), (Some(Color::Black), "checkmate"));
        assert_eq!(game.movetext, "1. f3 e5 2. g4 Qh4# ");
        assert_eq!(game.uci, "f2f3 e7e5 g2g4 d8h4 ");
    }

    #[test]
    fn a_stalemate_is_a_draw() {
        // Sam Loyd's ten-move stalemate.
        let moves =
            "e2e3 a7a5 d1h5 a8a6 h5a5 h7h5 h2h4 a6h6 a5c7 f7f6 c7d7 e8f7 d7b7 d8d3 b7b8 d3h7 b8c8 f7g6 c8e6";
        let (game, ending) = played(moves);
        let ending = ending.expect("stalemate");
        assert_eq!((ending.winner, ending.reason), (None, "stalemate"));
        assert!(game.movetext.contains("6. Qxd7+ Kf7"), "{}", game.movetext);
    }

    #[test]
    fn a_move_two_pieces_could_make_names_its_file() {
        let (game, ending) = played("g1f3 g8f6 b1c3 b8c6 f3d4 f6d5 d4b5");
        assert!(ending.is_none());
        assert!(game.movetext.ends_with("4. Ndb5 "), "{}", game.movetext);
    }

    #[test]
    fn an_illegal_or_unreadable_move_loses() {
        for bad in ["e2e5", "e7e5", "xyz", ""] {
            let mut game = Game::new(1, 0);
            let ending = game.play(format!("bestmove {bad}").as_bytes(), 0).expect("a loss");
            assert_eq!(
                (ending.winner, ending.termination),
                (Some(Color::Black), Termination::RulesInfraction)
            );
        }
    }

    #[test]
    fn castling_as_king_takes_rook_is_read_too() {
        let (game, ending) = played("e2e4 e7e5 g1f3 b8c6 f1c4 g8f6 e1h1");
        assert!(ending.is_none());
        assert!(game.movetext.ends_with("4. O-O "), "{}", game.movetext);
        assert!(game.uci.ends_with(" e1g1 "), "{}", game.uci);
    }

    #[test]
    fn the_move_limit_draws() {
        let mut game = Game::new(1, 0);
        assert!(game.play(b"bestmove e2e4", 2).is_none());
        let ending = game.play(b"bestmove e7e5", 2).expect("the limit");
        assert_eq!((ending.winner, ending.termination), (None, Termination::Adjudication));
    }
}
