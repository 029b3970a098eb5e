//! Children ended at interpreter exit: an `atexit` hook ends every Runner
//! that started a child, also one the interpreter would never drop (a
//! daemon thread inside a function of the module that holds the Runner
//! keeps that module's globals alive past exit).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::runner::PyRunner;

/// The Runners that started a child: a `weakref.WeakSet`, so that it keeps
/// none of them alive.
static LIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn live(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    let set = LIVE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("weakref")?.getattr("WeakSet")?.call0()?.unbind())
    })?;
    Ok(set.bind(py))
}

/// Remembers `runner` until it is dropped, to be ended at exit.
pub(crate) fn remember(runner: &Bound<'_, PyRunner>) -> PyResult<()> {
    live(runner.py())?.call_method1("add", (runner,))?;
    Ok(())
}

/// The hook: ends the children of every Runner still there, as
/// `terminate_all` does; skips one that a daemon thread is using now.
#[pyfunction]
fn end_every_runner(py: Python<'_>) -> PyResult<()> {
    let runners: Vec<Bound<'_, PyAny>> =
        live(py)?.call_method0("copy")?.try_iter()?.collect::<PyResult<_>>()?;
    for runner in runners {
        if let Ok(runner) = runner.cast::<PyRunner>() {
            PyRunner::end_at_exit(runner);
        }
    }
    Ok(())
}

/// Registers the hook with `atexit`.
pub(crate) fn install(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(end_every_runner, module)?;
    module.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
