//! Whether to read a channel right after the user wrote to it, before the
//! kernel says it is readable. That read saves a wait while the peer
//! answers at once (a request and its reply through `cat`), and is wasted
//! (an `EAGAIN`, and the wait that comes anyway) each time it does not
//! (an engine that thinks for milliseconds before its reply). So two
//! misses in a row stop it, and it is tried again every 16th write.

/// Consecutive misses after which a channel is no longer read on spec.
const GIVE_UP_AFTER: u8 = 2;
/// Writes let pass, once given up, before trying again.
const RETRY_EVERY: u8 = 16;

/// A channel's record of its reads on spec.
#[derive(Debug, Default)]
pub(crate) struct Speculation {
    /// Misses in a row, then (once given up) the writes let pass since.
    misses: u8,
    /// A read on spec was decided and its result is not noted yet.
    pending: bool,
}

impl Speculation {
    /// Whether to read on spec after this write; counts the ones let pass.
    pub(crate) fn try_now(&mut self) -> bool {
        if self.misses < GIVE_UP_AFTER || self.misses >= GIVE_UP_AFTER + RETRY_EVERY {
            self.pending = true;
            return true;
        }
        self.misses += 1;
        false
    }

    /// Notes what the channel's next read found, if it was one on spec.
    pub(crate) fn found(&mut self, something: bool) {
        if !std::mem::take(&mut self.pending) {
            return;
        }
        self.misses = match something {
            true => 0,
            false if self.misses >= GIVE_UP_AFTER => GIVE_UP_AFTER,
            false => self.misses + 1,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `writes` writes whose reads on spec find `answered`; returns
    /// how many were read on spec.
    fn run(speculation: &mut Speculation, writes: usize, answered: bool) -> usize {
        let mut tried = 0;
        for _ in 0..writes {
            if speculation.try_now() {
                tried += 1;
                speculation.found(answered);
            }
        }
        tried
    }

    #[test]
    fn a_peer_that_answers_at_once_is_always_read_on_spec() {
        assert_eq!(run(&mut Speculation::default(), 100, true), 100);
    }

    #[test]
    fn a_slow_peer_is_read_on_spec_twice_then_every_sixteenth_write() {
        let mut speculation = Speculation::default();
        assert_eq!(run(&mut speculation, 2, false), 2);
        assert_eq!(run(&mut speculation, 16, false), 0);
        assert_eq!(run(&mut speculation, 17, false), 1);
    }

    #[test]
    fn one_answer_at_once_starts_it_again() {
        let mut speculation = Speculation::default();
        run(&mut speculation, 18, false);
        assert_eq!(run(&mut speculation, 1, true), 1);
        assert_eq!(run(&mut speculation, 10, true), 10);
    }

    #[test]
    fn a_read_that_was_not_on_spec_changes_nothing() {
        let mut speculation = Speculation::default();
        run(&mut speculation, 2, false);
        speculation.found(true);
        assert!(!speculation.try_now());
    }
}
