//! Containment for Python: the ``cgroups`` a Runner is made with (a cgroup
//! per child, or a process group per child), what the Runner got, and
//! ``TreeUsage``, what a child's whole tree has used.

use std::path::PathBuf;

use procloop::{Cgroups, Containment, Runner};
use pyo3::prelude::*;

use crate::errors::{IntoPy, config_error};

/// A Runner whose children are held as `cgroups` says (``"off"``,
/// ``"preferred"``, ``"required"``), with `extra_paths` appended to PATH.
pub(crate) fn runner(py: Python<'_>, extra_paths: Option<Vec<PathBuf>>, cgroups: &str) -> PyResult<Runner> {
    let mode = match cgroups {
        "off" => Cgroups::Off,
        "preferred" => Cgroups::Preferred,
        "required" => Cgroups::Required,
        other => {
            let wanted = "one of \"off\", \"preferred\", \"required\"";
            return Err(config_error(py, format!("cgroups: {other:?} is not {wanted}")));
        }
    };
    match extra_paths {
        Some(paths) => Runner::with_cgroups_and_extra_paths(mode, paths),
        None => Runner::with_cgroups(mode),
    }
    .py(py)
}

/// What ``Runner.containment()`` returns: the kind, and the Runner's
/// cgroup directory for ``"cgroup"``.
pub(crate) fn describe(containment: Containment) -> (&'static str, Option<PathBuf>) {
    match containment {
        Containment::Cgroup { path } => ("cgroup", Some(path)),
        Containment::ProcessGroup => ("process_group", None),
        _ => ("none", None),
    }
}

/// What a child's whole tree has used, from its cgroup (``Runner.tree_usage``):
/// every process it ever ran, those that ended included.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct TreeUsage {
    /// Seconds of CPU time in user mode.
    user: f64,
    /// Seconds of CPU time in the kernel on its behalf.
    system: f64,
    /// The tree's memory peak in bytes; None where the memory controller is off.
    memory_peak: Option<u64>,
    /// Processes and threads in the tree now.
    tasks: u64,
}

impl TreeUsage {
    pub(crate) fn of(usage: procloop::TreeUsage) -> TreeUsage {
        TreeUsage {
            user: usage.user.as_secs_f64(),
            system: usage.system.as_secs_f64(),
            memory_peak: usage.memory_peak,
            tasks: usage.tasks,
        }
    }
}

#[pymethods]
impl TreeUsage {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("user", "system", "memory_peak", "tasks")
    }

    /// User and system CPU time together, in seconds.
    #[getter]
    fn cpu_time(&self) -> f64 {
        self.user + self.system
    }

    fn __repr__(&self) -> String {
        let peak = self.memory_peak.map_or("None".to_string(), |p| p.to_string());
        format!(
            "TreeUsage(user={:?}, system={:?}, memory_peak={peak}, tasks={})",
            self.user, self.system, self.tasks
        )
    }
}
