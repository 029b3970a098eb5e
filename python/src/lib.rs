//! `procloop._native`: procloop's Rust core for Python (PyO3). The Python
//! package `procloop` re-exports it and builds the Python runner's API
//! (`procloop.compat`) on it.

#![deny(missing_docs)]

mod channel;
mod config;
mod containment;
mod errors;
mod events;
mod exit;
mod runner;
mod turns;

use pyo3::prelude::*;

/// Splits a command the way procloop does (as a POSIX shell splits words,
/// never running a shell); BadCommandError names what is wrong.
#[pyfunction]
fn split_command(py: Python<'_>, command: &str) -> PyResult<Vec<String>> {
    errors::IntoPy::py(procloop::split_command(command), py)
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<runner::PyRunner>()?;
    m.add_class::<channel::PyChannel>()?;
    m.add_class::<containment::TreeUsage>()?;
    m.add_class::<events::Data>()?;
    m.add_class::<events::Stderr>()?;
    m.add_class::<events::Closed>()?;
    m.add_class::<events::Exited>()?;
    m.add_class::<events::Restarted>()?;
    m.add_class::<events::GaveUp>()?;
    m.add_class::<events::Timer>()?;
    m.add_class::<events::Ready>()?;
    m.add_class::<events::StartFailed>()?;
    m.add_class::<events::Usage>()?;
    m.add_class::<turns::Reply>()?;
    m.add_class::<turns::TurnEnded>()?;
    m.add_class::<turns::TurnReport>()?;
    m.add_class::<turns::Outcome>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(split_command, m)?)?;
    exit::install(m)?;
    Ok(())
}
