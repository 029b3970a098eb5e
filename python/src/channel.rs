//! `procloop.Channel`: a Python handle on one Rust channel, either its own
//! (over fds Python owns) or one of a Runner's (by alias).

use std::os::fd::{AsRawFd, RawFd};

use procloop::Channel as RustChannel;
use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyTuple};

use crate::config;
use crate::errors::{IntoPy, busy, endpoint_closed, forked_copy};
use crate::runner::PyRunner;

/// Where the Rust channel behind a handle lives.
enum Backing {
    /// Its own channel, over borrowed fds: Python's objects own them.
    Own(RustChannel),
    /// A Runner's channel, by alias; `generation` tells a restart of the
    /// same alias from this start (the handle then says EndpointClosed).
    Runner { runner: Py<PyRunner>, alias: String, stderr: bool, generation: u64 },
}

/// A non-blocking channel: ``read()`` returns what is there now (one line in
/// line mode, ``b''`` for nothing), ``write(*chunks)`` queues what the fd
/// won't take now. ``EndpointClosedException`` once the other end is gone
/// (after every buffered byte), or after ``close()`` (after the input
/// already buffered).
///
/// Made by ``Runner.get_channel`` / ``get_stderr``, or over fds that Python
/// owns with ``Channel.pipe`` and ``Channel.socket``: procloop never closes
/// those. Close the channel before its fds: an fd closed behind its back
/// gives EndpointClosedException, but one whose number was reused by a new
/// file is read and written as that file.
///
/// A channel belongs to the process that made it: used in a forked child
/// it raises ForkedCopyError and touches nothing.
#[pyclass(module = "procloop._native", name = "Channel")]
pub(crate) struct PyChannel {
    backing: Backing,
    /// The process that made it.
    owner_pid: u32,
}

impl PyChannel {
    /// A handle on a Runner's channel (its stdout/socket, or its stderr).
    pub(crate) fn of_runner(runner: Py<PyRunner>, alias: String, stderr: bool, generation: u64) -> PyChannel {
        PyChannel {
            backing: Backing::Runner { runner, alias, stderr, generation },
            owner_pid: std::process::id(),
        }
    }

    /// A channel over borrowed fds, its own.
    fn own(channel: RustChannel, buffering: procloop::Buffering) -> PyChannel {
        let mut channel = channel;
        channel.set_buffering(buffering);
        PyChannel { backing: Backing::Own(channel), owner_pid: std::process::id() }
    }

    /// Runs `f` on the Rust channel; EndpointClosed if it is gone.
    fn with<R>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut RustChannel) -> procloop::Result<R>,
    ) -> PyResult<R> {
        self.with_maybe(py, |channel| match channel {
            Some(channel) => f(channel).py(py),
            None => Err(endpoint_closed(py)),
        })
    }

    /// Runs `f` on the Rust channel, or on `None` if it is gone (its alias
    /// was terminated or started anew).
    fn with_maybe<R>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(Option<&mut RustChannel>) -> PyResult<R>,
    ) -> PyResult<R> {
        if std::process::id() != self.owner_pid {
            return Err(forked_copy(py, "Channel", self.owner_pid));
        }
        match &mut self.backing {
            Backing::Own(channel) => f(Some(channel)),
            Backing::Runner { runner, alias, stderr, generation } => {
                let mut runner = runner.bind(py).try_borrow_mut().map_err(|_| busy(py, "Runner"))?;
                f(runner.channel(alias, *stderr, *generation))
            }
        }
    }
}

