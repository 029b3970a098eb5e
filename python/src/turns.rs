//! Turns for Python: a turn from a dict of payloads, the numbers Python
//! knows turns by (with each turn's replies, which its report carries), and
//! the classes `Reply`, `TurnEnded`, `TurnReport` and `Outcome`.

use std::collections::HashMap;
use std::time::Duration;

use procloop::{Charge, Outcome as RustOutcome, Turn, TurnId, TurnReport as RustReport};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyMapping, PyString};

use crate::config;
use crate::errors::config_error;

/// A turn from ``begin_turn``'s arguments; the Rust side checks the rest
/// (no bot, a zero deadline, an alias not taken) before writing anything.
pub(crate) fn turn_of(
    py: Python<'_>,
    bots: &Bound<'_, PyAny>,
    deadline: f64,
    charge: &str,
    freeze_between: bool,
) -> PyResult<Turn> {
    let charge = match charge {
        "wall" => Charge::Wall,
        "cpu" => Charge::Cpu,
        other => return Err(config_error(py, format!("charge: {other:?} is neither \"wall\" nor \"cpu\""))),
    };
    let mut turn =
        Turn::new(config::seconds(py, deadline, "deadline")?).charge(charge).freeze_between(freeze_between);
    let kind = |v: &Bound<'_, PyAny>| v.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string());
    let bots = bots.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!("bots: a mapping of alias to bytes, not {}", kind(bots)))
    })?;
    for item in bots.items()?.iter() {
        let (alias, payload): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let alias: String = alias
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("bots: an alias is a str, not {}", kind(&alias))))?;
        let payload: PyBackedBytes = payload.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "bots[{alias:?}]: a payload is bytes or bytearray, not {}",
                kind(&payload)
            ))
        })?;
        turn = turn.bot(&alias, payload.to_vec());
    }
    Ok(turn)
}

/// The numbers Python knows turns by, and the replies of each unfinished
/// turn (its report hands them over).
#[derive(Default)]
pub(crate) struct TurnBook {
    numbers: HashMap<TurnId, u64>,
    replies: HashMap<TurnId, Vec<(String, Vec<u8>)>>,
    next: u64,
}

impl TurnBook {
    /// A turn has begun: its number.
    pub(crate) fn begin(&mut self, id: TurnId) -> u64 {
        self.next += 1;
        self.numbers.insert(id, self.next);
        self.replies.insert(id, Vec::new());
        self.next
    }

    /// The number of a turn that has not ended.
    fn number(&self, id: TurnId) -> u64 {
        self.numbers.get(&id).copied().unwrap_or(u64::MAX)
    }

    /// A bot of `id` replied.
    fn reply(&mut self, id: TurnId, alias: &str, data: &[u8]) -> u64 {
        if let Some(replies) = self.replies.get_mut(&id) {
            replies.push((alias.to_string(), data.to_vec()));
        }
        self.number(id)
    }

    /// The turn ended: its number and replies, forgotten here.
    fn end(&mut self, id: TurnId) -> (u64, Vec<(String, Vec<u8>)>) {
        let number = self.numbers.remove(&id).unwrap_or(u64::MAX);
        (number, self.replies.remove(&id).unwrap_or_default())
    }
}

/// A bot's first reply in a turn (its first line in line mode); later
/// output of the same turn comes as ``Data``.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct Reply {
    /// The turn (what ``begin_turn`` returned).
    turn: u64,
    /// The bot.
    alias: Py<PyString>,
    /// The reply.
    data: Py<PyBytes>,
    /// Seconds charged: wall time, or CPU time under ``charge="cpu"``.
    elapsed: f64,
}

/// Every bot of a turn has an outcome; ``report`` says which.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct TurnEnded {
    /// The turn (what ``begin_turn`` returned).
    turn: u64,
    /// Each bot's outcome and reply.
    report: Py<TurnReport>,
}

/// What a finished turn gave.
#[pyclass(module = "procloop._native", frozen, get_all)]
pub(crate) struct TurnReport {
    /// Each bot's ``Outcome``, in the order the turn named them.
    outcomes: Py<PyDict>,
    /// Each bot's reply (the data of its ``Reply``), for the bots that replied in time.
    replies: Py<PyDict>,
    /// Seconds: the most any reply sat readable before the loop handed it
    /// over; the harness's own delay, not charged to any bot.
    harness_delay: f64,
}

