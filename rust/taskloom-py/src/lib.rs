//! `taskloom._core`: the thin pyo3 layer over `taskloom-core`.
//!
//! Layout: [`convert`] turns the user's dict graph into integer ids and flat
//! arrays (all Python -> Rust conversion happens there), [`eval`] calls user
//! functions, [`exec`] drives the core scheduler on the calling thread and
//! [`pool`]'s worker threads, [`dispatch`] hands the core's ready queue to
//! executors written in Python (worker processes), and [`errors`] builds every
//! exception raised.
//! The Python package wraps these functions with defaults and documentation.

mod convert;
mod delayed;
mod dispatch;
mod errors;
mod eval;
mod exec;
mod hooks;
mod pool;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet};
use std::time::Duration;
use taskloom_core::{fused_successors, NO_TASK};

/// Compute `keys` from the dict graph `dsk` (see `taskloom.get`).
///
/// `num_workers <= 1` runs every task on the calling thread; `hooks` is
/// described in `hooks.rs`; `fuse` runs linear chains as units.
#[pyfunction]
#[pyo3(signature = (dsk, keys, num_workers = 0, hooks = None, fuse = true))]
fn get<'py>(
    py: Python<'py>,
    dsk: &Bound<'py, PyAny>,
    keys: &Bound<'py, PyAny>,
    num_workers: usize,
    hooks: Option<Bound<'py, PyAny>>,
    fuse: bool,
) -> PyResult<Py<PyAny>> {
    let hooks = hooks::Hooks::from_py(hooks)?;
    let (plan, order) = exec::plan(py, convert::convert(dsk, keys)?)?;
    exec::execute(py, &plan, order, num_workers, hooks, fuse)
}

/// A graph converted and ordered once, to run many times (benchmarks measure
/// execution alone this way).
#[pyclass(frozen, module = "taskloom._core")]
struct Compiled {
    plan: exec::Plan,
    order: taskloom_core::Order,
}

#[pymethods]
impl Compiled {
    #[new]
    fn new(py: Python<'_>, dsk: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (plan, order) = exec::plan(py, convert::convert(dsk, keys)?)?;
        Ok(Compiled { plan, order })
    }

    /// Run the graph; same arguments as `get`.
    #[pyo3(signature = (num_workers = 0, hooks = None, fuse = true))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        num_workers: usize,
        hooks: Option<Bound<'py, PyAny>>,
        fuse: bool,
    ) -> PyResult<Py<PyAny>> {
        let hooks = hooks::Hooks::from_py(hooks)?;
        exec::execute(py, &self.plan, self.order.clone(), num_workers, hooks, fuse)
    }

    /// Number of tasks a run executes (after culling).
    fn __len__(&self) -> usize {
        self.order.sequence.len()
    }

    /// The keys a run computes, in execution order (dependencies first).
    fn keys(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let keys = &self.plan.program.keys;
        self.order
            .sequence
            .iter()
            .map(|&t| keys[t as usize].clone_ref(py))
            .collect()
    }

    /// Per needed key, the keys its task reads.
    fn dependencies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let keys = &self.plan.program.keys;
        let out = PyDict::new(py);
        for &t in &self.order.sequence {
            let deps = self.plan.graph.deps(t).iter().map(|&d| &keys[d as usize]);
            out.set_item(&keys[t as usize], PySet::new(py, deps)?)?;
        }
        Ok(out)
    }

    /// The linear chains a run fuses, each as its keys from first to last.
    fn chains(&self, py: Python<'_>) -> Vec<Vec<Py<PyAny>>> {
        let keys = &self.plan.program.keys;
        let next = fused_successors(&self.plan.graph, &self.order, &self.plan.outputs);
        let mut is_successor = vec![false; next.len()];
        for &c in &next {
            if c != NO_TASK {
                is_successor[c as usize] = true;
            }
        }
        let mut chains = Vec::new();
        for &t in &self.order.sequence {
            if is_successor[t as usize] || next[t as usize] == NO_TASK {
                continue;
            }
            let mut chain = vec![keys[t as usize].clone_ref(py)];
            let mut c = next[t as usize];
            while c != NO_TASK {
                chain.push(keys[c as usize].clone_ref(py));
                c = next[c as usize];
            }
            chains.push(chain);
        }
        chains
    }
}

/// Stop idle worker threads; registered with `atexit` by the package.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    pool::shutdown(py, Duration::from_secs(1));
}

/// Forget the parent's worker pool in a forked child (`os.register_at_fork`).
#[pyfunction]
fn _after_fork_in_child() {
    pool::forget_after_fork();
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_class::<hooks::Progress>()?;
    m.add_class::<Compiled>()?;
    m.add_class::<dispatch::Dispatcher>()?;
    m.add_class::<delayed::DelayedBase>()?;
    m.add_function(wrap_pyfunction!(delayed::delayed_call, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::graph_of, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::unique_key, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::unique_token, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::_seed_unique, m)?)?;
    m.add("CycleError", m.py().get_type::<errors::CycleError>())?;
    Ok(())
}
