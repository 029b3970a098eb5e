//! An example's error as `main` returns it, shown by its message: Rust
//! prints a returned error with `Debug`, which for a message is the
//! message in quotes with its own quotes escaped.

use std::fmt;

/// Any error, shown as its `Display` where `main` shows `Debug`.
pub struct Failure(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure(error.into())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
