//! [`Token`]: a small handle to an entry of a [`Reactor`](crate::Reactor).

use std::sync::atomic::{AtomicU32, Ordering};

/// A registered channel, server or process in a [`Reactor`](crate::Reactor).
///
/// It carries its slot's generation, so a token of a removed entry never
/// answers for a new entry that reuses the slot. Generations are counted
/// for the whole process, so a token of another reactor (or Runner) does
/// not answer here either.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Token {
    index: u32,
    generation: u32,
}

/// Which fd of an entry a readiness event is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    /// The read end, the socket, the listener or the pidfd.
    Main,
    /// A pipe channel's write end.
    Write,
}

/// The generation of the next entry of any reactor of the process.
static GENERATION: AtomicU32 = AtomicU32::new(0);

pub(crate) fn next_generation() -> u32 {
    GENERATION.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

/// The mio token of the reactor's waker; no entry encodes to it.
pub(crate) const WAKER: mio::Token = mio::Token(usize::MAX);

const _: () = assert!(usize::BITS == 64, "procloop packs tokens into 64-bit words");

impl Token {
    pub(crate) fn new(index: usize, generation: u32) -> Token {
        let index = u32::try_from(index).ok().filter(|i| *i < 1 << 30);
        Token { index: index.expect("more than 2^30 reactor entries"), generation }
    }

    /// The slab slot.
    pub(crate) fn index(self) -> usize {
        self.index as usize
    }

    pub(crate) fn generation(self) -> u32 {
        self.generation
    }

    /// Packs generation, slot and side into one mio token.
    pub(crate) fn to_mio(self, side: Side) -> mio::Token {
        let side = match side {
            Side::Main => 0,
            Side::Write => 1,
        };
        mio::Token((self.generation as usize) << 32 | (self.index as usize) << 1 | side)
    }

    /// The inverse of [`to_mio`](Self::to_mio).
    pub(crate) fn from_mio(token: mio::Token) -> (Token, Side) {
        let raw = token.0;
        let side = if raw & 1 == 1 { Side::Write } else { Side::Main };
        let index = ((raw & 0xffff_ffff) >> 1) as u32;
        (Token { index, generation: (raw >> 32) as u32 }, side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mio_round_trip() {
        let token = Token::new(12345, 0xdead_beef);
        for side in [Side::Main, Side::Write] {
            assert_eq!(Token::from_mio(token.to_mio(side)), (token, side));
        }
        assert_ne!(Token::new(0, u32::MAX).to_mio(Side::Write), WAKER);
    }
}
