//! [`Waker`]: makes a waiting `poll_once` return, from any thread.

use std::sync::Arc;

use crate::error::Result;

/// Wakes the [`Reactor`](crate::Reactor) (or [`Runner`](crate::Runner)) it
/// came from: a `poll_once` that waits, or the next one, returns at once.
///
/// ```
/// let mut reactor = procloop::Reactor::new()?;
/// let waker = reactor.waker()?;
/// let thread = std::thread::spawn(move || waker.wake());
/// // Without the waker, this would wait forever.
/// reactor.poll_once(None, |_, _| {})?;
/// thread.join().unwrap()?;
/// # Ok::<(), procloop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Waker(pub(crate) Arc<mio::Waker>);

impl Waker {
    /// Wakes the reactor.
    pub fn wake(&self) -> Result<()> {
        Ok(self.0.wake()?)
    }
}
