//! The Runner's reactor tokens: the alias each stands for and the role it
//! plays for it (its output, its stderr, its process), in a table indexed
//! like the reactor's slab, so a lookup per event is an index, not a hash.
//! A token not in it is the user's own (see `view.rs`).

use std::sync::Arc;

use crate::reactor::token::Token;

/// The role a token of the Runner's plays for its alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
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
    role: Role,
}

#[derive(Debug, Default)]
pub(crate) struct Tokens(Vec<Option<Slot>>);

impl Tokens {
    pub(crate) fn insert(&mut self, token: Token, alias: Arc<str>, role: Role) {
        let index = token.index();
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(Slot { token, alias, role });
    }

    pub(crate) fn remove(&mut self, token: Token) {
        if self.get(token).is_some() {
            self.0[token.index()] = None;
        }
    }

    /// The alias and role behind `token`; `None` for a token that is not
    /// the Runner's. Inlined: it is asked once a batch of output.
    #[inline]
    pub(crate) fn get(&self, token: Token) -> Option<(&Arc<str>, Role)> {
        let slot = self.0.get(token.index())?.as_ref().filter(|s| s.token == token)?;
        Some((&slot.alias, slot.role))
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
            slot.role = Role::Abandoned;
        }
    }
}
