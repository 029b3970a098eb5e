//! The reactor's table of entries: a slab whose slots are looked up by
//! token, a stale token (its slot reused since) finding nothing.

use slab::Slab;

use super::entry::{ChannelState, Entry, Kind};
use super::token::Token;

#[derive(Debug, Default)]
pub(crate) struct Table {
    slab: Slab<Entry>,
}

impl Table {
    /// The entry behind `token`.
    #[inline]
    pub(crate) fn get(&mut self, token: Token) -> Option<&mut Entry> {
        self.slab.get_mut(token.index()).filter(|e| e.generation == token.generation())
    }

    /// The entry behind `token`, for a look.
    pub(crate) fn peek(&self, token: Token) -> Option<&Entry> {
        self.slab.get(token.index()).filter(|e| e.generation == token.generation())
    }

    /// The channel behind `token`.
    pub(crate) fn channel(&mut self, token: Token) -> Option<&mut ChannelState> {
        self.get(token)?.channel()
    }

    /// Adds an entry; it must land at `token`'s index (from [`vacant`](Self::vacant)).
    pub(crate) fn insert(&mut self, token: Token, kind: Kind) {
        let index = self.slab.insert(Entry::new(token.generation(), kind));
        debug_assert_eq!(index, token.index());
    }

    /// The index the next entry gets.
    pub(crate) fn vacant(&self) -> usize {
        self.slab.vacant_key()
    }

    /// Removes the entry behind `token`.
    pub(crate) fn remove(&mut self, token: Token) -> Option<Entry> {
        self.get(token)?;
        Some(self.slab.remove(token.index()))
    }

    /// The tokens of every entry `picked` picks.
    pub(crate) fn tokens_where(&self, mut picked: impl FnMut(Token, &Entry) -> bool) -> Vec<Token> {
        self.slab
            .iter()
            .map(|(i, e)| (Token::new(i, e.generation), e))
            .filter(|(token, e)| picked(*token, e))
            .map(|(token, _)| token)
            .collect()
    }

    /// Every entry, for a look that touches no channel's input.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().map(|(_, entry)| entry)
    }

    /// Every entry, to change (the reactor's drop ends its processes).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.slab.iter_mut().map(|(_, entry)| entry)
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// The entry behind a mio event's token, for noting readiness.
    pub(crate) fn for_readiness(&mut self, token: Token) -> Option<&mut Entry> {
        self.get(token)
    }
}
