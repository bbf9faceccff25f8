//! `Dispatcher`: the core's ready queue, driven from Python by executors whose
//! tasks run somewhere this process cannot call directly (worker processes).
//!
//! The graph is converted, culled and ordered exactly as for `get`; the
//! dispatcher then owns the core [`Scheduler`] and answers, per task id: its key,
//! the ids it reads, which task is fused after it (so an executor can send a
//! whole chain in one message), which task to start next (depth-first priority
//! order, as in-process), and, when a task finishes, which results nobody reads
//! any more. Task bodies never cross this boundary: the executor reads them from
//! its own graph by key.
//!
//! Python code drives it, so every call is validated: the core's
//! [`CheckedScheduler`] refuses a task finished twice, before it was handed
//! out, or that the outputs do not need, naming its key, and leaves the state
//! as it was. The keys it holds are reported to the cyclic GC.

use crate::convert::{convert, shape_results, Shape};
use crate::errors;
use crate::exec::{plan, Plan};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::cell::Cell;
use taskloom_core::{CheckedScheduler, Graph, TaskId};

#[pyclass(module = "taskloom._core", unsendable)]
pub struct Dispatcher {
    sched: CheckedScheduler<Box<Graph>>,
    keys: Vec<Py<PyAny>>,
    outputs: Vec<TaskId>,
    shape: Vec<Shape>,
    needed: usize,
}

impl Dispatcher {
    fn check(&self, t: TaskId) -> PyResult<usize> {
        let i = t as usize;
        if i < self.keys.len() {
            Ok(i)
        } else {
            Err(PyIndexError::new_err(format!("no task {t} in this graph")))
        }
    }
}

#[pymethods]
impl Dispatcher {
    /// Convert and order `dsk` for computing `keys`; `fuse` reports linear
    /// chains; `priorities` (key -> number) picks among ready tasks, highest first.
    #[new]
    #[pyo3(signature = (dsk, keys, fuse = true, priorities = None))]
    fn new(
        py: Python<'_>,
        dsk: &Bound<'_, PyAny>,
        keys: &Bound<'_, PyAny>,
        fuse: bool,
        priorities: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (plan, order) = plan(py, convert(dsk, keys, None)?, priorities.as_ref())?;
        let Plan {
            program,
            graph,
            outputs,
            shape,
            ..
        } = plan;
        let needed = order.sequence.len();
        let keys = program.keys.iter().map(|k| k.clone_ref(py)).collect();
        let sched = CheckedScheduler::new(Box::new(graph), order, &outputs, fuse);
        Ok(Dispatcher {
            sched,
            keys,
            outputs,
            shape,
            needed,
        })
    }

    /// Number of tasks the computation runs (after culling).
    fn __len__(&self) -> usize {
        self.needed
    }

    /// The requested tasks (their results are never released).
    fn outputs(&self) -> Vec<TaskId> {
        self.outputs.clone()
    }

    /// The key of task `t`.
    fn key(&self, py: Python<'_>, t: TaskId) -> PyResult<Py<PyAny>> {
        Ok(self.keys[self.check(t)?].clone_ref(py))
    }

    /// The tasks whose results task `t` reads.
    fn dependencies(&self, t: TaskId) -> PyResult<Vec<TaskId>> {
        self.check(t)?;
        Ok(self.sched.graph().deps(t).to_vec())
    }

    /// The task fused after `t` (it reads only `t`, and only it reads `t`), if any.
    fn continuation(&self, t: TaskId) -> PyResult<Option<TaskId>> {
        self.check(t)?;
        Ok(self.sched.continuation(t))
    }

    /// The next task to start, if one is ready.
    fn pop(&mut self) -> Option<TaskId> {
        self.sched.pop()
    }

    /// Record that `t` finished: returns the task fused after it (now ready; it
    /// is not queued, the caller runs it next) and the tasks whose results no
    /// remaining task reads, which the caller may drop.
    fn finish(&mut self, py: Python<'_>, t: TaskId) -> PyResult<(Option<TaskId>, Vec<TaskId>)> {
        let mut released = Vec::new();
        let next = self
            .sched
            .finish(t, |d| released.push(d))
            .map_err(|e| errors::schedule(py, &self.keys, e))?;
        Ok((next, released))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for k in &self.keys {
            visit.call(k)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.keys.clear();
    }

    /// True once every needed task has finished.
    fn is_done(&self) -> bool {
        self.sched.is_done()
    }

    /// The requested results, in the shape the keys were given in, from a dict
    /// mapping task ids to results.
    fn gather(&self, py: Python<'_>, results: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let missing = Cell::new(None);
        let out = shape_results(py, &self.shape, |t| match results.get_item(t) {
            Ok(Some(v)) => v.unbind(),
            _ => {
                missing.set(missing.get().or(Some(t)));
                py.None()
            }
        })?;
        match missing.get() {
            None => Ok(out),
            Some(t) => Err(PyIndexError::new_err(format!(
                "no result for task {t} ({})",
                self.keys[t as usize].bind(py).repr()?
            ))),
        }
    }
}
