//! The second half of `poll_once`: turning noted readiness into events, one
//! at a time, so the caller can hand each to its handler.

use std::mem;

use super::delivery::Delivery;
use super::entry::{ChannelState, Kind};
use super::{Reactor, Step};
use crate::channel::Fill;
use crate::error::Error;
use crate::token::Token;

/// How much a process's outputs are drained after its exit before the exit
/// is reported anyway: more than any pipe or socket buffer holds, so every
/// byte written before the exit comes first, yet a grandchild that keeps
/// writing cannot hold the exit back for ever.
const EXIT_DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// How many events in a row one entry may give before the others' turn.
const STREAK: usize = 64;

impl Reactor {
    /// The next event, its bytes (if any) in `delivery`;
    /// `None` when nothing more is ready or this call's budget is spent.
    pub(crate) fn next_step(&mut self, delivery: &mut Delivery) -> Option<Step> {
        if self.budget == 0 {
            return None;
        }
        if let Some(id) = self.fired.pop_front() {
            self.budget -= 1;
            return Some(Step::Timer { id });
        }
        // Keep serving the entry that just gave an event (lines in a row
        // skip the queue), up to a streak, then let the others have a turn.
        if let Some((token, streak)) = self.current.take() {
            if streak < STREAK {
                if let Some(step) = self.step(token, delivery) {
                    return Some(self.handed(token, streak + 1, step));
                }
                self.unqueue(token);
            } else {
                self.ready.push_back(token);
            }
        }
        while let Some(token) = self.ready.pop_front() {
            match self.step(token, delivery) {
                Some(step) => return Some(self.handed(token, 1, step)),
                None => self.unqueue(token),
            }
        }
        None
    }

    fn handed(&mut self, token: Token, streak: usize, step: Step) -> Step {
        self.current = Some((token, streak));
        self.budget -= 1;
        step
    }

    fn unqueue(&mut self, token: Token) {
        if let Some(entry) = self.entry(token) {
            entry.queued = false;
        }
    }

    fn step(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        match self.entry(token)?.kind {
            Kind::Channel(_) => self.step_channel(token, delivery),
            Kind::Server(_) => self.step_server(token),
            Kind::Process(_) => self.step_process(token, delivery),
        }
    }

    /// Flushes the write queue if writable, then hands over the next piece
    /// of input, reading at most until one piece is there.
    fn step_channel(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        let entry = self.entry(token)?;
        let (mut readable, hup) = (entry.readable, entry.hup);
        if mem::take(&mut entry.writable) {
            let state = entry.channel()?;
            if let Err(e) = state.channel.flush() {
                log::debug!("flush of {token:?}: {e}");
            }
        }
        let state = entry.channel()?;
        let mut blocked = false;
        let step = if state.paused {
            let full = buffer_input(state, &mut readable);
            blocked = full || (state.channel.at_eof() && state.channel.buffered() > 0);
            closed_once(state, token)
        } else {
            deliver(state, token, delivery, &mut readable, hup)
        };
        entry.readable = readable;
        if blocked && !self.blocked.contains(&token) {
            self.blocked.push(token);
        }
        step
    }

    /// Accepts one client and registers it.
    fn step_server(&mut self, token: Token) -> Option<Step> {
        let entry = self.entry(token)?;
        if !entry.readable {
            return None;
        }
        let Kind::Server(listener) = &entry.kind else { return None };
        match listener.accept() {
            Ok((channel, peer)) => match self.register(channel) {
                Ok(client) => Some(Step::Accepted { server: token, client, peer: Box::new(peer) }),
                Err(e) => {
                    log::warn!("cannot register a client of {token:?}: {e}");
                    self.step_server(token)
                }
            },
            Err(e) => {
                if !matches!(&e, Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock) {
                    log::warn!("accept on {token:?}: {e}");
                }
                self.entry(token)?.readable = false;
                None
            }
        }
    }

