//! The Runners this process uses, known weakly: an `atexit` hook ends
//! them (also one the interpreter would never drop: a daemon thread inside
//! a function of the module that holds the Runner keeps that module's
//! globals alive past exit), and after `os.fork()` the child knows each of
//! them as a forked copy, even one a thread of the parent was inside.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::runner::PyRunner;

/// This process's own Runners in use: a `weakref.WeakSet`, so that it
/// keeps none of them alive.
static OWN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// Forked copies: a `weakref.WeakKeyDictionary` of each to its owner's pid.
static COPIES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn weak<'py>(
    py: Python<'py>,
    cell: &'py PyOnceLock<Py<PyAny>>,
    class: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    let made =
        cell.get_or_try_init(py, || Ok::<_, PyErr>(py.import("weakref")?.getattr(class)?.call0()?.unbind()))?;
    Ok(made.bind(py))
}

fn own(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    weak(py, &OWN, "WeakSet")
}

fn copies(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    weak(py, &COPIES, "WeakKeyDictionary")
}

/// Remembers `runner`, one of this process's own, until it is dropped.
pub(crate) fn remember(runner: &Bound<'_, PyRunner>) -> PyResult<()> {
    own(runner.py())?.call_method1("add", (runner,))?;
    Ok(())
}

/// The pid of the process that made `runner` if it is a forked copy that
/// was in use there.
pub(crate) fn copy_owner(runner: &Bound<'_, PyRunner>) -> Option<u32> {
    let owner = copies(runner.py()).ok()?.call_method1("get", (runner,)).ok()?;
    owner.extract().ok()
}

/// The exit hook: ends the children of every own Runner still there, as
/// `terminate_all` does; skips one that a daemon thread is using now.
#[pyfunction]
fn end_every_runner(py: Python<'_>) -> PyResult<()> {
    let runners: Vec<Bound<'_, PyAny>> =
        own(py)?.call_method0("copy")?.try_iter()?.collect::<PyResult<_>>()?;
    for runner in runners {
        if let Ok(runner) = runner.cast::<PyRunner>() {
            PyRunner::end_at_exit(runner);
        }
    }
    Ok(())
}

/// The fork hook, in the child: every Runner the parent used is a copy.
#[pyfunction]
fn forked(py: Python<'_>) -> PyResult<()> {
    let parent = py.import("os")?.call_method0("getppid")?;
    let (own, copies) = (own(py)?, copies(py)?);
    for runner in own.call_method0("copy")?.try_iter()? {
        copies.set_item(runner?, &parent)?;
    }
    own.call_method0("clear")?;
    Ok(())
}

/// Registers the hooks with `atexit` and `os.register_at_fork`.
pub(crate) fn install(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    py.import("atexit")?.call_method1("register", (wrap_pyfunction!(end_every_runner, module)?,))?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", wrap_pyfunction!(forked, module)?)?;
    py.import("os")?.call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}
