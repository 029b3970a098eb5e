//! Each engine's `bestmove` lines counted against the `go`s it was sent:
//! one it was not asked for (two for one `go`, one before any) breaks the
//! protocol, and may already have been taken for the reply to a later
//! `go`, so its engine loses the game.

/// Counts for the two engines of a slot, from their (re)start.
#[derive(Debug, Default)]
pub struct Answers {
    asked: [u64; 2],
    answered: [u64; 2],
}

impl Answers {
    /// Engine `e` was sent a `go`.
    pub fn asked(&mut self, e: usize) {
        self.asked[e] += 1;
    }

    /// Engine `e` said `bestmove`: whether it was one too many. The count
    /// is then set back, so that one extra line is one breach.
    pub fn answered(&mut self, e: usize) -> bool {
        self.answered[e] += 1;
        let extra = self.answered[e] > self.asked[e];
        if extra {
            self.answered[e] = self.asked[e];
        }
        extra
    }

    /// Engine `e` was started again: it owes nothing.
    pub fn restarted(&mut self, e: usize) {
        self.asked[e] = 0;
        self.answered[e] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_bestmove_for_one_go_is_one_too_many() {
        let mut answers = Answers::default();
        answers.asked(0);
        assert!(!answers.answered(0));
        assert!(answers.answered(0));
        answers.asked(0);
        assert!(!answers.answered(0), "a breach is counted once");
    }

    #[test]
    fn a_late_bestmove_after_stop_is_owed_not_extra() {
        let mut answers = Answers::default();
        answers.asked(1); // timed out: no answer yet
        answers.asked(1); // the next game's first move
        assert!(!answers.answered(1) && !answers.answered(1));
        assert!(answers.answered(1));
    }

    #[test]
    fn a_bestmove_before_any_go_is_extra_and_a_restart_forgets() {
        let mut answers = Answers::default();
        assert!(answers.answered(0));
        answers.asked(0);
        answers.restarted(0);
        assert!(answers.answered(0));
    }
}
