//! Which alias and stream each reactor token of the Runner stands for: a
//! table indexed like the reactor's slab, so a lookup per event is an index,
//! not a hash. A token not in it is the user's own (see `view.rs`).

use std::sync::Arc;

use crate::token::Token;

/// What a token of the Runner's is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// An alias's stdout (or socket, or terminal).
    Stdout,
    /// An alias's captured stderr.
    Stderr,
    /// An alias's process.
    Process,
    /// A process the Runner ended on its own (a `nowait` start that
    /// failed), reaped in the loop without an event.
    Abandoned,
}

#[derive(Debug)]
struct Slot {
    token: Token,
    alias: Arc<str>,
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
        self.0[index] = Some(Slot { token, alias, stream });
    }

    pub(crate) fn remove(&mut self, token: Token) {
        if self.get(token).is_some() {
            self.0[token.index()] = None;
        }
    }

    /// The alias and stream behind `token`; `None` for a token that is not
    /// the Runner's.
    pub(crate) fn get(&self, token: Token) -> Option<(&Arc<str>, Stream)> {
        let slot = self.0.get(token.index())?.as_ref().filter(|s| s.token == token)?;
        Some((&slot.alias, slot.stream))
    }

    /// Whether `token` is the Runner's.
    pub(crate) fn owns(&self, token: Token) -> bool {
        self.get(token).is_some()
    }

    /// Marks a process token as abandoned.
    pub(crate) fn abandon(&mut self, token: Token) {
        if let Some(Some(slot)) =
            self.0.get_mut(token.index()).filter(|s| s.as_ref().is_some_and(|s| s.token == token))
        {
            slot.stream = Stream::Abandoned;
        }
    }
}
