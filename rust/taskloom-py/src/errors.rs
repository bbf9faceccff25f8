//! Every error the binding raises is made here, so messages stay consistent
//! and the core's error types map to Python exceptions in one place.

use pyo3::exceptions::{PyKeyError, PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use std::sync::atomic::{AtomicU64, Ordering};
use taskloom_core::{Cycle, GraphError, ScheduleError};

pyo3::create_exception!(
    taskloom,
    CycleError,
    PyRuntimeError,
    "The task graph has a cycle: a task depends, through other tasks, on itself."
);

pyo3::create_exception!(
    taskloom,
    ForeignGraph,
    pyo3::exceptions::PyException,
    "The graph holds another library's graph nodes (Dask's): the caller lowers it and \
     converts again. A signal between taskloom's layers, never shown to users."
);

fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unrepresentable key>".to_owned())
}

/// The cycle's keys, in dependency order, closing on the first.
pub fn cycle(py: Python<'_>, keys: &[Py<PyAny>], cycle: &Cycle) -> PyErr {
    let mut names: Vec<String> = cycle
        .path
        .iter()
        .map(|&t| repr(keys[t as usize].bind(py)))
        .collect();
    names.push(names[0].clone());
    CycleError::new_err(format!(
        "Cycle detected between the following keys: {} (each depends on the next)",
        names.join(" -> ")
    ))
}

pub fn graph(err: GraphError) -> PyErr {
    PyRuntimeError::new_err(format!("taskloom internal error: {err}"))
}

pub fn bad_priority(key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "the priority of key {} must be a number (not NaN), got {}",
        repr(key),
        repr(value)
    ))
}

pub fn missing_key(key: &Bound<'_, PyAny>) -> PyErr {
    PyKeyError::new_err(key.clone().unbind())
}

pub fn unhashable_graph_key(key: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "key {} of the graph is not hashable now: its __hash__ raised TypeError",
        repr(key)
    ))
}

pub fn unhashable_key(key: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "requested key {} is not hashable: keys are str, int, float or tuples of them",
        repr(key)
    ))
}

pub fn graph_changed() -> PyErr {
    PyRuntimeError::new_err(
        "the task graph dict changed while taskloom was reading it \
         (a key's __eq__ or __hash__ added or removed keys)",
    )
}

pub fn not_a_dict(dsk: &Bound<'_, PyAny>) -> PyErr {
    let ty = dsk
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    PyTypeError::new_err(format!(
        "the task graph must be a dict mapping keys to tasks, got {ty}"
    ))
}

pub fn too_deep(key: &Bound<'_, PyAny>, limit: usize) -> PyErr {
    PyRecursionError::new_err(format!(
        "the value of key {} nests tasks or containers more than {limit} levels deep",
        repr(key)
    ))
}

pub fn too_deep_keys(limit: usize) -> PyErr {
    PyRecursionError::new_err(format!(
        "the requested keys nest lists more than {limit} levels deep"
    ))
}

/// What every note taskloom adds to a task's exception starts with.
const NOTE_PREFIX: &str = "taskloom: raised while computing key ";
/// The exception attribute holding the serial number of the `get` whose note it carries.
const NOTE_GET: &str = "__taskloom_get__";

static GET_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A number for one run of a graph, larger than every earlier run's.
pub fn next_get_serial() -> u64 {
    GET_SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Attach the failing task's key to a user exception, keeping its type and
/// traceback: exactly one taskloom note, naming the key that raised.
///
/// An exception object can pass through several gets: a nested get's task
/// raised it (its note names the innermost key, and is kept: that get started
/// after this one, `get` being its serial number), or the same object was
/// raised by an earlier get (its note is stale and replaced). Notes are kept
/// in `__notes__` directly, which is what `add_note` does on Python 3.11+ and
/// works the same on 3.10.
pub fn annotate(py: Python<'_>, err: PyErr, key: &Py<PyAny>, get: u64) -> PyErr {
    // Only fails on exotic exception objects; the original error matters more.
    let _ = note_once(py, &err, key, get);
    err
}

fn note_once(py: Python<'_>, err: &PyErr, key: &Py<PyAny>, get: u64) -> PyResult<()> {
    let exc = err.value(py);
    if let Some(by) = exc.getattr_opt(NOTE_GET)? {
        if by.extract::<u64>().is_ok_and(|by| by > get) {
            return Ok(());
        }
    }
    let notes = match exc.getattr_opt("__notes__")? {
        Some(n) => n.cast_into::<PyList>()?,
        None => {
            let n = PyList::empty(py);
            exc.setattr("__notes__", &n)?;
            n
        }
    };
    let mut i = 0;
    while i < notes.len() {
        let stale = notes
            .get_item(i)?
            .cast::<PyString>()
            .is_ok_and(|s| s.to_str().is_ok_and(|s| s.starts_with(NOTE_PREFIX)));
        if stale {
            notes.del_item(i)?;
        } else {
            i += 1;
        }
    }
    notes.append(format!("{NOTE_PREFIX}{}", repr(key.bind(py))))?;
    exc.setattr(NOTE_GET, get)
}

/// A Rust panic caught on a worker thread, as the exception pyo3 raises for panics.
pub fn panic(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned());
    PanicException::new_err(format!("taskloom worker panicked: {msg}"))
}

/// Errors after which the caller must return at once rather than wait for
/// running tasks: Ctrl-C, `sys.exit`, and exit stopping the run.
pub fn is_interrupt(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
        || err.is_instance_of::<pyo3::exceptions::PySystemExit>(py)
        || crate::lifecycle::must_stop()
}

/// A misuse of `Dispatcher` (a task finished twice, or before it was handed out).
pub fn schedule(py: Python<'_>, keys: &[Py<PyAny>], err: ScheduleError) -> PyErr {
    let key = keys
        .get(err.task() as usize)
        .map(|k| format!(" (key {})", repr(k.bind(py))))
        .unwrap_or_default();
    PyValueError::new_err(format!("{err}{key}"))
}
