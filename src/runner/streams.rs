//! Which alias and stream each reactor token of the Runner stands for: a
//! table indexed like the reactor's slab, so a lookup per event is an index,
//! not a hash.

use std::sync::Arc;

use crate::token::Token;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
    Process,
}

#[derive(Debug)]
struct Slot {
    token: Token,
    /// `None` while lent out to a handler.
    alias: Option<Arc<str>>,
    stream: Stream,
}

#[derive(Debug, Default)]
pub(crate) struct Streams(Vec<Option<Slot>>);

impl Streams {
    pub(crate) fn insert(&mut self, token: Token, alias: Arc<str>, stream: Stream) {
        let index = token.index();
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(Slot { token, alias: Some(alias), stream });
    }

    pub(crate) fn remove(&mut self, token: Token) {
        if self.slot(token).is_some() {
            self.0[token.index()] = None;
        }
    }

    /// Takes the alias out for the length of a handler call (no reference
    /// count is touched); give it back with [`give_back`](Self::give_back).
    pub(crate) fn lend(&mut self, token: Token) -> Option<(Arc<str>, Stream)> {
        let slot = self.slot(token)?;
        Some((slot.alias.take()?, slot.stream))
    }

    /// Returns a lent alias, unless its entry went away meanwhile.
    pub(crate) fn give_back(&mut self, token: Token, alias: Arc<str>) {
        if let Some(slot) = self.slot(token) {
            slot.alias.get_or_insert(alias);
        }
    }

    fn slot(&mut self, token: Token) -> Option<&mut Slot> {
        self.0.get_mut(token.index())?.as_mut().filter(|s| s.token == token)
    }
}
