//! The second half of `poll_once`: turning noted readiness into events, one
//! at a time, so the caller can hand each to its handler.

use std::mem;

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
    /// The next event, its bytes (if any) written to the front of `buf`;
    /// `None` when nothing more is ready or this call's budget is spent.
    pub(crate) fn next_step(&mut self, buf: &mut Vec<u8>) -> Option<Step> {
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
                if let Some(step) = self.step(token, buf) {
                    return Some(self.handed(token, streak + 1, step));
                }
                self.unqueue(token);
            } else {
                self.ready.push_back(token);
            }
        }
        while let Some(token) = self.ready.pop_front() {
            match self.step(token, buf) {
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

    fn step(&mut self, token: Token, buf: &mut Vec<u8>) -> Option<Step> {
        match self.entry(token)?.kind {
            Kind::Channel(_) => self.step_channel(token, buf),
            Kind::Server(_) => self.step_server(token),
            Kind::Process(_) => self.step_process(token, buf),
        }
    }

    /// Flushes the write queue if writable, then hands over the next piece
    /// of input, reading at most until one piece is there.
    fn step_channel(&mut self, token: Token, buf: &mut Vec<u8>) -> Option<Step> {
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
            deliver(state, token, buf, &mut readable, hup)
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
                Ok(client) => Some(Step::Accepted { server: token, client, peer }),
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
    fn step_process(&mut self, token: Token, buf: &mut Vec<u8>) -> Option<Step> {
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
                if let Some(step) = self.step_channel(output, buf) {
                    self.spend_drain_budget(token, &step);
                    return Some(step);
                }
            }
        }
        let process = self.take_process(token)?;
        let status = process.status()?;
        Some(Step::Exited { token, status })
    }

    fn spend_drain_budget(&mut self, token: Token, step: &Step) {
        let Some(Kind::Process(state)) = self.entry(token).map(|e| &mut e.kind) else { return };
        if let (Step::Data { len, .. }, Some(left)) = (step, &mut state.drain_budget) {
            *left = left.saturating_sub(*len);
        }
    }
}

/// Hands over one piece: a buffered one, or one read now.
///
/// With nothing buffered, it reads straight into `buf` and hands over from
/// there: all of it in byte mode, or in line mode the one whole line it
/// holds (its partial tail goes to the channel's buffer). Only several
/// lines in one read, or the rest of a partial line, go through the
/// channel's buffer.
fn deliver(
    state: &mut ChannelState,
    token: Token,
    buf: &mut Vec<u8>,
    readable: &mut bool,
    hup: bool,
) -> Option<Step> {
    loop {
        let channel = &mut state.channel;
        if let Some(len) = channel.piece_len() {
            copy_into(buf, &channel.buffered_bytes()[..len]);
            channel.consume(len);
            return Some(Step::Data { token, len });
        }
        if channel.at_eof() || !*readable {
            return closed_once(state, token);
        }
        let direct = channel.buffered() == 0;
        let fill = if direct {
            let capacity = channel.input_capacity();
            grow_to(buf, capacity);
            channel.read_direct(&mut buf[..capacity])
        } else {
            channel.fill_input()
        };
        match fill {
            Ok(Fill::Read { n, asked }) => {
                *readable = n == asked || hup;
                if direct {
                    let len = if channel.is_line_buffered() { single_line_len(&buf[..n]) } else { n };
                    channel.buffer(&buf[len..n]);
                    if len > 0 {
                        return Some(Step::Data { token, len });
                    }
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

/// The length of `data`'s first line if it is its only whole line; else 0
/// (no line, or several: they go through the channel's buffer).
fn single_line_len(data: &[u8]) -> usize {
    match memchr::memchr(b'\n', data) {
        Some(end) if memchr::memchr(b'\n', &data[end + 1..]).is_none() => end + 1,
        _ => 0,
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

fn grow_to(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}

fn copy_into(buf: &mut Vec<u8>, bytes: &[u8]) {
    grow_to(buf, bytes.len());
    buf[..bytes.len()].copy_from_slice(bytes);
}
