//! An alias's life: start (and restart), stop and signal without waiting,
//! wait for one child with a deadline, and the calls that end children and
//! free aliases, each wait bounded.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use super::command;
use super::connect::SocketStart;
use super::peer::Owner;
use super::restart::{Restart, RestartState};
use super::running::{Origin, OwnEvent, OwnEventKind, Running};
use super::socket;
use super::tokens::Role;
use super::{Runner, Start};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::process::cgroup::Leaf;
use crate::process::launch::{self as spawn, Placement, Spawned};
use crate::process::signal::Signal;
use crate::process::{Process, end_all, end_all_by};
use crate::reactor::timers::deadline_after;
use crate::reactor::token::Token;

impl Runner {
    /// Starts `app` under its own name; returns the pid.
    /// `Err(Error::ProcessExists)` if that alias is taken.
    pub fn start(&mut self, app: &str) -> Result<u32> {
        self.start_with(app, Start::new())
    }

    /// Starts `app` with an alias, extra arguments or overrides; returns the
    /// pid. A failed start leaves nothing running and the alias free.
    ///
    /// A socket app's start waits (up to its socket wait) until it can
    /// connect, unless [`Start::nowait`] says to connect in the loop.
    ///
    /// ```
    /// use procloop::{App, Error, Runner, Start};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("sleep", App::new("sleep"));
    /// runner.start_with("sleep", Start::new().alias("nap").args(["60"]))?;
    /// assert!(runner.is_running("nap"));
    /// let again = runner.start_with("sleep", Start::new().alias("nap").args(["60"]));
    /// assert!(matches!(again, Err(Error::ProcessExists(alias)) if alias == "nap"));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn start_with(&mut self, app: &str, opts: Start) -> Result<u32> {
        self.owned()?;
        let config = self.apps.get(app).ok_or_else(|| Error::UnknownApp(app.to_string()))?;
        let alias: Arc<str> = Arc::from(opts.alias.as_deref().unwrap_or(app));
        if self.running.contains_key(&alias) {
            return Err(Error::ProcessExists(alias.to_string()));
        }
        let restarts = config.restart.when != Restart::Never;
        let mut running = self.launch(&alias, app, &opts, opts.nowait)?;
        if restarts {
            running.origin =
                Some(Box::new(Origin { app: app.to_string(), opts, restart: RestartState::default() }));
        }
        let pid = running.pid;
        self.running.insert(alias, Box::new(running));
        Ok(pid)
    }

    /// Starts `app` unless its alias is taken; returns the pid either way.
    pub fn ensure_running(&mut self, app: &str) -> Result<u32> {
        self.ensure_running_with(app, Start::new())
    }

    /// As [`ensure_running`](Self::ensure_running), with start options.
    ///
    /// ```
    /// use procloop::{App, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("cat", App::new("cat"));
    /// let first = runner.ensure_running("cat")?;
    /// assert_eq!(runner.ensure_running("cat")?, first, "the running one is kept");
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn ensure_running_with(&mut self, app: &str, opts: Start) -> Result<u32> {
        self.owned()?;
        let alias = opts.alias.as_deref().unwrap_or(app);
        match self.running.get(alias) {
            Some(running) => Ok(running.pid),
            None => self.start_with(app, opts),
        }
    }

    /// Spawns a process of `app` for `alias` (in a cgroup leaf of its own,
    /// with cgroups) and registers it: a new run, not yet in the registry.
    /// A socket app is connected first, or with `in_loop` connects in the
    /// loop. On failure nothing is left running, and no leaf.
    fn launch(&mut self, alias: &Arc<str>, app: &str, opts: &Start, in_loop: bool) -> Result<Running> {
        let config = self.apps.get(app).ok_or_else(|| Error::UnknownApp(app.to_string()))?;
        let leaf = self.contain.leaf_for(&config.limits)?;
        let placed = leaf.as_ref().map(Leaf::placement).transpose().map_err(Error::from);
        let launched = placed.and_then(|cgroup| {
            let placement = Placement { cgroup, own_group: self.contain.own_group() };
            self.launch_placed(alias, app, opts, in_loop, placement)
        });
        match launched {
            Ok(mut running) => {
                running.leaf = leaf;
                Ok(running)
            }
            Err(e) => {
                self.contain.remove(leaf.into_iter().collect());
                Err(e)
            }
        }
    }

    fn launch_placed(
        &mut self,
        alias: &Arc<str>,
        app: &str,
        opts: &Start,
        in_loop: bool,
        placement: Placement,
    ) -> Result<Running> {
        let config = self.apps.get(app).ok_or_else(|| Error::UnknownApp(app.to_string()))?;
        let (grace, wait, overage) = (config.grace, config.socket_wait, config.overage);
        let command = command::of(config, opts)?;
        spawn::check(&command)?;
        if let Some(socket) = &command.socket {
            socket::clear_socket_path(socket)?;
        }
        let mut spawned = spawn::spawn(&command, self.path.as_deref(), &mut self.programs, placement)?;
        if !in_loop {
            connect_now(&mut spawned, wait)?;
        }
        let connecting = spawned.channel.is_none().then(|| spawned.socket.clone()).flatten();
        let process = spawned.process.get();
        let owner = Owner { pid: process.pid(), group: process.is_group_leader() };
        let buffering = spawned.buffering;
        self.runs += 1;
        let mut running = self.register(alias, spawned, grace)?;
        running.overage = overage;
        if let Some(path) = connecting {
            self.begin_connect(alias, &mut running, SocketStart { path, wait, buffering, owner });
        }
        Ok(running)
    }

    /// Registers a started process and its channels under `alias`.
    fn register(&mut self, alias: &Arc<str>, spawned: Spawned, grace: Duration) -> Result<Running> {
        let Spawned { mut process, channel, stderr, .. } = spawned;
        let pid = process.get().pid();
        let mut outputs = Vec::new();
        for (channel, role) in [(channel, Role::Stdout), (stderr, Role::Stderr)] {
            let Some(channel) = channel else { continue };
            match self.reactor.register(channel) {
                Ok(token) => outputs.push((token, role)),
                Err(e) => {
                    outputs.iter().for_each(|(t, _)| drop(self.reactor.unregister(*t)));
                    return Err(e);
                }
            }
        }
        let tokens: Vec<Token> = outputs.iter().map(|(t, _)| *t).collect();
        let token = self.reactor.watch_process(process.keep(), &tokens);
        for (output, role) in &outputs {
            self.tokens.insert(*output, alias.clone(), *role);
        }
        self.tokens.insert(token, alias.clone(), Role::Process);
        let find = |wanted| outputs.iter().find(|(_, s)| *s == wanted).map(|(t, _)| *t);
        Ok(Running {
            run: self.runs,
            origin: None,
            pid,
            channel: find(Role::Stdout),
            stderr: find(Role::Stderr),
            process: Some(token),
            ended: None,
            grace,
            overage: std::time::Duration::ZERO,
            stopped: false,
            connecting: None,
            leaf: None,
            tree_kill: None,
        })
    }

    /// Starts `alias` again with what it was started with, in place of its
    /// exited process; leaves a `Restarted` event, or `GaveUp` if it won't
    /// start (the alias then stays exited, as it was). A socket app is
    /// connected in the loop, never here, and its `Restarted` waits for
    /// that connection.
    pub(super) fn restart(&mut self, alias: &Arc<str>) {
        let Some(running) = self.running.get_mut(alias) else { return };
        let (Some(status), Some(origin)) = (running.status(), running.origin.as_mut()) else { return };
        origin.restart.pending = None;
        let (app, opts) = (origin.app.clone(), origin.opts.clone());
        match self.launch(alias, &app, &opts, true) {
            Ok(mut fresh) => {
                let held = fresh.connecting.is_some();
                if let Some(connecting) = fresh.connecting.as_mut() {
                    connecting.restarted = Some(status);
                }
                if let Some(mut old) = self.running.insert(alias.clone(), Box::new(fresh)) {
                    end_leftovers(&old);
                    self.forget(&old);
                    self.contain.retire(old.leaf.take());
                    let fresh = self.running.get_mut(alias).expect("just inserted");
                    fresh.origin = old.origin.take();
                }
                if !held {
                    self.push_own_event(alias, OwnEventKind::Restarted(status));
                }
            }
            Err(e) => {
                log::warn!("restarting {alias}: {e}");
                self.push_own_event(alias, OwnEventKind::GaveUp(status));
            }
        }
    }

    /// Asks `alias`'s process to end and returns at once: SIGTERM now (to
    /// its group with `setpgrp`), SIGKILL from the loop once the app's
    /// grace has passed; once the child has exited, what is left of its
    /// group is killed at once. The exit comes as
    /// [`Event::Exited`](super::Event::Exited), and the restart policy does
    /// not restart it. Stopping again, or an
    /// alias that has exited, is Ok and does nothing more. With a cgroup,
    /// every process of its tree gets the SIGTERM (a frozen tree is thawed
    /// first), and the whole tree is killed (`cgroup.kill`) once the child's
    /// exit is seen or the grace has passed, whichever comes first: a child
    /// stuck in the kernel past its SIGKILL does not keep the rest alive.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Event, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("sleep", App::new("sleep 60"));
    /// runner.start("sleep")?;
    /// runner.stop("sleep")?;
    /// let mut exited = false;
    /// while !exited {
    ///     runner.poll_once(Some(Duration::from_secs(5)), |_, event| {
    ///         exited |= matches!(event, Event::Exited { .. });
    ///     })?;
    /// }
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn stop(&mut self, alias: &str) -> Result<()> {
        self.owned()?;
        if self.turns.froze(alias) {
            self.thaw_bot(alias); // a stopped process would not see its SIGTERM
        }
        let running = self.running.get_mut(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        running.stopped = true;
        running.connecting = None;
        let (process, grace) = (running.process, running.grace);
        if let Some(leaf) = running.leaf.as_mut().filter(|_| process.is_some()) {
            term_tree(leaf, running.pid);
        }
        if let Some(timer) = running.origin.as_mut().and_then(|o| o.restart.pending.take()) {
            self.reactor.cancel_timer(timer);
            self.own_timers.remove(&timer);
        }
        if let Some(token) = process {
            self.reactor.stop_process(token, grace)?;
            self.kill_tree_at_grace(alias);
        }
        Ok(())
    }

    /// Whether nothing could ever produce an event; then `poll_once(None)`
    /// returns `Ok(0)` at once instead of waiting for ever.
    ///
    /// Idle means: no event waiting, no process running (an alias whose
    /// process exited, whose output was drained and whose `Exited` was
    /// handed over counts as spent, even while its alias stays taken), no
    /// restart or connection pending, no timer set, no listening socket or
    /// channel of your own that can still give an event (one whose
    /// `Closed` was handed over cannot), and no [`Waker`](crate::Waker) made.
    pub fn is_idle(&self) -> bool {
        self.own_events.is_empty() && self.reactor.is_idle()
    }

    /// [`stop`](Self::stop) for every alias; returns at once.
    pub fn stop_all(&mut self) {
        if self.owned().is_err() {
            return;
        }
        let aliases: Vec<Arc<str>> = self.running.keys().cloned().collect();
        for alias in aliases {
            if let Err(e) = self.stop(&alias) {
                log::warn!("stopping {alias}: {e}");
            }
        }
    }

    /// Sends `signal` to `alias`'s process (and to its group with
    /// `setpgrp`). Once the process has exited it does nothing, but for a
    /// `setpgrp` app whose group lives on.
    pub fn signal(&mut self, alias: &str, signal: Signal) -> Result<()> {
        self.owned()?;
        let running = self.running.get(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        match (running.process, &running.ended) {
            (Some(token), _) => match self.reactor.process(token) {
                Some(process) => process.send(signal),
                None => Ok(()),
            },
            (None, Some(ended)) if ended.is_group_leader() => ended.signal_group(signal),
            (None, _) => Ok(()),
        }
    }

    /// Waits up to `timeout` for `alias`'s process to exit, for code
    /// without a loop; `None` if it still runs. It waits for that child
    /// only and consumes nothing: other children's output stays readable,
    /// and every event, this alias's `Exited` included, is still handed
    /// over by a later `poll_once`. After a [`stop`](Self::stop), the
    /// SIGKILL due at the end of its grace is sent by the wait if no loop
    /// sent it first.
    pub fn wait(&mut self, alias: &str, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.owned()?;
        let running = self.running.get(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        if let Some(status) = running.status() {
            return Ok(Some(status));
        }
        match running.process.and_then(|token| self.reactor.process(token)) {
            Some(process) => process.wait_timeout(timeout),
            None => Ok(None),
        }
    }

    /// Ends `alias`: SIGTERM (to its whole group with `setpgrp`), up to its
    /// grace period (what is left of it after a [`stop`](Self::stop)), then
    /// SIGKILL; always reaps, closes its channels and frees the alias. For a
    /// process that exited by itself, it just reaps (and ends what is left
    /// of its group). With a cgroup, every process of its tree gets the
    /// SIGTERM, and it returns once the rest of the tree is killed and its
    /// leaf removed (at most 2 s more). It waits; [`stop`](Self::stop) is
    /// the way that doesn't.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use procloop::{App, Error, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("cat", App::new("cat"));
    /// runner.start("cat")?;
    /// let status = runner.terminate("cat")?;
    /// assert_eq!(status.signal(), Some(15), "ended by SIGTERM");
    /// assert!(runner.get_channel("cat").is_none());
    /// assert!(matches!(runner.terminate("cat"), Err(Error::NoSuchProcess(_))));
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn terminate(&mut self, alias: &str) -> Result<ExitStatus> {
        self.owned()?;
        if self.turns.froze(alias) {
            self.thaw_bot(alias);
        }
        self.turn_forget(alias);
        let mut running =
            self.running.remove(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        self.cancel_restart(&mut running);
        self.cancel_tree_kill(&mut running);
        let mut process = self.take_process(&mut running);
        // A stopped tree had its SIGTERM; the kill below ends what is left.
        if let Some(leaf) = running.leaf.as_mut().filter(|_| !running.stopped) {
            term_tree(leaf, running.pid);
        }
        // Signalled before its channels close: a child that ends at its
        // stdin's end of stream must not beat the SIGTERM to it.
        if let Some(process) = process.as_mut() {
            end_all(&mut [process], running.grace);
        }
        self.forget(&running);
        self.contain.remove(running.leaf.take().into_iter().collect());
        process.and_then(|p| p.status()).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))
    }

    /// [`terminate`](Self::terminate), waiting at most `limit`: for a host
    /// that must answer its own signals while a child ends (the Python
    /// package calls it in 50 ms slices, so that Ctrl-C is answered).
    /// `Ok(Some(status))` once `alias` is ended, as `terminate` gives it;
    /// `Ok(None)` if `limit` passed first: `alias` is then
    /// [`stop`](Self::stop)ped (SIGTERM sent, SIGKILL due once its grace
    /// has passed) and stays taken, and a call again goes on where this one
    /// left off (the grace is not started anew). The loop, `terminate` or
    /// dropping the Runner end it too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("sleep", App::new("sleep 60"));
    /// runner.start("sleep")?;
    /// let status = loop {
    ///     // ... answer signals here ...
    ///     if let Some(status) = runner.terminate_within("sleep", Duration::from_millis(50))? {
    ///         break status;
    ///     }
    /// };
    /// assert!(!status.success());
    /// # Ok::<(), procloop::Error>(())
    /// ```
    pub fn terminate_within(&mut self, alias: &str, limit: Duration) -> Result<Option<ExitStatus>> {
        self.stop(alias)?;
        let running = self.running.get_mut(alias).ok_or_else(|| Error::NoSuchProcess(alias.to_string()))?;
        let process = match running.process {
            Some(token) => self.reactor.process(token),
            None => running.ended.as_deref_mut(),
        };
        if let Some(process) = process
            && !end_all_by(&mut [process], running.grace, Some(deadline_after(limit)))
        {
            return Ok(None);
        }
        self.terminate(alias).map(Some)
    }

    /// Ends every process: SIGTERM to all, each its own grace period (all
    /// at once), then SIGKILL to the rest; reaps all and closes every
    /// channel. It waits; [`stop_all`](Self::stop_all) is the way that doesn't.
    pub fn terminate_all(&mut self) {
        if self.owned().is_err() {
            return;
        }
        for (timer, _) in self.own_timers.drain() {
            self.reactor.cancel_timer(timer);
        }
        let frozen: Vec<Arc<str>> = self.running.keys().filter(|a| self.turns.froze(a)).cloned().collect();
        frozen.iter().for_each(|alias| self.thaw_bot(alias));
        self.own_events.clear();
        self.forget_all_turns(); // after the clear: their reports come
        // Taken whole, not copied out: the copy was this loop's peak memory.
        let mut all = std::mem::take(&mut self.running);
        let mut processes = Vec::with_capacity(all.len());
        for running in all.values_mut().filter(|r| r.process.is_some()) {
            if let Some(leaf) = running.leaf.as_mut() {
                term_tree(leaf, running.pid);
            }
        }
        for running in all.values_mut() {
            if let Some(mut process) = self.take_process(running) {
                if let Err(e) = process.stop(running.grace) {
                    log::warn!("stopping pid {}: {e}", process.pid());
                }
                processes.push(process);
            }
        }
        for token in std::mem::take(&mut self.abandoned) {
            processes.extend(self.reactor.take_process(token));
        }
        let mut refs: Vec<&mut Process> = processes.iter_mut().collect();
        end_all(&mut refs, Duration::ZERO);
        all.values().for_each(|r| self.forget(r));
        self.contain.remove(all.values_mut().filter_map(|r| r.leaf.take()).collect());
    }

    /// The process of a run, from the reactor or, once its exit was handed
    /// over, from the run itself.
    fn take_process(&mut self, running: &mut Running) -> Option<Process> {
        match running.process.take() {
            Some(token) => {
                self.tokens.remove(token);
                self.reactor.take_process(token)
            }
            None => running.ended.take().map(|process| *process),
        }
    }

    fn cancel_restart(&mut self, running: &mut Running) {
        if let Some(timer) = running.origin.as_mut().and_then(|o| o.restart.pending.take()) {
            self.reactor.cancel_timer(timer);
            self.own_timers.remove(&timer);
        }
    }

    /// Drops a run's channels and token mappings.
    pub(super) fn forget(&mut self, running: &Running) {
        for token in running.channel.into_iter().chain(running.stderr).chain(running.process) {
            self.tokens.remove(token);
            self.reactor.discard(token);
        }
    }

    pub(super) fn push_own_event(&mut self, alias: &Arc<str>, kind: OwnEventKind) {
        let run = self.running.get(alias).map_or(0, |r| r.run);
        self.own_events.push_back(OwnEvent { alias: alias.clone(), run, kind });
    }
}

/// Connects a socket start, waiting up to `wait` for its socket to appear
/// (the Python runner's blocking way); a stdio start has its channel already.
fn connect_now(spawned: &mut Spawned, wait: Duration) -> Result<()> {
    let Some(path) = spawned.socket.as_ref().filter(|_| spawned.channel.is_none()) else { return Ok(()) };
    let mut channel = Channel::from_socket_fd(socket::connect(path, spawned.process.get(), wait)?);
    channel.set_buffering(spawned.buffering);
    spawned.channel = Some(channel);
    Ok(())
}

/// SIGTERM to every process of a child's tree but the child itself (which
/// gets its own, with its group), thawed first: a frozen tree cannot act on it.
fn term_tree(leaf: &mut Leaf, child: u32) {
    leaf.thaw_if_frozen();
    if let Err(e) = leaf.signal_all(Signal::SIGTERM, Some(child)) {
        log::warn!("SIGTERM to the tree in {}: {e}", leaf.dir().display());
    }
}

/// What is left of a restarted run's process group: its leader crashed, so
/// the rest of the group is ended with it.
fn end_leftovers(old: &Running) {
    if let Some(ended) = old.ended.as_deref().filter(|p| p.is_group_leader())
        && let Err(e) = ended.signal_group(Signal::SIGKILL)
    {
        log::warn!("ending what is left of pid {}'s group: {e}", ended.pid());
    }
}
