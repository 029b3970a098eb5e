//! The alias `get_channel` was last asked for, and its channel's token: a
//! loop of requests asks for the same alias again and again, and one
//! string compare is cheaper than hashing it and probing the map. Every
//! change to the running aliases forgets it.

use std::sync::Arc;

use crate::reactor::token::Token;

#[derive(Debug, Default)]
pub(super) struct LastChannel(Option<(Arc<str>, Token)>);

impl LastChannel {
    /// The token of `alias`'s channel, if `alias` was the last one asked for.
    #[inline]
    pub(super) fn get(&self, alias: &str) -> Option<Token> {
        let (last, token) = self.0.as_ref()?;
        (**last == *alias).then_some(*token)
    }

    /// Notes `alias`'s channel, found in the map.
    pub(super) fn set(&mut self, alias: &Arc<str>, token: Token) {
        self.0 = Some((Arc::clone(alias), token));
    }

    /// Forgets it: an alias started, restarted, connected or freed.
    pub(super) fn forget(&mut self) {
        self.0 = None;
    }
}