    /// After an exit: drains the outputs, then reaps and reports.
    fn step_process(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        let Kind::Process(state) = &mut self.entry(token)?.kind else { return None };
        match state.process.try_wait() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => log::warn!("waiting for {token:?}: {e}"),
        }
        let first_drain = state.drain_budget.is_none();
        let budget = *state.drain_budget.get_or_insert(EXIT_DRAIN_LIMIT);
        let outputs = state.outputs.len();
        if budget > 0 {
            for i in 0..outputs {
                let Kind::Process(state) = &self.entry(token)?.kind else { return None };
                let output = state.outputs[i];
                if first_drain && let Some(entry) = self.entry(output) {
                    entry.readable = true;
                }
                if let Some(step) = self.step_channel(output, delivery) {
                    self.spend_drain_budget(token, &step, delivery.batch_len(output));
                    return Some(step);
                }
            }
        }
        let process = self.take_process(token)?;
        let status = process.status()?;
        Some(Step::Exited { token, status })
    }

    /// Counts a drained piece, and the batch of lines behind it.
    fn spend_drain_budget(&mut self, token: Token, step: &Step, batch: usize) {
        let Some(Kind::Process(state)) = self.entry(token).map(|e| &mut e.kind) else { return };
        if let (Step::Data { len, .. }, Some(left)) = (step, &mut state.drain_budget) {
            *left = left.saturating_sub(*len + batch);
        }
    }
}

/// Hands over one piece: a buffered one, or one read now.
///
/// With nothing buffered, it reads straight into the delivery buffer and
/// hands over from there: all of it in byte mode, or in line mode its first
/// line (the rest goes to the channel's buffer, and its whole lines stay in
/// the delivery buffer as a batch).
fn deliver(
    state: &mut ChannelState,
    token: Token,
    delivery: &mut Delivery,
    readable: &mut bool,
    hup: bool,
) -> Option<Step> {
    loop {
        let channel = &mut state.channel;
        if let Some(len) = channel.piece_len() {
            return Some(delivery.hand_buffered(token, channel, len));
        }
        if channel.at_eof() || !*readable {
            return closed_once(state, token);
        }
        let direct = channel.buffered() == 0;
        let fill = if direct {
            channel.read_direct(delivery.read_space(channel.input_capacity()))
        } else {
            channel.fill_input()
        };
        match fill {
            Ok(Fill::Read { n, asked }) => {
                *readable = n == asked || hup;
                if direct && !channel.is_line_buffered() {
                    return Some(Step::Data { token, at: 0, len: n });
                }
                if direct && let Some(step) = delivery.hand_read_lines(token, channel, n) {
                    return Some(step);
                }
            }
            Ok(Fill::WouldBlock | Fill::Full) => *readable = false,
            Ok(Fill::Eof) => {}
            Err(e) => {
                log::warn!("read from {token:?}: {e}; treated as end of stream");
                channel.fail_read();
            }
        }
    }
}

/// Reads into a paused channel's buffer until it is full or the fd is
/// drained; true if it is full.
fn buffer_input(state: &mut ChannelState, readable: &mut bool) -> bool {
    while *readable && !state.channel.at_eof() {
        match state.channel.fill_input() {
            Ok(Fill::Read { .. }) => {}
            Ok(Fill::Full) => return true,
            Ok(Fill::WouldBlock) => *readable = false,
            Ok(Fill::Eof) => {}
            Err(e) => {
                log::warn!("read into a paused channel: {e}");
                *readable = false;
            }
        }
    }
    state.channel.input_is_full()
}

/// `Closed`, the first time the channel is at end of stream with nothing
/// left to hand over.
fn closed_once(state: &mut ChannelState, token: Token) -> Option<Step> {
    let channel = &state.channel;
    if channel.at_eof() && channel.buffered() == 0 && !state.closed_reported {
        state.closed_reported = true;
        return Some(Step::Closed { token });
    }
    None
}
