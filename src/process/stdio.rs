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
    /// Exactly one whole line at a time.
    Line,
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
