//! Handing over a batch of lines: the whole lines a step copied to the
//! delivery buffer after the line it handed over, each to the handler in
//! turn, without a trip round the loop (and its lookups) per line.
//!
//! The lines stay in their channel's buffer while they are handed over;
//! the table (`table.rs`) consumes them from there before it gives out any
//! entry. A line goes out only while the table says the batch holds: once
//! the handler has touched the channel, the batch goes on only if nobody
//! else took bytes from it and it is still registered, unpaused and in line
//! mode; otherwise the rest stays in the channel's buffer for the next step.

use super::Reactor;
use super::delivery::Delivery;
use crate::token::Token;

/// Hands each line of `token`'s batch in `delivery` to `hand` (which says
/// how many events it made of it, given the room left), until `room`
/// events were made; returns how many.
pub(crate) fn hand_lines<T>(
    owner: &mut T,
    reactor: &impl Fn(&mut T) -> &mut Reactor,
    token: Token,
    delivery: &mut Delivery,
    room: usize,
    mut hand: impl FnMut(&mut T, &[u8], usize) -> usize,
) -> usize {
    let Some(lines) = delivery.take_lines(token) else { return 0 };
    reactor(owner).entries.take_off(token);
    let (mut mark, mut handed, mut whole) = (lines.mark, 0, true);
    for line in delivery.lines(&lines) {
        if handed >= room {
            break; // the caller's cap, not the handler, cut it short
        }
        let table = &mut reactor(owner).entries;
        if !table.batch_holds(token, mark) {
            whole = false;
            break;
        }
        table.hand_over(line.len());
        mark += line.len() as u64;
        handed += hand(owner, line, room - handed);
    }
    reactor(owner).entries.land();
    delivery.batch_done(whole);
    handed
}
