//! Every error the binding raises is made here, so messages stay consistent
//! and the core's error types map to Python exceptions in one place.

use pyo3::exceptions::{PyKeyError, PyRecursionError, PyRuntimeError, PyTypeError};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use taskloom_core::{Cycle, GraphError};

pyo3::create_exception!(
    taskloom,
    CycleError,
    PyRuntimeError,
    "The task graph has a cycle: a task depends, through other tasks, on itself."
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

pub fn missing_key(key: &Bound<'_, PyAny>) -> PyErr {
    PyKeyError::new_err(key.clone().unbind())
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

/// Attach the failing task's key to a user exception, keeping its type and traceback.
pub fn annotate(py: Python<'_>, err: PyErr, key: &Py<PyAny>) -> PyErr {
    let note = format!(
        "taskloom: raised while computing key {}",
        repr(key.bind(py))
    );
    // add_note only fails on exotic exception objects; the original error matters more.
    let _ = err.add_note(py, note);
    err
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

/// Errors after which the caller must return at once rather than wait for running tasks.
pub fn is_interrupt(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
        || err.is_instance_of::<pyo3::exceptions::PySystemExit>(py)
}
