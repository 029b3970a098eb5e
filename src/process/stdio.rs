//! How a child's stdio is wired, as an [`App`](crate::App) or a
//! [`Spawn`](crate::Spawn) asks: what carries stdin and stdout, where
//! stderr goes, and how our channel hands over what it reads.

/// How a channel hands over its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Buffering {
    /// Whatever bytes are there (the default).
    #[default]
    Bytes,
    /// Exactly one whole line at a time, `\n` included. A line longer
    /// than the channel's input capacity (64 KiB by default) comes in
    /// pieces of exactly that capacity, each without `\n` (the line goes
    /// on in the next piece): memory stays bounded and no byte is dropped.
    /// A last line without `\n` comes at end of stream.
    Line,
    /// Whole lines, as many as one read brought, in one `Data` event: for
    /// throughput, one handler call for many lines. Every piece ends with
    /// `\n`, except a line longer than the channel's input capacity
    /// (handed in pieces, as in [`Line`](Buffering::Line) mode) and the
    /// last piece at end of stream when the output does not end with a
    /// newline. A partial line waits in the channel's buffer until its
    /// newline or end of stream. A turn's bot needs `Line` (or `Bytes`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use procloop::{App, Buffering, Event, Runner};
    ///
    /// let mut runner = Runner::new()?;
    /// runner.add("seq", App::new("seq 1000").buffering(Buffering::WholeLines));
    /// runner.start("seq")?;
    /// let (mut lines, mut exited) = (0, false);
    /// while !exited {
    ///     runner.poll_once(Some(Duration::from_secs(5)), |_, event| match event {
    ///         Event::Data { data, .. } => {
    ///             assert_eq!(data.last(), Some(&b'\n'), "whole lines only");
    ///             lines += data.iter().filter(|&&b| b == b'\n').count();
    ///         }
    ///         Event::Exited { .. } => exited = true,
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(lines, 1000);
    /// # Ok::<(), procloop::Error>(())
    /// ```
    #[cfg_attr(feature = "serde", serde(rename = "whole_lines"))]
    WholeLines,
}

/// What happens to a child's stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Stderr {
    /// The child writes to our stderr (the default).
    #[default]
    Inherit,
    /// Discarded.
    Null,
    /// Into the same channel as stdout.
    Merge,
    /// A channel of its own: [`Runner::get_stderr`](crate::Runner::get_stderr),
    /// and [`Event::Stderr`](crate::Event::Stderr) when polling.
    Capture,
}

/// What carries a stdio child's stdin and stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Transport {
    /// Two pipes (the default): three fds per child with its pidfd. A child
    /// that closes its stdout gives end of stream while it still runs.
    #[default]
    Pipes,
    /// One UNIX socket pair as both stdin and stdout: two fds per child, so
    /// about half again as many children fit under the fd limit. The child
    /// sees stdin's end of stream through `shutdown`; end of stream on our
    /// side comes when the child has closed both stdin and stdout (usually:
    /// when it exits).
    SocketPair,
}
