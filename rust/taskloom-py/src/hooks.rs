//! Diagnostics hooks: what the executor reports while it runs, when asked.
//!
//! Policy: with no hooks object (the default) the executor pays one predictable
//! branch per task and nothing else. A hooks object (built by
//! `taskloom.diagnostics`) may carry any of: `pretask(key)` and
//! `posttask(key, result, worker_id)` callables, called on the calling thread
//! (for offloaded tasks, at dispatch and when the result comes back); a
//! [`Progress`] whose counters a progress-bar thread can read without the
//! executor calling into Python; and `profile = True`, which records each
//! task's start, end and worker in Rust and hands them back at the end as
//! `hooks.records`, a list of `(key, start, end, worker_id)` in
//! `time.perf_counter()` seconds. `start_state()`, if given, is called once
//! the graph is converted and ordered (so `progress.total` is known), before
//! the first task.

use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Live counters of one computation, readable from any thread.
#[pyclass(module = "taskloom._core", frozen)]
#[derive(Default)]
pub struct Progress {
    total: AtomicUsize,
    finished: AtomicUsize,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress::default()
    }

    /// Tasks the computation runs (after culling); 0 until it starts.
    #[getter]
    fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Tasks finished so far.
    #[getter]
    fn finished(&self) -> usize {
        self.finished.load(Ordering::Relaxed)
    }

    fn __repr__(&self) -> String {
        format!(
            "Progress(finished={}, total={})",
            self.finished(),
            self.total()
        )
    }
}

pub struct Hooks<'py> {
    obj: Bound<'py, PyAny>,
    start_state: Option<Bound<'py, PyAny>>,
    pretask: Option<Bound<'py, PyAny>>,
    posttask: Option<Bound<'py, PyAny>>,
    progress: Option<Bound<'py, Progress>>,
    records: Option<Vec<(u32, Instant, Instant, u32)>>,
    epoch: (Instant, f64),
}

fn optional<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr_opt(name)? {
        Some(v) if !v.is_none() => Ok(Some(v)),
        _ => Ok(None),
    }
}

impl<'py> Hooks<'py> {
    pub fn from_py(obj: Option<Bound<'py, PyAny>>) -> PyResult<Option<Self>> {
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(None);
        };
        let py = obj.py();
        let progress = match optional(&obj, "progress")? {
            Some(p) => Some(p.cast_into::<Progress>().map_err(PyErr::from)?),
            None => None,
        };
        let profile = optional(&obj, "profile")?.map_or(Ok(false), |p| p.is_truthy())?;
        let now: f64 = py.import("time")?.call_method0("perf_counter")?.extract()?;
        Ok(Some(Hooks {
            start_state: optional(&obj, "start_state")?,
            pretask: optional(&obj, "pretask")?,
            posttask: optional(&obj, "posttask")?,
            progress,
            records: profile.then(Vec::new),
            epoch: (Instant::now(), now),
            obj,
        }))
    }

    pub fn start(&self, total: usize) -> PyResult<()> {
        if let Some(p) = &self.progress {
            p.get().total.store(total, Ordering::Relaxed);
        }
        if let Some(f) = &self.start_state {
            f.call0()?;
        }
        Ok(())
    }

    pub fn pretask(&self, key: &Py<PyAny>) -> PyResult<()> {
        if let Some(f) = &self.pretask {
            f.call1((key,))?;
        }
        Ok(())
    }

    pub fn posttask(
        &mut self,
        task: u32,
        key: &Py<PyAny>,
        result: &Py<PyAny>,
        span: (Instant, Instant),
        worker: u32,
    ) -> PyResult<()> {
        if let Some(p) = &self.progress {
            p.get().finished.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(r) = &mut self.records {
            r.push((task, span.0, span.1, worker));
        }
        if let Some(f) = &self.posttask {
            f.call1((key, result, worker))?;
        }
        Ok(())
    }

    /// Hand the profile records back as `hooks.records`.
    pub fn finish(self, keys: &[Py<PyAny>]) -> PyResult<()> {
        let Some(records) = self.records else {
            return Ok(());
        };
        let py = self.obj.py();
        let (epoch, base) = self.epoch;
        let seconds = |t: Instant| base + t.saturating_duration_since(epoch).as_secs_f64();
        let rows = PyList::empty(py);
        for (task, start, end, worker) in records {
            rows.append((&keys[task as usize], seconds(start), seconds(end), worker))?;
        }
        self.obj.setattr("records", rows)
    }
}
