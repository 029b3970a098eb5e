//! The second half of `poll_once`: turning noted readiness into events, one
//! at a time, so the caller can hand each to its handler.

use std::mem;
use std::time::Duration;

use super::chores::Chore;
use super::delivery::Delivery;
use super::entry::{ChannelState, Kind};
use super::{Reactor, Step};
use crate::channel::Fill;
use crate::error::Error;
use crate::token::Token;

/// How much a process's output is drained after its exit, when the kernel
/// won't say how much it holds (the bytes in the channel's buffer and the
/// fd's `FIONREAD` at the exit, which bound what the child wrote before
/// exiting, whatever the buffer sizes; a grandchild that keeps writing
/// cannot hold the exit back for ever).
const EXIT_DRAIN_FALLBACK: usize = 16 * 1024 * 1024;

/// How long a server that ran out of fds waits before accepting again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How many events in a row one entry may give before the others' turn.
const STREAK: usize = 64;

impl Reactor {
    /// The next event, its bytes (if any) in `delivery`;
    /// `None` when nothing more is ready or this call's budget is spent.
    pub(crate) fn next_step(&mut self, delivery: &mut Delivery) -> Option<Step> {
        if self.budget == 0 {
            return None;
        }
        while let Some(id) = self.fired.pop_front() {
            if self.timers.hand_over(id) {
                self.budget -= 1;
                return Some(Step::Timer { id });
            }
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
        if let Some(entry) = self.entries.get(token) {
            entry.queued = false;
        }
    }

    fn step(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        match self.entries.get(token)?.kind {
            Kind::Channel(_) => self.step_channel(token, delivery),
            Kind::Server(_) => self.step_server(token),
            Kind::Process(_) => self.step_process(token, delivery),
        }
    }

    /// Flushes the write queue if writable, then hands over the next piece
    /// of input, reading at most until one piece is there.
    fn step_channel(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        let entry = self.entries.get(token)?;
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

    /// Accepts one client and registers it. When fds ran out, tries again
    /// after a pause: the clients already waiting won't say so again.
    fn step_server(&mut self, token: Token) -> Option<Step> {
        loop {
            let entry = self.entries.get(token)?;
            if !entry.readable {
                return None;
            }
            let Kind::Server(listener) = &entry.kind else { return None };
            let error = match listener.accept() {
                Ok((channel, peer)) => match self.register(channel) {
                    Ok(client) => {
                        return Some(Step::Accepted { server: token, client, peer: Box::new(peer) });
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match &error {
                Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    self.entries.get(token)?.readable = false;
                    return None;
                }
                Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                _ => {
                    log::warn!("accepting a client of {token:?}: {error}; trying again in {ACCEPT_RETRY:?}");
                    let at = crate::timers::deadline_after(ACCEPT_RETRY);
                    self.chores.add(at, token, Chore::Accept);
                    return None;
                }
            }
        }
    }

    /// After an exit: drains the outputs, then hands the exit over; the
    /// process waits in `exited` for the handler to take it, or to be
    /// dropped (and so reaped).
    fn step_process(&mut self, token: Token, delivery: &mut Delivery) -> Option<Step> {
        let Kind::Process(state) = &mut self.entries.get(token)?.kind else { return None };
        match state.process.try_wait() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => {
                log::warn!("waiting for {token:?}: {e}");
                return None;
            }
        }
        if state.drain_budget.is_none() {
            self.start_drain(token);
        }
        if self.drain_budget(token) > 0 {
            let mut i = 0;
            while let Some(output) = self.output(token, i) {
                i += 1;
                if let Some(step) = self.step_channel(output, delivery) {
                    self.spend_drain_budget(token, &step, delivery.batch_len(output));
                    return Some(step);
                }
            }
        }
        let process = self.take_process(token)?;
        let status = process.status()?;
        self.exited = Some((token, process));
        Some(Step::Exited { token, status })
    }

    /// Sets how much to drain after an exit: what the outputs hold now,
    /// in their buffers and in the kernel (every byte the child wrote
    /// before exiting is in there), and one more read to see end of stream.
    fn start_drain(&mut self, token: Token) {
        let mut budget = 1usize;
        let mut i = 0;
        while let Some(output) = self.output(token, i) {
            i += 1;
            let Some(entry) = self.entries.get(output) else { continue };
            entry.readable = true;
            let Some(state) = entry.channel() else { continue };
            let channel = &state.channel;
            let in_kernel = channel.read_fd().map_or(Ok(0), crate::sys::bytes_readable);
            budget =
                budget.saturating_add(channel.buffered()).saturating_add(in_kernel.unwrap_or_else(|e| {
                    log::debug!("FIONREAD on {output:?}: {e}");
                    EXIT_DRAIN_FALLBACK
                }));
        }
        if let Some(Kind::Process(state)) = self.entries.get(token).map(|e| &mut e.kind) {
            state.drain_budget = Some(budget);
        }
    }

    /// The `i`-th output channel of the process `token` (looked up each
    /// time: a step on an output may change the table).
    fn output(&mut self, token: Token, i: usize) -> Option<Token> {
        match &self.entries.get(token)?.kind {
            Kind::Process(state) => state.outputs.get(i).copied(),
            _ => None,
        }
    }

    fn drain_budget(&mut self, token: Token) -> usize {
        match self.entries.get(token).map(|e| &e.kind) {
            Some(Kind::Process(state)) => state.drain_budget.unwrap_or(0),
            _ => 0,
        }
    }

    /// Counts a drained piece, and the batch of lines behind it.
    fn spend_drain_budget(&mut self, token: Token, step: &Step, batch: usize) {
        let Some(Kind::Process(state)) = self.entries.get(token).map(|e| &mut e.kind) else { return };
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