#[pymethods]
impl PyChannel {
    /// A channel over pipe fds that Python keeps owning: ``faucet`` is read
    /// from, ``sink`` written to (either may be None). Both are made
    /// non-blocking; procloop never closes them.
    #[staticmethod]
    #[pyo3(signature = (faucet=None, sink=None, *, buffering=None))]
    fn pipe(
        py: Python<'_>,
        faucet: Option<&Bound<'_, PyAny>>,
        sink: Option<&Bound<'_, PyAny>>,
        buffering: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyChannel> {
        let buffering = config::buffering(buffering, "buffering")?;
        let faucet = faucet.map(|fd| config::int(fd, "faucet")).transpose()?;
        let sink = sink.map(|fd| config::int(fd, "sink")).transpose()?;
        let channel = RustChannel::from_borrowed_pipe(faucet, sink).py(py)?;
        Ok(PyChannel::own(channel, buffering))
    }

    /// A channel over a connected stream socket's fd that Python keeps
    /// owning (its ``socket`` object); made non-blocking, never closed here.
    #[staticmethod]
    #[pyo3(signature = (fd, *, buffering=None))]
    fn socket(
        py: Python<'_>,
        fd: &Bound<'_, PyAny>,
        buffering: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyChannel> {
        let buffering = config::buffering(buffering, "buffering")?;
        let fd: RawFd = config::int(fd, "fd")?;
        let channel = RustChannel::from_borrowed_socket(fd).py(py)?;
        Ok(PyChannel::own(channel, buffering))
    }

    /// What is there now, without blocking: ``b''`` for nothing, one whole
    /// line in line mode. EndpointClosedException at end of stream (after
    /// every buffered byte, a last partial line too) or after ``close()``
    /// (after the input buffered before it).
    fn read<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.with(py, |channel| {
            if channel.queued() > 0 {
                // Nothing else may flush a channel that is used without a loop.
                let _ = channel.flush();
            }
            channel.read()
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// As ``read()``, but in line mode whole lines and a trailing partial
    /// line at once (a prompt such as ``b"Name? "``); in bytes mode the
    /// same as ``read()``.
    fn read_available<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.with(py, |channel| {
            if channel.queued() > 0 {
                let _ = channel.flush();
            }
            channel.read_available()
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Writes the chunks as one write, without blocking: what the fd won't
    /// take now is queued and flushed by the next write, read or poll.
    /// EndpointClosedException if the other end is gone; QueueFullError if
    /// the chunks do not fit in the write queue (none is then taken).
    #[pyo3(signature = (*chunks))]
    fn write(&mut self, py: Python<'_>, chunks: &Bound<'_, PyTuple>) -> PyResult<()> {
        let chunks: Vec<PyBackedBytes> = chunks.extract()?;
        let slices: Vec<&[u8]> = chunks.iter().map(|c| &c[..]).collect();
        self.with(py, |channel| channel.write_chunks(&slices))
    }

    /// Pushes queued bytes to the fd now, as far as it takes them.
    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with(py, RustChannel::flush)
    }

    /// Bytes queued for writing and not written yet.
    #[getter]
    fn queued(&mut self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |c| Ok(c.queued()))
    }

    /// Bytes read from the fd and not handed over yet.
    #[getter]
    fn buffered(&mut self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |c| Ok(c.buffered()))
    }

    /// ``'line'`` in line mode, ``'whole_lines'`` in whole-lines mode (a
    /// read's whole lines at once), ``'bytes'`` otherwise.
    #[getter(buffering)]
    fn get_buffering(&mut self, py: Python<'_>) -> &'static str {
        match self.with(py, |c| Ok(c.buffering())) {
            Ok(procloop::Buffering::Line) => "line",
            Ok(procloop::Buffering::WholeLines) => "whole_lines",
            _ => "bytes",
        }
    }

    /// Stops using the fds (closing none that Python owns). Input already
    /// buffered is still returned by ``read()``, then EndpointClosedException;
    /// ``write()`` raises it at once.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with_maybe(py, |channel| {
            channel.map(RustChannel::close);
            Ok(())
        })
    }

    /// Half-closes: the peer reads end of stream once the queued bytes are
    /// written (a child sees its stdin's EOF); reading goes on.
    fn close_write(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |c| {
            c.close_write();
            Ok(())
        })
    }

    /// The fd to read from, for ``poll``/``select``; NotImplementedError for a
    /// write-only channel, EndpointClosedException once closed.
    fn get_fd(&mut self, py: Python<'_>) -> PyResult<RawFd> {
        match self.with(py, |c| Ok(c.read_fd().map(|fd| fd.as_raw_fd())))? {
            Some(fd) => Ok(fd),
            None => Err(PyNotImplementedError::new_err("this channel has no fd to read from")),
        }
    }

    /// The same as ``get_fd()``.
    fn fileno(&mut self, py: Python<'_>) -> PyResult<RawFd> {
        self.get_fd(py)
    }

    fn __repr__(&self) -> String {
        match &self.backing {
            Backing::Own(c) => {
                format!("<procloop.Channel over fd {:?}>", c.read_fd().map(|fd| fd.as_raw_fd()))
            }
            Backing::Runner { alias, stderr: false, .. } => format!("<procloop.Channel of {alias:?}>"),
            Backing::Runner { alias, .. } => format!("<procloop.Channel of {alias:?}'s stderr>"),
        }
    }
}
