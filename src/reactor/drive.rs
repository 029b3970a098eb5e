//! The loop behind every `poll_once`, the Reactor's and the Runner's: wait,
//! then turn each step into an event for the handler, until at least one
//! event was handed over, the timeout passed, or a waker or a signal ended
//! a wait.
//!
//! It is generic over who owns the reactor, so that the Runner's handler
//! gets the whole Runner while the reactor underneath runs the loop: the
//! Runner only turns reactor events into its own.

use std::mem;
use std::time::{Duration, Instant};

use super::batch::hand_lines;
use super::event::Step;
use super::wait::Woken;
use super::{Reactor, ReactorEvent};
use crate::error::Result;
use crate::timers::deadline_after;

/// Runs one `poll_once` on the reactor `reactor(owner)` gives. `handle`
/// gets each event and the room left under `max_events`, and says how many
/// events it handed on (none for an event its owner keeps to itself).
pub(crate) fn drive<T>(
    owner: &mut T,
    reactor: impl Fn(&mut T) -> &mut Reactor,
    timeout: Option<Duration>,
    max_events: usize,
    mut handle: impl FnMut(&mut T, ReactorEvent<'_>, usize) -> usize,
) -> Result<usize> {
    let deadline = timeout.map(deadline_after);
    // Owned by this loop while it runs: a nested poll gets a buffer of its
    // own and never hands over this one's bytes.
    let mut delivery = mem::take(&mut reactor(owner).delivery);
    let mut count = 0;
    let result = loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let woken = match reactor(owner).wait(left) {
            Ok(woken) => woken,
            Err(e) => break Err(e),
        };
        while count < max_events {
            let Some(step) = reactor(owner).next_step(&mut delivery) else { break };
            let batch_of = match step {
                Step::Data { token, .. } => Some(token),
                _ => None,
            };
            count += handle(owner, step.event(&delivery), max_events - count);
            if let Some(token) = batch_of.filter(|_| count < max_events) {
                count +=
                    hand_lines(owner, &reactor, token, &mut delivery, max_events - count, |o, data, room| {
                        handle(o, ReactorEvent::Data { token, data }, room)
                    });
            }
        }
        if count > 0 || woken != Woken::No || left.is_some_and(|l| l.is_zero()) {
            break Ok(count);
        }
    };
    reactor(owner).delivery = delivery;
    result
}
