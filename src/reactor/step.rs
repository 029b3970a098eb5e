//! The steps of servers and processes in a fill (a channel's is in
//! `fill.rs`): accepting a client; after a child's exit, draining its
//! outputs (a partial line too), then queueing the exit.

use std::time::Duration;

use super::Reactor;
use super::deadlines::Deadline;
use super::entry::Kind;
use super::poll::Queued;
use super::token::Token;
use crate::error::Error;

/// How much a process's output is drained after its exit, when the kernel
/// won't say how much it holds (the bytes in the channel's buffer and the
/// fd's `FIONREAD` at the exit, which bound what the child wrote before
/// exiting, whatever the buffer sizes; a grandchild that keeps writing
/// cannot hold the exit back for ever).
const EXIT_DRAIN_FALLBACK: usize = 16 * 1024 * 1024;

/// How long a server that ran out of fds waits before accepting again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

impl Reactor {
    /// Accepts one client, registers it and queues `Accepted`; true if
    /// more may wait. When fds ran out, tries again after a pause: the
    /// clients already waiting won't say so again.
    pub(super) fn step_server(&mut self, token: Token) -> bool {
        loop {
            let Some(entry) = self.entries.get(token).filter(|e| e.readable) else { return false };
            let Kind::Server(listener) = &entry.kind else { return false };
            let error = match listener.accept() {
                Ok((channel, peer)) => match self.register(channel) {
                    Ok(client) => {
                        self.queue.push(Queued::Accepted { server: token, client, peer: Box::new(peer) });
                        return true;
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match &error {
                Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(entry) = self.entries.get(token) {
                        entry.readable = false;
                    }
                    return false;
                }
                Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                _ => {
                    log::warn!("accepting a client of {token:?}: {error}; trying again in {ACCEPT_RETRY:?}");
                    let at = super::timers::deadline_after(ACCEPT_RETRY);
                    self.deadlines.add(at, token, Deadline::RetryAccept);
                    return false;
                }
            }
        }
    }

    /// After an exit: drains the outputs (one step of each; true while
    /// they give), then queues the exit. The process stays in the table
    /// until its `Exited` is handed over.
    pub(super) fn step_process(&mut self, token: Token, arena: &mut Vec<u8>) -> bool {
        let Some(Kind::Process(state)) = self.entries.get(token).map(|e| &mut e.kind) else { return false };
        let status = match state.process.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return false,
            Err(e) => {
                log::warn!("waiting for {token:?}: {e}");
                return false;
            }
        };
        if state.drain_budget.is_none() {
            self.start_drain(token);
        }
        if self.drain_budget(token) > 0 {
            let (mut i, mut drained) = (0, false);
            while let Some(output) = self.output(token, i) {
                i += 1;
                if let Some(bytes) = self.step_channel(output, arena) {
                    self.spend_drain_budget(token, bytes);
                    drained = true;
                }
            }
            if drained {
                return true;
            }
        }
        self.hand_partial_lines(token, arena);
        self.queue.push(Queued::Exited { token, status });
        false
    }

    /// Queues, before the exit, the partial line each output (in a line
    /// mode) still holds: every byte the child wrote comes before its
    /// `Exited`. A grandchild that holds the pipe may finish that line or
    /// never; what it writes later is a piece of its own. A paused output
    /// keeps its bytes.
    fn hand_partial_lines(&mut self, token: Token, arena: &mut Vec<u8>) {
        let mut i = 0;
        while let Some(output) = self.output(token, i) {
            i += 1;
            let Reactor { entries, queue, .. } = self;
            let Some(state) = entries.get(output).and_then(|e| e.channel()) else { continue };
            let len = state.channel.buffered();
            // Whole lines still buffered mean the drain is not over (its
            // budget ran out): they come one a step, as ever.
            if len == 0 || state.paused || state.channel.buffered_bytes().contains(&b'\n') {
                continue;
            }
            let at = arena.len();
            arena.extend_from_slice(state.channel.buffered_bytes());
            state.channel.consume(len);
            queue.push_for(state, Queued::Data { token: output, at, len });
        }
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
            state.drained_by = Some(token);
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

    /// Counts drained bytes.
    fn spend_drain_budget(&mut self, token: Token, bytes: usize) {
        if let Some(Kind::Process(state)) = self.entries.get(token).map(|e| &mut e.kind)
            && let Some(left) = &mut state.drain_budget
        {
            *left = left.saturating_sub(bytes);
        }
    }

    /// Gives back to a process's drain what a handler put back in one of
    /// its outputs (and one more byte, to read on: its `Exited` may have
    /// been taken back too): those bytes will be drained again.
    pub(super) fn refund_drain_budget(&mut self, token: Token, bytes: usize) {
        if let Some(Kind::Process(state)) = self.entries.get(token).map(|e| &mut e.kind)
            && let Some(left) = &mut state.drain_budget
        {
            *left = left.saturating_add(bytes + 1);
        }
    }
}