/// How one bot's turn went: ``kind`` is ``"replied"`` (then ``elapsed``,
/// the seconds charged, and under ``charge="cpu"`` ``cpu``, its CPU seconds
/// in the turn where they can be read; None under ``charge="wall"``), ``"timed_out"`` (its bank is now empty) or ``"exited"``
/// (it ended, or was stopped, before replying).
#[pyclass(module = "procloop._native", frozen, eq, get_all)]
#[derive(PartialEq)]
pub(crate) struct Outcome {
    /// ``"replied"``, ``"timed_out"`` or ``"exited"``.
    kind: &'static str,
    /// Seconds charged, for ``"replied"``; else None.
    elapsed: Option<f64>,
    /// CPU seconds in the turn, for ``"replied"`` under ``charge="cpu"`` where
    /// they can be read; else None (no CPU clock is read under ``"wall"``).
    cpu: Option<f64>,
}

impl Outcome {
    fn of(outcome: RustOutcome) -> Outcome {
        let secs = Duration::as_secs_f64;
        match outcome {
            RustOutcome::Replied { elapsed, cpu } => {
                Outcome { kind: "replied", elapsed: Some(secs(&elapsed)), cpu: cpu.as_ref().map(secs) }
            }
            RustOutcome::TimedOut => Outcome { kind: "timed_out", elapsed: None, cpu: None },
            _ => Outcome { kind: "exited", elapsed: None, cpu: None },
        }
    }
}

#[pymethods]
impl Outcome {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("kind", "elapsed", "cpu")
    }

    /// Whether the bot replied in time.
    #[getter]
    fn replied(&self) -> bool {
        self.kind == "replied"
    }

    fn __repr__(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("None".to_string(), |v| format!("{v:?}"));
        format!("Outcome(kind={:?}, elapsed={}, cpu={})", self.kind, opt(self.elapsed), opt(self.cpu))
    }
}

#[pymethods]
impl TurnReport {
    /// The ``Outcome`` of ``alias``; None if it was not in the turn.
    fn outcome<'py>(&self, py: Python<'py>, alias: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.outcomes.bind(py).get_item(alias)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let outcomes = self.outcomes.bind(py).repr()?;
        Ok(format!("TurnReport(outcomes={outcomes}, harness_delay={:?})", self.harness_delay))
    }
}

#[pymethods]
impl Reply {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("turn", "alias", "data", "elapsed")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = self.data.bind(py).repr()?;
        let alias = self.alias.bind(py).to_string();
        Ok(format!("Reply(turn={}, alias={alias:?}, data={data}, elapsed={:?})", self.turn, self.elapsed))
    }
}

#[pymethods]
impl TurnEnded {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("turn", "report")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("TurnEnded(turn={}, report={})", self.turn, self.report.bind(py).repr()?))
    }
}

/// The Python object of a reply.
pub(crate) fn reply(
    py: Python<'_>,
    book: &mut TurnBook,
    id: TurnId,
    alias: &str,
    data: &[u8],
    elapsed: Duration,
) -> PyResult<Py<PyAny>> {
    let turn = book.reply(id, alias, data);
    let reply = Reply {
        turn,
        alias: PyString::new(py, alias).unbind(),
        data: PyBytes::new(py, data).unbind(),
        elapsed: elapsed.as_secs_f64(),
    };
    Ok(Py::new(py, reply)?.into_any())
}

/// The Python object of a turn's end.
pub(crate) fn ended(
    py: Python<'_>,
    book: &mut TurnBook,
    id: TurnId,
    report: &RustReport,
) -> PyResult<Py<PyAny>> {
    let (turn, replied) = book.end(id);
    let outcomes = PyDict::new(py);
    for (alias, outcome) in report.iter() {
        outcomes.set_item(alias, Outcome::of(outcome))?;
    }
    let replies = PyDict::new(py);
    for (alias, data) in replied {
        replies.set_item(alias, PyBytes::new(py, &data))?;
    }
    let report = TurnReport {
        outcomes: outcomes.unbind(),
        replies: replies.unbind(),
        harness_delay: report.harness_delay().as_secs_f64(),
    };
    Ok(Py::new(py, TurnEnded { turn, report: Py::new(py, report)? })?.into_any())
}
